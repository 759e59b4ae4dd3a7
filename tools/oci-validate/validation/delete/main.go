// delete: delete needs an ID; deleting a running container fails and has no effect; deleting a stopped one removes
// it (state fails, list does not show it, its processes are gone).
package main

import (
	"fmt"
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	r := util.NewContainer(t, "delete", g)
	if r == nil {
		return
	}
	defer r.Clean()

	_, _, err := util.Command("delete")
	t.Spec(err != nil, specerror.DeleteWithoutIDGenError, "delete without an ID fails")
	_, _, err = util.Command("delete", "ocivalidate-does-not-exist")
	t.Ok(err != nil, "delete of an unknown ID fails")

	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	st, err := r.WaitState("running", 10*time.Second)
	if !t.Check(err, "running") {
		return
	}
	pid := st.Pid
	err = r.Delete()
	t.Spec(err != nil, specerror.DeleteNonStopGenError, "delete of a running container fails")
	st, err = r.State()
	t.Spec(err == nil && st.Status == "running" && util.ProcessAlive(pid), specerror.DeleteNonStopHaveNoEffect,
		"and leaves it running")

	if err := r.Kill("KILL"); !t.Check(err, "kill KILL") {
		return
	}
	if _, err := r.WaitState("stopped", 10*time.Second); !t.Check(err, "stopped") {
		return
	}
	t.Spec(r.Delete() == nil, specerror.DeleteResImplement, "delete of a stopped container succeeds")
	_, err = r.State()
	t.Spec(err != nil, specerror.DeleteResImplement, "state after delete fails")
	ids, err := util.ListIDs()
	found := false
	for _, id := range ids {
		found = found || id == r.ID
	}
	t.Ok(err == nil && !found, fmt.Sprintf("list does not show the deleted container (%v)", err))
	t.Spec(!util.ProcessAlive(pid), specerror.DeleteResImplement, fmt.Sprintf("the container's process %d is gone", pid))
	_, _, err = util.Command("delete", r.ID)
	t.Ok(err != nil, "a second delete fails")

	// delete --force removes a running container.
	r2 := util.NewContainer(t, "delete-force", g)
	if r2 == nil {
		return
	}
	defer r2.Clean()
	if err := r2.Create(); !t.Check(err, "create a second container") {
		return
	}
	if err := r2.Start(); !t.Check(err, "start it") {
		return
	}
	st, err = r2.WaitState("running", 10*time.Second)
	t.Check(err, "it runs")
	_, _, err = util.Command("delete", "--force", r2.ID)
	t.Check(err, "delete --force of a running container succeeds")
	time.Sleep(200 * time.Millisecond)
	_, err = r2.State()
	t.Ok(err != nil && !util.ProcessAlive(st.Pid), "it is gone, with its process")
}
