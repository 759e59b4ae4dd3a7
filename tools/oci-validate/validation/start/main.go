// start: start needs an ID, fails on an unknown one, runs process.args once, and a second start of a container that
// is no longer "created" fails and has no effect.
package main

import (
	"strings"
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo started >> /started"})
	r := util.NewContainer(t, "start", g)
	if r == nil {
		return
	}
	defer r.Clean()

	_, _, err := util.Command("start")
	t.Spec(err != nil, specerror.StartWithoutIDGenError, "start without an ID fails")
	_, _, err = util.Command("start", "ocivalidate-does-not-exist")
	t.Spec(err != nil, specerror.StartNotCreatedGenError, "start of an unknown ID fails")

	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	t.Spec(r.Start() == nil, specerror.StartProcImplement, "start of a created container succeeds")
	t.Spec(util.WaitFile(r.RootfsFile("started"), 10*time.Second), specerror.StartProcImplement, "the process ran")
	_, err = r.WaitState("stopped", 10*time.Second)
	t.Check(err, "the container is \"stopped\" after its process exited")

	err = r.Start()
	t.Spec(err != nil, specerror.StartNotCreatedGenError, "start of a stopped container fails")
	time.Sleep(300 * time.Millisecond)
	t.Spec(strings.Count(r.ReadRootfsFile("started"), "started") == 1, specerror.StartNotCreatedHaveNoEffect,
		"the second start did not run the process again")
}
