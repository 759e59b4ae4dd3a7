// config_updates_without_affect: a change to config.json after create does not affect the container.
package main

import (
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo original > /ran"})
	r := util.NewContainer(t, "config_updates", g)
	if r == nil {
		return
	}
	defer r.Clean()
	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo updated > /ran"})
	if err := r.SetConfig(g); !t.Check(err, "rewrite config.json after create") {
		return
	}
	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	util.WaitFile(r.RootfsFile("ran"), 10*time.Second)
	got := r.ReadRootfsFile("ran")
	t.Spec(got == "original\n", specerror.ConfigUpdatesWithoutAffect, "the process that ran is the one of create time (got "+got+")")
}
