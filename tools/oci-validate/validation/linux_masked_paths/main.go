// linux_masked_paths: a file and a directory of the rootfs listed in maskedPaths (plus a /proc file) read as empty.
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
	g.AddLinuxMaskedPaths("/masked-dir")
	g.AddLinuxMaskedPaths("/masked-file")
	g.AddLinuxMaskedPaths("/proc/kcore")
	g.AddLinuxMaskedPaths("/masked-absent")
	util.RunInside(t, "linux_masked_paths", g, util.Steps{Prepare: func(r *util.Runtime) error {
		root := filepath.Join(r.BundleDir, "rootfs")
		if err := os.MkdirAll(filepath.Join(root, "masked-dir"), 0o755); err != nil {
			return err
		}
		if err := ioutil.WriteFile(filepath.Join(root, "masked-dir", "secret"), []byte("secret\n"), 0o644); err != nil {
			return err
		}
		return ioutil.WriteFile(filepath.Join(root, "masked-file"), []byte("secret\n"), 0o644)
	}})
}
