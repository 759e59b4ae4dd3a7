// runtimetest runs as the container's process (a static binary at /runtimetest in the busybox rootfs), reads the
// bundle's config.json (copied to /config.json) and checks, from inside, that the runtime set up what the config
// asks: process (args, cwd, env, user, umask, rlimits, noNewPrivileges, capabilities, oomScoreAdj), hostname, root
// read-only, mounts, default devices and /dev symlinks, linux.devices, maskedPaths, readonlyPaths and sysctl.
// It prints TAP on stdout; the validation program outside absorbs it.
//
// capvisor's own counterpart of runtime-tools' cmd/runtimetest, which Debian's -dev package does not ship.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/syndtr/gocapability/capability"
	"golang.org/x/sys/unix"

	"capvisor.dev/ocivalidate/util"
)

var t *util.TAP

func main() {
	t = util.NewTAP()
	defer t.Done()
	path := "/config.json"
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "--config=") {
		path = strings.TrimPrefix(os.Args[1], "--config=")
	}
	data, err := ioutil.ReadFile(path)
	if !t.Check(err, "runtimetest reads "+path) {
		return
	}
	var spec rspec.Spec
	if !t.Check(json.Unmarshal(data, &spec), "config.json parses") {
		return
	}
	checkProcess(&spec)
	checkHostname(&spec)
	checkRoot(&spec)
	checkMounts(&spec)
	checkDefaultDevices(&spec)
	checkDevices(&spec)
	checkMaskedPaths(&spec)
	checkReadonlyPaths(&spec)
	checkSysctl(&spec)
}

func checkProcess(spec *rspec.Spec) {
	p := spec.Process
	if p == nil {
		return
	}
	t.Ok(strings.Join(os.Args, "\x00") == strings.Join(p.Args, "\x00"),
		fmt.Sprintf("process.args %q (got %q)", p.Args, os.Args))
	cwd, err := os.Getwd()
	t.Ok(err == nil && filepath.Clean(cwd) == filepath.Clean(p.Cwd), fmt.Sprintf("process.cwd %q (got %q)", p.Cwd, cwd))
	for _, kv := range p.Env {
		k := kv
		if i := strings.Index(kv, "="); i >= 0 {
			k = kv[:i]
		}
		v, ok := os.LookupEnv(k)
		t.Ok(ok && k+"="+v == kv, fmt.Sprintf("process.env %s (got %q)", kv, v))
	}
	t.Ok(uint32(os.Getuid()) == p.User.UID, fmt.Sprintf("process.user.uid %d (got %d)", p.User.UID, os.Getuid()))
	t.Ok(uint32(os.Getgid()) == p.User.GID, fmt.Sprintf("process.user.gid %d (got %d)", p.User.GID, os.Getgid()))
	if len(p.User.AdditionalGids) > 0 {
		groups, _ := os.Getgroups()
		have := map[uint32]bool{}
		for _, g := range groups {
			have[uint32(g)] = true
		}
		for _, g := range p.User.AdditionalGids {
			t.Ok(have[g], fmt.Sprintf("process.user.additionalGids has %d (got %v)", g, groups))
		}
	}
	if p.User.Umask != nil {
		old := unix.Umask(0)
		unix.Umask(old)
		t.Ok(uint32(old) == *p.User.Umask, fmt.Sprintf("process.user.umask %04o (got %04o)", *p.User.Umask, old))
	}
	for _, rl := range p.Rlimits {
		if rl.Type == "RLIMIT_NOFILE" && rl.Soft != rl.Hard {
			// Go (1.19+) raises its own soft RLIMIT_NOFILE to the hard limit at start-up: only the hard one is
			// observable from here.
			var cur unix.Rlimit
			err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
			t.Ok(err == nil && cur.Max == rl.Hard, fmt.Sprintf("process.rlimits RLIMIT_NOFILE hard %d (got %d)", rl.Hard, cur.Max))
			continue
		}
		res, ok := rlimitByName[rl.Type]
		if !ok {
			t.Skip("process.rlimits "+rl.Type, "unknown to runtimetest")
			continue
		}
		var cur unix.Rlimit
		err := unix.Getrlimit(res, &cur)
		t.Ok(err == nil && cur.Cur == rl.Soft && cur.Max == rl.Hard,
			fmt.Sprintf("process.rlimits %s soft %d hard %d (got %d %d)", rl.Type, rl.Soft, rl.Hard, cur.Cur, cur.Max))
	}
	status := procStatus()
	nnp := status["NoNewPrivs"]
	if p.NoNewPrivileges {
		t.Ok(nnp == "1", "process.noNewPrivileges true: NoNewPrivs is 1 (got "+nnp+")")
	}
	if p.OOMScoreAdj != nil {
		b, _ := ioutil.ReadFile("/proc/self/oom_score_adj")
		got := strings.TrimSpace(string(b))
		t.Ok(got == strconv.Itoa(*p.OOMScoreAdj), fmt.Sprintf("process.oomScoreAdj %d (got %s)", *p.OOMScoreAdj, got))
	}
	if c := p.Capabilities; c != nil {
		for _, set := range []struct {
			name  string
			field string
			want  []string
		}{
			{"bounding", "CapBnd", c.Bounding}, {"effective", "CapEff", c.Effective},
			{"permitted", "CapPrm", c.Permitted}, {"inheritable", "CapInh", c.Inheritable},
			{"ambient", "CapAmb", c.Ambient},
		} {
			got := capNames(status[set.field])
			want := append([]string(nil), set.want...)
			sort.Strings(want)
			// Capabilities the kernel does not know cannot be held; compare only the ones it knows.
			want = knownCaps(want)
			t.Ok(strings.Join(got, ",") == strings.Join(want, ","),
				fmt.Sprintf("process.capabilities.%s (want %v, got %v)", set.name, want, got))
		}
	}
}

