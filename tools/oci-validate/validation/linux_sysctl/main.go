// linux_sysctl: namespaced sysctls (network and ipc) set from linux.sysctl.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.AddLinuxSysctl("net.ipv4.ip_forward", "1")
	g.AddLinuxSysctl("kernel.msgmax", "16384")
	util.RunInside(t, "linux_sysctl", g, util.Steps{})
}
