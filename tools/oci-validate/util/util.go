// Package util is the shared part of capvisor's OCI validation programs: a TAP writer, a wrapper around the runtime's
// command line (RUNTIME, runc-compatible), bundle preparation from a busybox-static rootfs, and the "run runtimetest
// inside a container" helper.
//
// It plays the role of runtime-tools' validation/util, which Debian's golang-github-opencontainers-runtime-tools-dev
// does not ship (it ships the libraries: generate, validate, specerror, cgroups). Written for capvisor; the config
// generator and the spec error codes come from the Debian package.
package util

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	"github.com/opencontainers/runtime-tools/specerror"
)

// ---------------------------------------------------------------- TAP

// TAP writes a Test Anything Protocol stream to stdout, plan at the end.
type TAP struct {
	mu sync.Mutex
	n  int
}

// NewTAP starts a TAP stream.
func NewTAP() *TAP {
	fmt.Println("TAP version 13")
	return &TAP{}
}

// Ok records one assertion.
func (t *TAP) Ok(ok bool, desc string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	desc = strings.ReplaceAll(desc, "#", "\\#")
	if ok {
		fmt.Printf("ok %d - %s\n", t.n, desc)
	} else {
		fmt.Printf("not ok %d - %s\n", t.n, desc)
	}
	return ok
}

// Check records an assertion from an error: ok when err is nil, the error as a diagnostic otherwise.
func (t *TAP) Check(err error, desc string) bool {
	if !t.Ok(err == nil, desc) {
		t.Diag(err.Error())
		return false
	}
	return true
}

// Spec records an assertion about one runtime-spec requirement (code from runtime-tools' specerror).
func (t *TAP) Spec(ok bool, code specerror.Code, detail string) bool {
	err := specerror.NewError(code, fmt.Errorf("%s", detail), rspec.Version)
	return t.Ok(ok, firstLine(err.Error()))
}

// Skip records a skipped assertion.
func (t *TAP) Skip(desc, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	fmt.Printf("ok %d - %s # SKIP %s\n", t.n, desc, reason)
}

// Diag writes diagnostic lines.
func (t *TAP) Diag(s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Printf("# %s\n", l)
	}
}

// Done writes the plan and exits with 1 when an assertion failed is not our business: the harness counts.
func (t *TAP) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Printf("1..%d\n", t.n)
}

// Absorb re-emits the assertions of a TAP stream (e.g. runtimetest's, read from the container's stdout) under this
// stream's numbering, prefixing each description. Returns how many it found.
func (t *TAP) Absorb(stream, prefix string) int {
	found := 0
	sc := bufio.NewScanner(strings.NewReader(stream))
	for sc.Scan() {
		line := sc.Text()
		var ok bool
		var rest string
		switch {
		case strings.HasPrefix(line, "ok "):
			ok, rest = true, line[3:]
		case strings.HasPrefix(line, "not ok "):
			ok, rest = false, line[7:]
		case strings.HasPrefix(line, "# "):
			fmt.Println(line)
			continue
		default:
			continue
		}
		// drop the inner number
		if i := strings.Index(rest, " "); i >= 0 {
			rest = rest[i+1:]
		}
		rest = strings.TrimPrefix(rest, "- ")
		found++
		if i := strings.Index(rest, " # SKIP"); i >= 0 {
			t.Skip(prefix+rest[:i], strings.TrimSpace(rest[i+7:]))
			continue
		}
		t.mu.Lock()
		t.n++
		if ok {
			fmt.Printf("ok %d - %s%s\n", t.n, prefix, rest)
		} else {
			fmt.Printf("not ok %d - %s%s\n", t.n, prefix, rest)
		}
		t.mu.Unlock()
	}
	return found
}

