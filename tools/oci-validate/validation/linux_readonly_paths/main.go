// linux_readonly_paths: a file and a directory of the rootfs (plus /proc/sys) listed in readonlyPaths are not
// writable (EROFS).
package main

import (
	"io/ioutil"
	"os"
	"path/filepath"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.AddLinuxReadonlyPaths("/ro-dir")
	g.AddLinuxReadonlyPaths("/ro-file")
	g.AddLinuxReadonlyPaths("/proc/sys")
	util.RunInside(t, "linux_readonly_paths", g, util.Steps{Prepare: func(r *util.Runtime) error {
		root := filepath.Join(r.BundleDir, "rootfs")
		if err := os.MkdirAll(filepath.Join(root, "ro-dir"), 0o755); err != nil {
			return err
		}
		return ioutil.WriteFile(filepath.Join(root, "ro-file"), []byte("x\n"), 0o644)
	}})
}
