// default: runtime-tools' default Linux config (namespaces pid/net/ipc/uts/mnt, the standard mounts, capabilities,
// RLIMIT_NOFILE, hostname), runtimetest checks it from inside.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	util.RunInside(t, "default", util.DefaultGenerator(), util.Steps{})
}
