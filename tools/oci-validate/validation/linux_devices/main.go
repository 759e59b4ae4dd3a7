// linux_devices: extra device nodes from linux.devices (char, block, fifo) with mode and owner.
package main

import (
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	mode := os.FileMode(0o640)
	uid, gid := uint32(1000), uint32(1000)
	g.AddDevice(rspec.LinuxDevice{Path: "/dev/test-null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid})
	g.AddDevice(rspec.LinuxDevice{Path: "/dev/test-loop", Type: "b", Major: 7, Minor: 0, FileMode: &mode})
	g.AddDevice(rspec.LinuxDevice{Path: "/dev/test-fifo", Type: "p", FileMode: &mode})
	util.RunInside(t, "linux_devices", g, util.Steps{})
}
