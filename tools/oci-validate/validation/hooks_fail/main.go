// hooks_fail: a failing prestart hook makes create or start fail, the process never runs and nothing is left
// running; a failing poststop hook only warns: delete still removes the container.
package main

import (
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	fail := rspec.Hook{Path: "/bin/false", Args: []string{"false"}}

	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo started > /started"})
	g.AddPreStartHook(fail)
	r := util.NewContainer(t, "prestart_fail", g)
	if r == nil {
		return
	}
	defer r.Clean()
	errCreate := r.Create()
	var errStart error
	if errCreate == nil {
		errStart = r.Start()
	}
	t.Spec(errCreate != nil || errStart != nil, specerror.PrestartHookFailGenError, "a failing prestart hook makes create or start fail")
	time.Sleep(300 * time.Millisecond)
	t.Spec(r.ReadRootfsFile("started") == "", specerror.PrestartHookFailGenError, "the process did not run")
	st, err := r.State()
	t.Ok(err != nil || st.Status == "stopped" || st.Status == "created",
		"the container is not running (state: "+string(st.Status)+")")

	g2 := util.DefaultGenerator()
	g2.SetProcessArgs([]string{"/bin/sh", "-c", "echo started > /started"})
	g2.AddPostStopHook(fail)
	r2 := util.NewContainer(t, "poststop_fail", g2)
	if r2 == nil {
		return
	}
	defer r2.Clean()
	if err := r2.Create(); !t.Check(err, "create (with a failing poststop hook)") {
		return
	}
	if err := r2.Start(); !t.Check(err, "start") {
		return
	}
	if _, err := r2.WaitState("stopped", 10*time.Second); !t.Check(err, "stopped") {
		return
	}
	r2.Delete()
	_, err = r2.State()
	t.Spec(err != nil, specerror.PoststopHookFailGenWarn, "delete removed the container although the poststop hook failed")
}
