// process: a non-root user with additional groups, a cwd, extra env, umask, rlimits, noNewPrivileges and
// oomScoreAdj; runtimetest checks each from inside.
package main

import "capvisor.dev/ocivalidate/util"

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/runtimetest", "--config=/config.json"})
	g.SetProcessUID(1000)
	g.SetProcessGID(1000)
	g.AddProcessAdditionalGid(5)
	g.AddProcessAdditionalGid(6)
	g.SetProcessCwd("/tmp")
	g.AddProcessEnv("CAPVISOR_TEST", "with spaces = and more")
	g.SetProcessUmask(0o027)
	g.SetProcessNoNewPrivileges(true)
	g.SetProcessOOMScoreAdj(200)
	g.AddProcessRlimits("RLIMIT_NOFILE", 512, 512)
	g.AddProcessRlimits("RLIMIT_MSGQUEUE", 200000, 100000)
	g.AddProcessRlimits("RLIMIT_CORE", 0, 0)
	util.RunInside(t, "process", g, util.Steps{})
}
