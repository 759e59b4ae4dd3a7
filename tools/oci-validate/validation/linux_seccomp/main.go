// linux_seccomp: a seccomp filter (default allow; mkdir and mkdirat fail with EPERM) is in force for the process.
package main

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "mkdir /tmp/denied 2>/dev/null && echo made || echo refused; " +
		"touch /tmp/allowed && echo touched; grep Seccomp: /proc/self/status"})
	g.Config.Linux.Seccomp = &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32},
		Syscalls:      []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActErrno}},
	}
	out, ok := util.RunProcess(t, "linux_seccomp", g, util.Steps{})
	if ok {
		t.Ok(len(out) > 0 && out[:8] == "refused\n", fmt.Sprintf("mkdir is refused by the filter (stdout %q)", out))
		t.Ok(contains(out, "touched\n"), "other syscalls are allowed")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