func firstLine(s string) string {
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// ---------------------------------------------------------------- runtime

// RuntimeCommand is the runtime under test: $RUNTIME, default runc.
func RuntimeCommand() string {
	if r := os.Getenv("RUNTIME"); r != "" {
		return r
	}
	return "runc"
}

// RuntimeRoot is the --root given to every runtime command: $OCI_VALIDATE_ROOT (the harness sets it, to clean up).
func RuntimeRoot() string { return os.Getenv("OCI_VALIDATE_ROOT") }

// Runtime drives one container through the runtime's command line.
type Runtime struct {
	ID        string
	BundleDir string
	// Stdout and Stderr of the container's process (they inherit the create command's stdio), in the bundle.
	StdoutPath, StderrPath string
	PidFile                string
}

var idCounter int

// NewID makes a container ID unique on this host.
func NewID(name string) string {
	idCounter++
	return fmt.Sprintf("ocivalidate-%s-%d-%d", name, os.Getpid(), idCounter)
}

// Command runs the runtime with the global flags, returning stdout, stderr and the error.
func Command(args ...string) ([]byte, []byte, error) {
	full := []string{}
	if root := RuntimeRoot(); root != "" {
		full = append(full, "--root", root)
	}
	full = append(full, args...)
	cmd := exec.Command(RuntimeCommand(), full...)
	// Files, not pipes: a process the runtime leaves behind (exec --detach, a daemonised monitor) may keep its stdio
	// open for as long as it lives, and waiting on a pipe would wait for it.
	outF, err := ioutil.TempFile(os.Getenv("OCI_VALIDATE_TMP"), "out-")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := ioutil.TempFile(os.Getenv("OCI_VALIDATE_TMP"), "err-")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(errF.Name())
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		werr = fmt.Errorf("%s %s: timed out after 30s", RuntimeCommand(), strings.Join(args, " "))
	}
	out, _ := ioutil.ReadFile(outF.Name())
	errb, _ := ioutil.ReadFile(errF.Name())
	return out, errb, werr
}

// Create runs `create --bundle B [--pid-file F] ID` with the container's stdio on two files in the bundle.
func (r *Runtime) Create() error {
	args := []string{"create", "--bundle", r.BundleDir}
	if r.PidFile != "" {
		args = append(args, "--pid-file", r.PidFile)
	}
	args = append(args, r.ID)
	r.StdoutPath = filepath.Join(r.BundleDir, "stdout")
	r.StderrPath = filepath.Join(r.BundleDir, "stderr")
	stdout, err := os.Create(r.StdoutPath)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.Create(r.StderrPath)
	if err != nil {
		return err
	}
	defer stderr.Close()
	full := []string{}
	if root := RuntimeRoot(); root != "" {
		full = append(full, "--root", root)
	}
	cmd := exec.Command(RuntimeCommand(), append(full, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The runtime's own stderr is the container's too; keep the create's messages apart for diagnostics.
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			msg, _ := ioutil.ReadFile(r.StderrPath)
			return fmt.Errorf("create: %v: %s", err, strings.TrimSpace(string(msg)))
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("create: timed out after 30s")
	}
}

func wrap(op string, out, errb []byte, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(errb))
	if msg == "" {
		msg = strings.TrimSpace(string(out))
	}
	return fmt.Errorf("%s: %v: %s", op, err, msg)
}

// Start runs `start ID`.
func (r *Runtime) Start() error {
	o, e, err := Command("start", r.ID)
	return wrap("start", o, e, err)
}

// Kill runs `kill ID SIG`.
func (r *Runtime) Kill(sig string) error {
	o, e, err := Command("kill", r.ID, sig)
	return wrap("kill", o, e, err)
}

// Delete runs `delete ID`.
func (r *Runtime) Delete() error {
	o, e, err := Command("delete", r.ID)
	return wrap("delete", o, e, err)
}

// State runs `state ID` and parses the OCI state.
func (r *Runtime) State() (rspec.State, error) {
	var st rspec.State
	o, e, err := Command("state", r.ID)
	if err != nil {
		return st, wrap("state", o, e, err)
	}
	if err := json.Unmarshal(o, &st); err != nil {
		return st, fmt.Errorf("state: not OCI state JSON: %v: %q", err, string(o))
	}
	return st, nil
}

// WaitState polls `state` until the status is want (or, for "stopped", the container is gone).
func (r *Runtime) WaitState(want string, timeout time.Duration) (rspec.State, error) {
	deadline := time.Now().Add(timeout)
	var last rspec.State
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = r.State()
		if lastErr == nil && string(last.Status) == want {
			return last, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		return last, fmt.Errorf("waiting for %q: %v", want, lastErr)
	}
	return last, fmt.Errorf("waiting for %q: still %q after %v", want, last.Status, timeout)
}

