// mounts: a tmpfs with options, a read-write bind and a read-only bind of host directories; runtimetest checks the
// mount points, types and ro flags, and the program checks from outside that the rw bind's write reached the host
// and the ro bind's write did not.
package main

import (
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	host, err := ioutil.TempDir(os.Getenv("OCI_VALIDATE_TMP"), "mounts-src-")
	if err != nil {
		util.Fatal(err)
	}
	defer os.RemoveAll(host)
	rw, ro := filepath.Join(host, "rw"), filepath.Join(host, "ro")
	_ = os.MkdirAll(rw, 0o755)
	_ = os.MkdirAll(ro, 0o755)
	_ = ioutil.WriteFile(filepath.Join(ro, "hello"), []byte("hello\n"), 0o644)

	g := util.DefaultGenerator()
	g.AddMount(rspec.Mount{Destination: "/mnt/tmpfs", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755", "size=1m"}})
	g.AddMount(rspec.Mount{Destination: "/mnt/rw", Type: "bind", Source: rw, Options: []string{"rbind", "rw"}})
	g.AddMount(rspec.Mount{Destination: "/mnt/ro", Type: "bind", Source: ro, Options: []string{"rbind", "ro"}})
	util.RunInside(t, "mounts", g, util.Steps{})

	// Then the same mounts used by a shell: write through both binds, read the ro one.
	g.SetProcessArgs([]string{"/bin/sh", "-c", "cat /mnt/ro/hello; echo data > /mnt/rw/written && echo rw-ok; " +
		"echo data > /mnt/ro/written 2>/dev/null && echo ro-WRITTEN || echo ro-refused"})
	out, ok := util.RunProcess(t, "mounts-sh", g, util.Steps{})
	if ok {
		t.Ok(out == "hello\nrw-ok\nro-refused\n", fmt.Sprintf("bind mounts behave: read ro, write rw, refuse ro (stdout %q)", out))
		_, err := os.Stat(filepath.Join(rw, "written"))
		t.Ok(err == nil, "the write through the rw bind reached the host directory")
		_, err = os.Stat(filepath.Join(ro, "written"))
		t.Ok(os.IsNotExist(err), "the write through the ro bind did not reach the host directory")
	}
}
