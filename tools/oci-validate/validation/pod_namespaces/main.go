// pod_namespaces: a second container joins the first one's namespaces the way containerd's CRI builds every app
// container of a pod — linux.namespaces paths /proc/<sandbox state.pid>/ns/{net,ipc,uts} of the pod's first
// ("pause") container. The app container's process must end up in the pause container's process's namespaces, and
// never in the host's (which it would if state.pid named a process outside the container's namespaces).
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func nsID(pid int, file string) string {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, file))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return l
}

func main() {
	t := util.NewTAP()
	defer t.Done()
	self := os.Getpid()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	pause := util.NewContainer(t, "pause", g)
	if pause == nil {
		return
	}
	defer pause.Clean()
	if err := pause.Create(); !t.Check(err, "create the pod's first (pause) container") {
		return
	}
	if err := pause.Start(); !t.Check(err, "start it") {
		return
	}
	st, err := pause.WaitState("running", 10*time.Second)
	if !t.Check(err, "it runs") {
		return
	}
	pausePid, err := util.ContainerProcess(pause)
	if !t.Check(err, "find its process (ps)") {
		return
	}
	for _, set := range [][]string{{"network"}, {"network", "ipc", "uts"}} {
		file := map[string]string{"network": "net", "ipc": "ipc", "uts": "uts"}
		g2 := util.DefaultGenerator()
		g2.SetProcessArgs([]string{"/bin/sleep", "600"})
		for _, kind := range set {
			// As containerd's CRI does: the path names the sandbox task's pid, which is state.pid.
			_ = g2.AddOrReplaceLinuxNamespace(kind, fmt.Sprintf("/proc/%d/ns/%s", st.Pid, file[kind]))
		}
		app := util.NewContainer(t, "app", g2)
		if app == nil {
			return
		}
		defer app.Clean()
		if err := app.Create(); !t.Check(err, fmt.Sprintf("create an app container joining %v of /proc/<state.pid>", set)) {
			continue
		}
		if err := app.Start(); !t.Check(err, "start it") {
			continue
		}
		if _, err := app.WaitState("running", 10*time.Second); !t.Check(err, "it runs") {
			continue
		}
		appPid, err := util.ContainerProcess(app)
		if !t.Check(err, "find its process (ps)") {
			continue
		}
		for _, kind := range set {
			in, want, host := nsID(appPid, file[kind]), nsID(pausePid, file[kind]), nsID(self, file[kind])
			t.Spec(in == want, specerror.NSProcInPath, fmt.Sprintf("%v: the app container is in the pause container's %s namespace (%s vs %s)", set, kind, in, want))
			t.Ok(in != host, fmt.Sprintf("%v: and not in the host's %s namespace (%s)", set, kind, host))
		}
		_, _, _ = util.Command("delete", "--force", app.ID)
	}
}