// Clean force-deletes the container (best effort) and removes the bundle.
func (r *Runtime) Clean() {
	_, _, _ = Command("delete", "--force", r.ID)
	if os.Getenv("OCI_VALIDATE_KEEP") == "" {
		_ = os.RemoveAll(r.BundleDir)
	}
}

// Stdout reads what the container's process wrote to its stdout.
func (r *Runtime) Stdout() string {
	b, _ := ioutil.ReadFile(r.StdoutPath)
	return string(b)
}

// Stderr reads what the container's process (and the runtime's create) wrote to stderr.
func (r *Runtime) Stderr() string {
	b, _ := ioutil.ReadFile(r.StderrPath)
	return string(b)
}

// ---------------------------------------------------------------- bundles

// BinDir is where the validation programs, runtimetest and the rootfs template live.
func BinDir() string {
	if d := os.Getenv("OCI_VALIDATE_DIR"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// PrepareBundle makes a bundle directory: a copy of the busybox rootfs template (with runtimetest in it) under
// rootfs/. The caller writes config.json with SetConfig.
func PrepareBundle(name string) (*Runtime, error) {
	base := os.Getenv("OCI_VALIDATE_TMP")
	dir, err := ioutil.TempDir(base, "bundle-"+name+"-")
	if err != nil {
		return nil, err
	}
	tmpl := filepath.Join(BinDir(), "rootfs")
	if _, err := os.Stat(filepath.Join(tmpl, "bin", "busybox")); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("rootfs template %s missing (run tools/oci-validate.sh, which builds it): %v", tmpl, err)
	}
	if out, err := exec.Command("cp", "-a", tmpl, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy rootfs: %v: %s", err, out)
	}
	return &Runtime{ID: NewID(name), BundleDir: dir}, nil
}

// DefaultGenerator is runtime-tools' default Linux config with runtimetest as the process.
func DefaultGenerator() *generate.Generator {
	g, err := generate.New("linux")
	if err != nil {
		Fatal(err)
	}
	g.SetRootPath("rootfs")
	g.SetProcessArgs([]string{"/runtimetest"})
	// Runtime-specific annotations for every container, e.g. OCI_VALIDATE_ANNOTATIONS=dev.capvisor.platform=ptrace.
	for _, kv := range strings.Split(os.Getenv("OCI_VALIDATE_ANNOTATIONS"), ",") {
		if i := strings.Index(kv, "="); i > 0 {
			g.AddAnnotation(kv[:i], kv[i+1:])
		}
	}
	return &g
}

// SetConfig writes config.json into the bundle, and a copy at rootfs/config.json for runtimetest to read.
func (r *Runtime) SetConfig(g *generate.Generator) error {
	opts := generate.ExportOptions{}
	if err := g.SaveToFile(filepath.Join(r.BundleDir, "config.json"), opts); err != nil {
		return err
	}
	return g.SaveToFile(filepath.Join(r.BundleDir, "rootfs", "config.json"), opts)
}

// Fatal prints an error and exits 1 (the harness counts a program without a plan as failed).
func Fatal(err error) {
	fmt.Fprintf(os.Stderr, "%v\n", err)
	os.Exit(1)
}

// Steps are optional callbacks of RunInside and RunProcess.
type Steps struct {
	// Prepare runs after config.json is written, before create (populate the rootfs, make bind sources).
	Prepare func(r *Runtime) error
	// Created runs after create, before start (the state's pid is known; check from outside).
	Created func(r *Runtime) error
	// Stopped runs after the process exited, before delete.
	Stopped func(r *Runtime) error
}

// RunInside runs runtimetest inside a container made from g and absorbs runtimetest's TAP into t.
func RunInside(t *TAP, name string, g *generate.Generator, steps Steps) {
	out, ok := RunProcess(t, name, g, steps)
	if !ok {
		return
	}
	if n := t.Absorb(out, ""); n == 0 {
		t.Ok(false, name+": runtimetest printed its TAP on the container's stdout")
		t.Diag("stdout: " + out)
	}
}

// RunProcess runs g's process in a fresh container: create, start, wait until stopped, delete. Records a failed
// assertion for each lifecycle step that fails; returns the process's stdout and whether it ran to the end.
func RunProcess(t *TAP, name string, g *generate.Generator, steps Steps) (string, bool) {
	r, err := PrepareBundle(name)
	if err != nil {
		t.Check(err, name+": prepare bundle")
		return "", false
	}
	defer r.Clean()
	if err := r.SetConfig(g); err != nil {
		t.Check(err, name+": write config.json")
		return "", false
	}
	if steps.Prepare != nil {
		if err := steps.Prepare(r); err != nil {
			t.Check(err, name+": prepare")
			return "", false
		}
	}
	if err := r.Create(); !t.Spec(err == nil, specerror.CreateNewContainer, name+": create") {
		t.Diag(err.Error())
		return "", false
	}
	if steps.Created != nil {
		if err := steps.Created(r); err != nil {
			t.Check(err, name+": checks between create and start")
		}
	}
	if err := r.Start(); err != nil {
		t.Check(err, name+": start")
		return "", false
	}
	if _, err := r.WaitState("stopped", 20*time.Second); err != nil {
		t.Check(err, name+": the process ran to completion")
		t.Diag("stdout: " + r.Stdout())
		t.Diag("stderr: " + r.Stderr())
		return "", false
	}
	if steps.Stopped != nil {
		if err := steps.Stopped(r); err != nil {
			t.Check(err, name+": checks after the process exited")
		}
	}
	out := r.Stdout()
	if strings.TrimSpace(r.Stderr()) != "" {
		t.Diag("container stderr: " + r.Stderr())
	}
	if err := r.Delete(); err != nil {
		t.Check(err, name+": delete the stopped container")
	}
	return out, true
}

// ---------------------------------------------------------------- lifecycle helpers

// NewContainer prepares a bundle for g (after prepare) without creating it.
func NewContainer(t *TAP, name string, g *generate.Generator) *Runtime {
	r, err := PrepareBundle(name)
	if err != nil {
		t.Check(err, name+": prepare bundle")
		return nil
	}
	if err := r.SetConfig(g); err != nil {
		t.Check(err, name+": write config.json")
		r.Clean()
		return nil
	}
	return r
}

// RootfsFile is the host path of a file in the container's rootfs.
func (r *Runtime) RootfsFile(p string) string { return filepath.Join(r.BundleDir, "rootfs", p) }

// ReadRootfsFile reads a file of the rootfs from the host ("" when absent).
func (r *Runtime) ReadRootfsFile(p string) string {
	b, _ := ioutil.ReadFile(r.RootfsFile(p))
	return string(b)
}

// ProcessAlive: whether pid exists and is not a zombie.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := ioutil.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndex(s, ")"); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// WaitFile waits until the host file exists with content (non-empty).
func WaitFile(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := ioutil.ReadFile(path); err == nil && len(b) > 0 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// ListIDs runs `list --format json` and returns the container IDs.
func ListIDs() ([]string, error) {
	o, e, err := Command("list", "--format", "json")
	if err != nil {
		return nil, wrap("list", o, e, err)
	}
	var rows []struct {
		ID string `json:"id"`
	}
	if s := strings.TrimSpace(string(o)); s == "" || s == "null" {
		return nil, nil
	}
	if err := json.Unmarshal(o, &rows); err != nil {
		return nil, fmt.Errorf("list --format json: %v: %q", err, string(o))
	}
	ids := []string{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// ContainerPids runs `ps --format json` (the host pids of the container's processes).
func ContainerPids(id string) ([]int, error) {
	o, e, err := Command("ps", "--format", "json", id)
	if err != nil {
		return nil, wrap("ps", o, e, err)
	}
	var pids []int
	if err := json.Unmarshal(o, &pids); err != nil {
		return nil, fmt.Errorf("ps --format json: %v: %q", err, string(o))
	}
	return pids, nil
}

// ContainerProcess is the container's first process as the host sees it: the lowest pid `ps` lists (runc's init is
// state.pid; a sandboxing runtime may report a monitor as state.pid instead), or state.pid when ps gives nothing.
func ContainerProcess(r *Runtime) (int, error) {
	pids, err := ContainerPids(r.ID)
	if err == nil && len(pids) > 0 {
		min := pids[0]
		for _, p := range pids {
			if p < min {
				min = p
			}
		}
		return min, nil
	}
	st, serr := r.State()
	if serr != nil {
		return 0, serr
	}
	return st.Pid, nil
}
