// process_capabilities: a reduced capability set (bounding/effective/permitted: CHOWN and KILL; inheritable and
// ambient empty); runtimetest compares /proc/self/status with the config.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.ClearProcessCapabilities()
	for _, c := range []string{"CAP_CHOWN", "CAP_KILL"} {
		if err := g.AddProcessCapabilityBounding(c); err != nil {
			util.Fatal(err)
		}
		_ = g.AddProcessCapabilityEffective(c)
		_ = g.AddProcessCapabilityPermitted(c)
	}
	util.RunInside(t, "process_capabilities", g, util.Steps{})
}