func procStatus() map[string]string {
	m := map[string]string{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if i := strings.Index(sc.Text(), ":"); i > 0 {
			m[sc.Text()[:i]] = strings.TrimSpace(sc.Text()[i+1:])
		}
	}
	return m
}

func capNames(hex string) []string {
	mask, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return []string{"unreadable:" + hex}
	}
	out := []string{}
	for _, c := range capability.List() {
		if c > capability.CAP_LAST_CAP {
			continue
		}
		if mask&(1<<uint(c)) != 0 {
			out = append(out, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	sort.Strings(out)
	return out
}

func knownCaps(names []string) []string {
	known := map[string]bool{}
	for _, c := range capability.List() {
		if c <= capability.CAP_LAST_CAP {
			known["CAP_"+strings.ToUpper(c.String())] = true
		}
	}
	out := []string{}
	for _, n := range names {
		if known[n] {
			out = append(out, n)
		}
	}
	return out
}

var rlimitByName = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

func checkHostname(spec *rspec.Spec) {
	if spec.Hostname == "" {
		return
	}
	h, err := os.Hostname()
	t.Ok(err == nil && h == spec.Hostname, fmt.Sprintf("hostname %q (got %q)", spec.Hostname, h))
}

func checkRoot(spec *rspec.Spec) {
	if spec.Root == nil {
		return
	}
	ro, err := mountReadonly("/")
	if spec.Root.Readonly {
		t.Ok(err == nil && ro, fmt.Sprintf("root.readonly true: / is mounted read-only (statfs: ro=%v, %v)", ro, err))
		f := "/.runtimetest-write"
		werr := ioutil.WriteFile(f, []byte("x"), 0o644)
		t.Ok(werr != nil, fmt.Sprintf("root.readonly true: creating %s fails (got %v)", f, werr))
	} else {
		t.Ok(err == nil && !ro, fmt.Sprintf("root.readonly false: / is mounted read-write (statfs: ro=%v, %v)", ro, err))
	}
}

// mountReadonly: whether the mount holding path is read-only (statfs f_flags ST_RDONLY), whoever asks.
func mountReadonly(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, err
	}
	return st.Flags&unix.ST_RDONLY != 0, nil
}

type mountInfo struct {
	point, fstype, opts, superOpts string
}

func mountinfo() []mountInfo {
	var out []mountInfo
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		pre := strings.Fields(line[:i])
		post := strings.Fields(line[i+3:])
		if len(pre) < 6 || len(post) < 1 {
			continue
		}
		m := mountInfo{point: unescape(pre[4]), opts: pre[5], fstype: post[0]}
		if len(post) > 2 {
			m.superOpts = post[2]
		}
		out = append(out, m)
	}
	return out
}

