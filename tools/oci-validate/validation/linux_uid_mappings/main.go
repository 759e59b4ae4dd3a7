// linux_uid_mappings: a user namespace with uid/gid mappings (container 0-65535 -> host 100000-165535); checked
// from outside (/proc/PID/uid_map, gid_map) and from inside by runtimetest.
package main

import (
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	if err := g.AddOrReplaceLinuxNamespace("user", ""); err != nil {
		util.Fatal(err)
	}
	g.AddLinuxUIDMapping(100000, 0, 65536)
	g.AddLinuxGIDMapping(100000, 0, 65536)
	util.RunInside(t, "linux_uid_mappings", g, util.Steps{
		Prepare: func(r *util.Runtime) error {
			// The mapped root must be able to reach its rootfs.
			return filepath.Walk(r.BundleDir, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, 100000, 100000)
			})
		},
		Created: func(r *util.Runtime) error {
			st, err := r.State()
			if err != nil {
				return err
			}
			for _, f := range []string{"uid_map", "gid_map"} {
				b, _ := ioutil.ReadFile(fmt.Sprintf("/proc/%d/%s", st.Pid, f))
				got := strings.Join(strings.Fields(string(b)), " ")
				t.Ok(got == "0 100000 65536", fmt.Sprintf("%s is 0 100000 65536 (got %q)", f, got))
			}
			return nil
		},
	})
}
