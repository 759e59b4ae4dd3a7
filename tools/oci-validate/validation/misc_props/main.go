// misc_props: root.readonly true — writes to / fail with EROFS, and the container still starts.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetRootReadonly(true)
	util.RunInside(t, "misc_props", g, util.Steps{})
}
