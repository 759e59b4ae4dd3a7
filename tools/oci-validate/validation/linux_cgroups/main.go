// linux_cgroups: linux.resources (memory limit and reservation, pids limit, cpu shares/quota/period) under an
// absolute cgroupsPath are applied to the container's cgroup before start. Checked from outside: cgroup v1 through
// runtime-tools' cgroups package; when the container's process sits in a cgroup v2 hierarchy instead, the v2 files.
package main

import (
	"fmt"
	"io/ioutil"
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
	// The container's process (ps): a runtime may put it in cgroupsPath itself (runc) or below it (capvisor: the
	// sandbox's cgroups go under cgroupsPath); the limits are read where the process is.
	pid, err := util.ContainerProcess(r)
	if !t.Check(err, "find the container's process") {
		return
	}
	if dir, ok := v2Dir(pid); ok && !v1Has(pid, cgPath) {
		t.Diag("cgroup v2: " + dir)
		t.Spec(strings.Contains(dir, cgPath), specerror.CgroupsPathAttach, fmt.Sprintf("the process is in the cgroup %s or below (v2: %s)", cgPath, dir))
		t.Ok(read(filepath.Join(dir, "memory.max")) == fmt.Sprint(mem), "v2 memory.max is the limit (got "+read(filepath.Join(dir, "memory.max"))+")")
		t.Ok(read(filepath.Join(dir, "memory.low")) == fmt.Sprint(res), "v2 memory.low is the reservation (got "+read(filepath.Join(dir, "memory.low"))+")")
		t.Ok(read(filepath.Join(dir, "pids.max")) == "64", "v2 pids.max is 64 (got "+read(filepath.Join(dir, "pids.max"))+")")
		t.Ok(read(filepath.Join(dir, "cpu.max")) == "50000 100000", "v2 cpu.max is the quota and period (got "+read(filepath.Join(dir, "cpu.max"))+")")
		return
	}
	cg, err := cgroups.FindCgroup()
	if !t.Check(err, "find the cgroup v1 mount") {
		return
	}
	// A relative path makes runtime-tools' cgroups package read the process's own cgroup, after checking that it
	// lies at or below cgroupsPath.
	rel := strings.TrimPrefix(cgPath, "/")
	for _, sub := range []string{"memory", "pids", "cpu"} {
		at, err := cgroups.GetSubsystemPath(pid, sub)
		t.Spec(err == nil && strings.HasPrefix(at, cgPath), specerror.CgroupsPathAttach,
			fmt.Sprintf("the process is in the %s cgroup %s or below (got %s)", sub, cgPath, at))
	}
	m, err := cg.GetMemoryData(pid, rel)
	if t.Check(err, "v1 memory cgroup of the process") {
		t.Ok(m.Limit != nil && *m.Limit == mem, fmt.Sprintf("memory.limit_in_bytes is %d (got %v)", mem, deref(m.Limit)))
		t.Ok(m.Reservation != nil && *m.Reservation == res, fmt.Sprintf("memory.soft_limit_in_bytes is %d (got %v)", res, deref(m.Reservation)))
	}
	p, err := cg.GetPidsData(pid, rel)
	if t.Check(err, "v1 pids cgroup of the process") {
		t.Ok(p.Limit == 64, fmt.Sprintf("pids.max is 64 (got %d)", p.Limit))
	}
	c, err := cg.GetCPUData(pid, rel)
	if t.Check(err, "v1 cpu cgroup of the process") {
		t.Ok(c.Shares != nil && *c.Shares == 512, fmt.Sprintf("cpu.shares is 512 (got %v)", derefU(c.Shares)))
		t.Ok(c.Quota != nil && *c.Quota == 50000, fmt.Sprintf("cpu.cfs_quota_us is 50000 (got %v)", deref(c.Quota)))
		t.Ok(c.Period != nil && *c.Period == 100000, fmt.Sprintf("cpu.cfs_period_us is 100000 (got %v)", derefU(c.Period)))
	}
}

func deref(p *int64) interface{} {
	if p == nil {
		return "unset"
	}
	return *p
}

func derefU(p *uint64) interface{} {
	if p == nil {
		return "unset"
	}
	return *p
}

func v1Has(pid int, cgPath string) bool {
	sub, err := cgroups.GetSubsystemPath(pid, "memory")
	return err == nil && (sub == cgPath || strings.HasPrefix(sub, cgPath+"/"))
}