func unescape(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func checkMounts(spec *rspec.Spec) {
	infos := mountinfo()
	t.Ok(len(infos) > 0, "/proc/self/mountinfo is readable")
	for _, m := range spec.Mounts {
		var found *mountInfo
		for i := range infos {
			if filepath.Clean(infos[i].point) == filepath.Clean(m.Destination) {
				found = &infos[i] // the last one wins: the top of the stack
			}
		}
		if !t.Ok(found != nil, fmt.Sprintf("mount %s (%s) is a mount point", m.Destination, m.Type)) {
			continue
		}
		bind := m.Type == "bind" || m.Type == "" || hasOpt(m.Options, "bind") || hasOpt(m.Options, "rbind")
		if !bind {
			t.Ok(found.fstype == m.Type, fmt.Sprintf("mount %s has type %s (got %s)", m.Destination, m.Type, found.fstype))
		}
		if hasOpt(m.Options, "ro") {
			t.Ok(hasOpt(strings.Split(found.opts, ","), "ro"), fmt.Sprintf("mount %s is read-only (options %s)", m.Destination, found.opts))
		}
	}
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func checkDefaultDevices(spec *rspec.Spec) {
	if spec.Linux == nil {
		return
	}
	for _, d := range []struct {
		path         string
		major, minor uint32
	}{{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7}, {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}} {
		var st unix.Stat_t
		err := unix.Stat(d.path, &st)
		ok := err == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == d.major && unix.Minor(st.Rdev) == d.minor
		t.Ok(ok, fmt.Sprintf("default device %s is char %d:%d (stat: %v)", d.path, d.major, d.minor, err))
	}
	if _, err := os.Stat("/dev/ptmx"); true {
		t.Ok(err == nil, fmt.Sprintf("default device /dev/ptmx exists (%v)", err))
	}
	for link, target := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"} {
		got, err := os.Readlink(link)
		t.Ok(err == nil && got == target, fmt.Sprintf("dev symlink %s -> %s (got %q, %v)", link, target, got, err))
	}
}

func checkDevices(spec *rspec.Spec) {
	if spec.Linux == nil {
		return
	}
	for _, d := range spec.Linux.Devices {
		var st unix.Stat_t
		if !t.Check(unix.Stat(d.Path, &st), "linux.devices "+d.Path+" exists") {
			continue
		}
		var want uint32
		switch d.Type {
		case "c", "u":
			want = unix.S_IFCHR
		case "b":
			want = unix.S_IFBLK
		case "p":
			want = unix.S_IFIFO
		}
		t.Ok(st.Mode&unix.S_IFMT == want, fmt.Sprintf("linux.devices %s has type %s", d.Path, d.Type))
		if d.Type != "p" {
			t.Ok(unix.Major(st.Rdev) == uint32(d.Major) && unix.Minor(st.Rdev) == uint32(d.Minor),
				fmt.Sprintf("linux.devices %s is %d:%d (got %d:%d)", d.Path, d.Major, d.Minor, unix.Major(st.Rdev), unix.Minor(st.Rdev)))
		}
		if d.FileMode != nil {
			t.Ok(os.FileMode(st.Mode&0o777) == *d.FileMode&0o777, fmt.Sprintf("linux.devices %s has mode %04o (got %04o)", d.Path, *d.FileMode&0o777, st.Mode&0o777))
		}
		if d.UID != nil {
			t.Ok(st.Uid == *d.UID, fmt.Sprintf("linux.devices %s uid %d (got %d)", d.Path, *d.UID, st.Uid))
		}
		if d.GID != nil {
			t.Ok(st.Gid == *d.GID, fmt.Sprintf("linux.devices %s gid %d (got %d)", d.Path, *d.GID, st.Gid))
		}
	}
}

func checkMaskedPaths(spec *rspec.Spec) {
	if spec.Linux == nil {
		return
	}
	for _, p := range spec.Linux.MaskedPaths {
		fi, err := os.Stat(p)
		if err != nil {
			// Absent (nothing to read) or refused outright: either way the container cannot read it.
			_, rerr := ioutil.ReadFile(p)
			t.Ok(os.IsNotExist(err) || rerr != nil, fmt.Sprintf("maskedPaths %s: absent or unreadable (stat: %v, read: %v)", p, err, rerr))
			continue
		}
		if fi.IsDir() {
			ents, err := ioutil.ReadDir(p)
			t.Ok(err != nil || len(ents) == 0, fmt.Sprintf("maskedPaths %s: directory shows nothing (%d entries)", p, len(ents)))
		} else {
			b, err := ioutil.ReadFile(p)
			t.Ok(err != nil || len(b) == 0, fmt.Sprintf("maskedPaths %s: file reads empty (%d bytes)", p, len(b)))
		}
	}
}

func checkReadonlyPaths(spec *rspec.Spec) {
	if spec.Linux == nil {
		return
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if _, err := os.Stat(p); err != nil {
			t.Ok(os.IsNotExist(err), fmt.Sprintf("readonlyPaths %s: absent or read-only (%v)", p, err))
			continue
		}
		// A read-only mount (statfs ST_RDONLY) passes; otherwise a write must be refused (access(W_OK) checks
		// permissions first: /proc/sys answers EACCES before EROFS, so it proves nothing).
		ro, err := mountReadonly(p)
		if err == nil && ro {
			t.Ok(true, fmt.Sprintf("readonlyPaths %s: mounted read-only", p))
			continue
		}
		perr := writeProbe(p)
		t.Ok(perr != nil, fmt.Sprintf("readonlyPaths %s: not a read-only mount (statfs: %v), so a write must fail (got %v)", p, err, perr))
	}
}

// writeProbe tries to write at p without changing anything that matters: a regular file is opened O_WRONLY|O_APPEND
// and closed unwritten (under a directory: its first regular file, /proc/sys's kernel/hostname, namespaced); an empty
// directory gets a probe file, removed again. nil: the write would have been possible.
func writeProbe(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	target := p
	if fi.IsDir() {
		target = ""
		if p == "/proc/sys" {
			target = "/proc/sys/kernel/hostname"
		} else if ents, err := ioutil.ReadDir(p); err == nil {
			for _, e := range ents {
				if e.Mode().IsRegular() {
					target = filepath.Join(p, e.Name())
					break
				}
			}
		}
		if target == "" {
			probe := filepath.Join(p, ".runtimetest-probe")
			f, err := os.OpenFile(probe, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			f.Close()
			os.Remove(probe)
			return nil
		}
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

func checkSysctl(spec *rspec.Spec) {
	if spec.Linux == nil {
		return
	}
	for k, v := range spec.Linux.Sysctl {
		b, err := ioutil.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
		got := strings.TrimSpace(string(b))
		t.Ok(err == nil && got == v, fmt.Sprintf("linux.sysctl %s=%s (got %q, %v)", k, v, got, err))
	}
}
