// runc_cli: the runc command-line surface beyond the OCI spec that containerd's runc shim drives — exec --process
// FILE --detach --pid-file, exec with args, ps --format json, list --format json, kill --all, features, spec.
// (Not a runtime-tools requirement: capvisor's own, since `BinaryName = sentry` under containerd depends on it.)
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	r := util.NewContainer(t, "runc_cli", g)
	if r == nil {
		return
	}
	defer r.Clean()
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

	// exec with args, in the foreground: output and exit status come back.
	o, e, err := util.Command("exec", r.ID, "/bin/sh", "-c", "echo exec-out; cat /proc/1/cmdline | tr '\\0' ' '")
	t.Ok(err == nil && strings.HasPrefix(string(o), "exec-out\n"), fmt.Sprintf("exec ID CMD runs in the container (stdout %q, stderr %q, %v)", o, e, err))
	_, _, err = util.Command("exec", r.ID, "/bin/sh", "-c", "exit 3")
	t.Ok(err != nil && strings.Contains(err.Error(), "exit status 3"), fmt.Sprintf("exec passes the exit status on (%v)", err))

	// exec --process FILE --detach --pid-file F, as containerd does.
	proc := rspec.Process{Args: []string{"/bin/sh", "-c", "echo detached > /exec-detached; sleep 600"}, Cwd: "/",
		Env: []string{"PATH=/bin"}}
	pf := filepath.Join(r.BundleDir, "process.json")
	b, _ := json.Marshal(proc)
	_ = ioutil.WriteFile(pf, b, 0o644)
	pidFile := filepath.Join(r.BundleDir, "exec.pid")
	o, e, err = util.Command("exec", "--process", pf, "--detach", "--pid-file", pidFile, r.ID)
	t.Ok(err == nil, fmt.Sprintf("exec --process F --detach --pid-file P (%q %q %v)", o, e, err))
	t.Ok(util.WaitFile(r.RootfsFile("exec-detached"), 10*time.Second), "the detached process ran")
	pb, _ := ioutil.ReadFile(pidFile)
	epid, perr := strconv.Atoi(strings.TrimSpace(string(pb)))
	t.Ok(perr == nil && util.ProcessAlive(epid), fmt.Sprintf("the exec pid file names a live process (%q)", string(pb)))

	// ps --format json lists the container's processes: one more after the detached exec.
	pids, err := util.ContainerPids(r.ID)
	t.Ok(err == nil && len(pids) >= 2, fmt.Sprintf("ps --format json lists the init and the exec'd process (%v, %v)", pids, err))
	ps2, _, _ := util.Command("exec", r.ID, "/bin/sh", "-c", "ls /proc | grep -c '^[0-9]'")
	t.Diag(fmt.Sprintf("state.pid %d, exec pid file %d, ps %v, processes seen inside: %s", st.Pid, epid, pids, strings.TrimSpace(string(ps2))))

	// list --format json shows the container, running, with its bundle.
	o, _, err = util.Command("list", "--format", "json")
	var rows []map[string]interface{}
	jerr := json.Unmarshal(o, &rows)
	found := false
	for _, row := range rows {
		found = found || (row["id"] == r.ID && row["status"] == "running")
	}
	t.Ok(err == nil && jerr == nil && found, fmt.Sprintf("list --format json shows it running (%q)", o))

	// kill --all KILL stops every process of the container.
	_, e, err = util.Command("kill", "--all", r.ID, "KILL")
	t.Ok(err == nil, fmt.Sprintf("kill --all ID KILL (%q)", e))
	_, err = r.WaitState("stopped", 10*time.Second)
	t.Check(err, "the container stopped")
	time.Sleep(200 * time.Millisecond)
	t.Ok(!util.ProcessAlive(epid), "the exec'd process is gone too")
	t.Check(r.Delete(), "delete")

	// features: JSON with ociVersionMin/Max.
	o, e, err = util.Command("features")
	var feat map[string]interface{}
	jerr = json.Unmarshal(o, &feat)
	t.Ok(err == nil && jerr == nil && feat["ociVersionMin"] != nil && feat["ociVersionMax"] != nil,
		fmt.Sprintf("features prints JSON with ociVersionMin/Max (%v %v %q)", err, jerr, e))

	// spec writes a config.json that parses as a runtime-spec config.
	dir, _ := ioutil.TempDir(os.Getenv("OCI_VALIDATE_TMP"), "spec-")
	defer os.RemoveAll(dir)
	o, e, err = util.Command("spec", "--bundle", dir)
	cb, rerr := ioutil.ReadFile(filepath.Join(dir, "config.json"))
	var spec rspec.Spec
	jerr = json.Unmarshal(cb, &spec)
	t.Ok(err == nil && rerr == nil && jerr == nil && spec.Process != nil && spec.Root != nil,
		fmt.Sprintf("spec --bundle D writes a config.json (%v %v %v %q)", err, rerr, jerr, e))
	_ = o
}
