// linux_ns: namespaces without a path are new (pid, network, ipc, uts, mount differ from the host's; user and
// cgroup, not asked for, are the host's); namespaces with a path are joined (a network, uts and ipc namespace held by
// a host process, the way CNI hands a pod its network); a path of the wrong type is an error.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

var kinds = map[string]string{"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "user": "user", "cgroup": "cgroup"}

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

	// 1. No path: new namespaces.
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	r := util.NewContainer(t, "ns-new", g)
	if r == nil {
		return
	}
	defer r.Clean()
	if err := r.Create(); t.Check(err, "create (new namespaces)") {
		pid, err := util.ContainerProcess(r)
		if t.Check(err, "find the container's process (ps)") {
			asked := map[string]bool{}
			for _, ns := range g.Config.Linux.Namespaces {
				asked[string(ns.Type)] = true
			}
			for kind, file := range kinds {
				in, host := nsID(pid, file), nsID(self, file)
				if asked[kind] {
					t.Spec(in != host, specerror.NSNewNSWithoutPath, fmt.Sprintf("%s namespace is new (%s vs host %s)", kind, in, host))
				} else {
					t.Spec(in == host, specerror.NSInheritWithoutType, fmt.Sprintf("%s namespace, not listed, is the host's (%s vs %s)", kind, in, host))
				}
			}
		}
	}

	// 2. A path: join the namespaces a host process holds — the network alone (how CNI hands a pod its network),
	// then uts and ipc.
	holder := exec.Command("unshare", "--net", "--uts", "--ipc", "sleep", "600")
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); !t.Check(err, "start a namespace holder (unshare --net --uts --ipc sleep)") {
		return
	}
	defer func() { _ = holder.Process.Kill(); _, _ = holder.Process.Wait() }()
	hp := holder.Process.Pid
	for i := 0; i < 100 && nsID(hp, "net") == nsID(self, "net"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	for _, set := range [][]string{{"network"}, {"uts", "ipc"}} {
		g2 := util.DefaultGenerator()
		g2.SetProcessArgs([]string{"/bin/sleep", "600"})
		for _, kind := range set {
			if err := g2.AddOrReplaceLinuxNamespace(kind, fmt.Sprintf("/proc/%d/ns/%s", hp, kinds[kind])); err != nil {
				util.Fatal(err)
			}
		}
		name := fmt.Sprintf("ns-path-%v", set)
		r2 := util.NewContainer(t, "ns-path", g2)
		if r2 == nil {
			return
		}
		defer r2.Clean()
		if err := r2.Create(); !t.Check(err, fmt.Sprintf("create (%v namespace by path)", set)) {
			continue
		}
		if err := r2.Start(); !t.Check(err, "start "+name) {
			continue
		}
		if _, err := r2.WaitState("running", 10*time.Second); !t.Check(err, name+" running") {
			continue
		}
		pid, err := util.ContainerProcess(r2)
		if !t.Check(err, "find the container's process (ps)") {
			continue
		}
		for _, kind := range set {
			in, want := nsID(pid, kinds[kind]), nsID(hp, kinds[kind])
			t.Spec(in == want, specerror.NSProcInPath, fmt.Sprintf("%s namespace joined by path (%s vs holder %s)", kind, in, want))
		}
		in, host := nsID(pid, "pid"), nsID(self, "pid")
		t.Ok(in != host, "pid namespace (no path) is still new")
	}

	// 3. A path of the wrong type.
	g3 := util.DefaultGenerator()
	_ = g3.AddOrReplaceLinuxNamespace("network", fmt.Sprintf("/proc/%d/ns/ipc", hp))
	r3 := util.NewContainer(t, "ns-wrong-type", g3)
	if r3 == nil {
		return
	}
	defer r3.Clean()
	err := r3.Create()
	t.Spec(err != nil, specerror.NSPathMatchTypeError, "a network namespace path that is an ipc namespace: create fails")
	_, serr := r3.State()
	t.Ok(err == nil || serr != nil, "and leaves no container behind")
}
