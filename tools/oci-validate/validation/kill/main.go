// kill: kill needs an ID; it delivers the named signal (TERM by name, USR1 by number, KILL) to the container's
// process; a kill of a stopped container fails and has no effect.
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
	// The process records the signals it gets (USR1 then TERM) in /signals and exits on TERM.
	g.SetProcessArgs([]string{"/bin/sh", "-c",
		"trap 'echo USR1 >> /signals' USR1; trap 'echo TERM >> /signals; exit 0' TERM; echo ready > /ready; " +
			"while true; do sleep 0.1; done"})
	r := util.NewContainer(t, "kill", g)
	if r == nil {
		return
	}
	defer r.Clean()

	_, _, err := util.Command("kill")
	t.Spec(err != nil, specerror.KillWithoutIDGenError, "kill without an ID fails")
	_, _, err = util.Command("kill", "ocivalidate-does-not-exist", "KILL")
	t.Ok(err != nil, "kill of an unknown ID fails")

	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	if !t.Ok(util.WaitFile(r.RootfsFile("ready"), 10*time.Second), "the process is ready") {
		return
	}
	t.Spec(r.Kill("10") == nil, specerror.KillSignalImplement, "kill ID 10 (SIGUSR1 by number)")
	okUSR1 := false
	for i := 0; i < 100 && !okUSR1; i++ {
		okUSR1 = strings.Contains(r.ReadRootfsFile("signals"), "USR1")
		time.Sleep(50 * time.Millisecond)
	}
	t.Spec(okUSR1, specerror.KillSignalImplement, "the process got SIGUSR1")
	st, err := r.State()
	t.Ok(err == nil && st.Status == "running", "the container still runs after USR1 (got "+string(st.Status)+")")
	t.Spec(r.Kill("TERM") == nil, specerror.KillSignalImplement, "kill ID TERM")
	_, err = r.WaitState("stopped", 10*time.Second)
	t.Spec(err == nil, specerror.KillSignalImplement, "the container stopped after TERM")
	t.Ok(strings.Contains(r.ReadRootfsFile("signals"), "TERM"), "the process got SIGTERM (its trap ran)")

	err = r.Kill("KILL")
	t.Spec(err != nil, specerror.KillNonCreateRunGenError, "kill of a stopped container fails")
	st, err = r.State()
	t.Spec(err == nil && st.Status == "stopped", specerror.KillNonCreateRunHaveNoEffect, "and leaves it stopped")

	// A created (not started) container can be killed too.
	g2 := util.DefaultGenerator()
	g2.SetProcessArgs([]string{"/bin/sh", "-c", "echo started >> /started"})
	r2 := util.NewContainer(t, "kill-created", g2)
	if r2 == nil {
		return
	}
	defer r2.Clean()
	if err := r2.Create(); !t.Check(err, "create a second container") {
		return
	}
	t.Spec(r2.Kill("KILL") == nil, specerror.KillSignalImplement, "kill KILL of a created container")
	_, err = r2.WaitState("stopped", 10*time.Second)
	t.Check(err, "the created container is stopped after KILL")
	t.Ok(r2.ReadRootfsFile("started") == "", "its process never ran")
}
