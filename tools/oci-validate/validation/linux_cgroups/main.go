// linux_cgroups: linux.resources (memory limit and reservation, pids limit, cpu shares/quota/period) under an
// absolute cgroupsPath are applied to the container's cgroup before start. Checked from outside: cgroup v1 through
// runtime-tools' cgroups package; when the container's process sits in a cgroup v2 hierarchy instead, the v2 files.
package main

import (
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-tools/cgroups"
	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

// v2Dir finds the container's cgroup v2 directory: the "0::" line of /proc/PID/cgroup under the cgroup2 mount.
func v2Dir(pid int) (string, bool) {
	b, err := ioutil.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false
	}
	rel := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "0::") {
			rel = strings.TrimPrefix(l, "0::")
		}
	}
	if rel == "" || rel == "/" {
		return "", false
	}
	mi, _ := ioutil.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if i := strings.Index(l, " - cgroup2 "); i >= 0 {
			f := strings.Fields(l[:i])
			if len(f) >= 5 {
				return filepath.Join(f[4], rel), true
			}
		}
	}
	return "", false
}

func read(p string) string {
	b, err := ioutil.ReadFile(p)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return strings.TrimSpace(string(b))
}

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	mem, res := int64(64<<20), int64(32<<20)
	g.SetLinuxResourcesMemoryLimit(mem)
	g.SetLinuxResourcesMemoryReservation(res)
	g.SetLinuxResourcesPidsLimit(64)
	g.SetLinuxResourcesCPUShares(512)
	g.SetLinuxResourcesCPUQuota(50000)
	g.SetLinuxResourcesCPUPeriod(100000)
	r := util.NewContainer(t, "cgroups", g)
	if r == nil {
		return
	}
	defer r.Clean()
	cgPath := "/" + r.ID
	g.SetLinuxCgroupsPath(cgPath)
	if err := r.SetConfig(g); !t.Check(err, "write config.json") {
		return
	}
	if err := r.Create(); !t.Check(err, "create") {
		return
	}
	st, err := r.State()
	if !t.Check(err, "state") {
		return
	}
	if dir, ok := v2Dir(st.Pid); ok && !strings.HasSuffix(dir, "/") {
		if _, err := os.Stat(filepath.Join(dir, "memory.max")); err == nil || !v1Has(st.Pid, cgPath) {
			t.Diag("cgroup v2: " + dir)
			t.Spec(strings.HasSuffix(dir, cgPath), specerror.CgroupsAbsPathRelToMount, fmt.Sprintf("the process is in the cgroup %s (v2: %s)", cgPath, dir))
			t.Ok(read(filepath.Join(dir, "memory.max")) == fmt.Sprint(mem), "v2 memory.max is the limit (got "+read(filepath.Join(dir, "memory.max"))+")")
			t.Ok(read(filepath.Join(dir, "memory.low")) == fmt.Sprint(res), "v2 memory.low is the reservation (got "+read(filepath.Join(dir, "memory.low"))+")")
			t.Ok(read(filepath.Join(dir, "pids.max")) == "64", "v2 pids.max is 64 (got "+read(filepath.Join(dir, "pids.max"))+")")
			t.Ok(read(filepath.Join(dir, "cpu.max")) == "50000 100000", "v2 cpu.max is the quota and period (got "+read(filepath.Join(dir, "cpu.max"))+")")
			return
		}
	}
	cg, err := cgroups.FindCgroup()
	if !t.Check(err, "find the cgroup v1 mount") {
		return
	}
	m, err := cg.GetMemoryData(st.Pid, cgPath)
	if t.Check(err, "v1 memory cgroup at "+cgPath) {
		t.Ok(m.Limit != nil && *m.Limit == mem, fmt.Sprintf("memory.limit_in_bytes is %d", mem))
		t.Ok(m.Reservation != nil && *m.Reservation == res, fmt.Sprintf("memory.soft_limit_in_bytes is %d", res))
	}
	p, err := cg.GetPidsData(st.Pid, cgPath)
	if t.Check(err, "v1 pids cgroup at "+cgPath) {
		t.Ok(p.Limit == 64, fmt.Sprintf("pids.max is 64 (got %d)", p.Limit))
	}
	c, err := cg.GetCPUData(st.Pid, cgPath)
	if t.Check(err, "v1 cpu cgroup at "+cgPath) {
		t.Ok(c.Shares != nil && *c.Shares == 512, "cpu.shares is 512")
		t.Ok(c.Quota != nil && *c.Quota == 50000, "cpu.cfs_quota_us is 50000")
		t.Ok(c.Period != nil && *c.Period == 100000, "cpu.cfs_period_us is 100000")
	}
	sub, err := cgroups.GetSubsystemPath(st.Pid, "memory")
	t.Spec(err == nil && sub == cgPath, specerror.CgroupsPathAttach, fmt.Sprintf("the process is in the memory cgroup %s (got %s)", cgPath, sub))
}

func v1Has(pid int, cgPath string) bool {
	sub, err := cgroups.GetSubsystemPath(pid, "memory")
	return err == nil && sub == cgPath
}
