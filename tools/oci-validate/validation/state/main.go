// state: the OCI state JSON — ociVersion, id, status, pid (the process, alive), bundle (absolute), annotations;
// status follows created -> running -> stopped.
package main

import (
	"time"

	"fmt"
	"path/filepath"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	g.AddAnnotation("org.opencontainers.ocivalidate", "yes")
	r := util.NewContainer(t, "state", g)
	if r == nil {
		return
	}
	defer r.Clean()
	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	st, err := r.State()
	if !t.Spec(err == nil, specerror.QueryStateImplement, "state of a created container") {
		t.Diag(err.Error())
		return
	}
	t.Spec(st.Version != "", specerror.QueryStateImplement, "state.ociVersion is set ("+st.Version+")")
	t.Spec(st.ID == r.ID, specerror.QueryStateImplement, fmt.Sprintf("state.id is the ID (got %q)", st.ID))
	t.Spec(st.Status == "created", specerror.QueryStateImplement, "state.status is created (got "+string(st.Status)+")")
	t.Spec(st.Pid > 0 && util.ProcessAlive(st.Pid), specerror.QueryStateImplement, fmt.Sprintf("state.pid is a live process (%d)", st.Pid))
	abs, _ := filepath.Abs(r.BundleDir)
	t.Spec(filepath.IsAbs(st.Bundle) && filepath.Clean(st.Bundle) == abs, specerror.QueryStateImplement,
		fmt.Sprintf("state.bundle is the absolute bundle path (got %q)", st.Bundle))
	t.Spec(st.Annotations["org.opencontainers.ocivalidate"] == "yes", specerror.QueryStateImplement,
		fmt.Sprintf("state.annotations are the config's (got %v)", st.Annotations))

	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	st, err = r.WaitState("running", 10*time.Second)
	t.Check(err, "state.status is running after start")
	t.Ok(st.Pid > 0 && util.ProcessAlive(st.Pid), fmt.Sprintf("state.pid of the running container is alive (%d)", st.Pid))
	pids, err := util.ContainerPids(r.ID)
	found := false
	for _, p := range pids {
		found = found || p == st.Pid
	}
	t.Spec(err == nil && found, specerror.QueryStateImplement,
		fmt.Sprintf("state.pid %d is the container's process: ps lists it (ps: %v, %v)", st.Pid, pids, err))
	if err := r.Kill("KILL"); !t.Check(err, "kill KILL") {
		return
	}
	_, err = r.WaitState("stopped", 10*time.Second)
	t.Check(err, "state.status is stopped after the process died")
	t.Check(r.Delete(), "delete")
	_, err = r.State()
	t.Spec(err != nil, specerror.QueryNonExistGenError, "state after delete fails")
}
