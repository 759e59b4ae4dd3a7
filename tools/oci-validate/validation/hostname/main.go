// hostname: a new UTS namespace with the config's hostname.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetHostname("capvisor-validate")
	util.RunInside(t, "hostname", g, util.Steps{})
}
