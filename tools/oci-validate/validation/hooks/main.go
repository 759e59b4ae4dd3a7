// hooks: prestart (two, in order), poststart and poststop hooks run in the runtime namespace at the right moments,
// each with the container's state JSON on stdin.
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func hook(out, name, extra string) rspec.Hook {
	// stdin (the state) to OUT/NAME.json; the order to OUT/order; extra shell after that.
	return rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
		fmt.Sprintf("cat > %s/%s.json; echo %s >> %s/order; %s", out, name, name, out, extra)}}
}

func main() {
	t := util.NewTAP()
	defer t.Done()
	out, err := ioutil.TempDir(os.Getenv("OCI_VALIDATE_TMP"), "hooks-out-")
	if err != nil {
		util.Fatal(err)
	}
	defer os.RemoveAll(out)
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo started > /started; sleep 600"})
	r := util.NewContainer(t, "hooks", g)
	if r == nil {
		return
	}
	defer r.Clean()
	marker := r.RootfsFile("started")
	g.AddPreStartHook(hook(out, "prestart1", fmt.Sprintf("test -e %s && echo yes > %s/prestart-saw-process; true", marker, out)))
	g.AddPreStartHook(hook(out, "prestart2", ""))
	g.AddPostStartHook(hook(out, "poststart", ""))
	g.AddPostStopHook(hook(out, "poststop", ""))
	if err := r.SetConfig(g); !t.Check(err, "write config.json with hooks") {
		return
	}
	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	st, err := r.WaitState("running", 10*time.Second)
	t.Check(err, "running")
	util.WaitFile(marker, 10*time.Second)
	util.WaitFile(filepath.Join(out, "poststart.json"), 10*time.Second)
	order := func() string {
		b, _ := ioutil.ReadFile(filepath.Join(out, "order"))
		return strings.TrimSpace(string(b))
	}
	t.Spec(strings.HasPrefix(order(), "prestart1\nprestart2"), specerror.PosixHooksCalledInOrder,
		fmt.Sprintf("prestart hooks ran, in the config's order (order: %q)", order()))
	_, err = os.Stat(filepath.Join(out, "prestart-saw-process"))
	t.Spec(os.IsNotExist(err), specerror.PrestartTiming, "prestart ran before the process started")
	t.Spec(strings.Contains(order(), "poststart"), specerror.PoststartTiming, "poststart ran after start")
	t.Ok(!strings.Contains(order(), "poststop"), "poststop has not run while the container runs")
	for _, name := range []string{"prestart1", "poststart"} {
		var hs rspec.State
		b, _ := ioutil.ReadFile(filepath.Join(out, name+".json"))
		err := json.Unmarshal(b, &hs)
		t.Spec(err == nil && hs.ID == r.ID && hs.Pid > 0 && filepath.Clean(hs.Bundle) == filepath.Clean(r.BundleDir),
			specerror.PosixHooksStateToStdin, fmt.Sprintf("%s got the state on stdin (%q)", name, string(b)))
	}
	if err := r.Kill("KILL"); !t.Check(err, "kill") {
		return
	}
	if _, err := r.WaitState("stopped", 10*time.Second); !t.Check(err, "stopped") {
		return
	}
	t.Check(r.Delete(), "delete")
	util.WaitFile(filepath.Join(out, "poststop.json"), 5*time.Second)
	t.Spec(strings.HasSuffix(order(), "poststop"), specerror.PoststopTiming, fmt.Sprintf("poststop ran after delete (order: %q)", order()))
	var hs rspec.State
	b, _ := ioutil.ReadFile(filepath.Join(out, "poststop.json"))
	err = json.Unmarshal(b, &hs)
	t.Spec(err == nil && hs.ID == r.ID, specerror.PosixHooksStateToStdin, fmt.Sprintf("poststop got the state on stdin (%q)", string(b)))
	_ = st
}
