// create_errors: configs a runtime cannot apply make create fail, and leave nothing behind: state of the ID fails,
// list does not show it, and the same ID can then be created from a good bundle. (A missing bundle, a missing
// rootfs, config.json that is not JSON, empty process.args, a relative cwd, an unknown rlimit, an unknown
// capability.)
package main

import (
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	cases := []struct {
		name string
		code specerror.Code
		bad  func(r *util.Runtime, g *generate.Generator) error
	}{
		{"the bundle directory does not exist", specerror.CreateWithBundlePathAndID, func(r *util.Runtime, g *generate.Generator) error {
			r.BundleDir = filepath.Join(r.BundleDir, "no-such-bundle")
			return nil
		}},
		{"root.path does not exist", specerror.RootPathExist, func(r *util.Runtime, g *generate.Generator) error {
			g.SetRootPath("no-such-rootfs")
			return r.SetConfig(g)
		}},
		{"config.json is not JSON", specerror.PropApplyFailNotCreate, func(r *util.Runtime, g *generate.Generator) error {
			return ioutil.WriteFile(filepath.Join(r.BundleDir, "config.json"), []byte("{\"ociVersion\": "), 0o644)
		}},
		{"process.args is empty", specerror.ProcArgsOneEntryRequired, func(r *util.Runtime, g *generate.Generator) error {
			g.Config.Process.Args = []string{}
			return r.SetConfig(g)
		}},
		{"process.cwd is relative", specerror.ProcCwdAbs, func(r *util.Runtime, g *generate.Generator) error {
			g.SetProcessCwd("relative/dir")
			return r.SetConfig(g)
		}},
		{"an unknown rlimit type", specerror.PosixProcRlimitsTypeGenError, func(r *util.Runtime, g *generate.Generator) error {
			g.Config.Process.Rlimits = append(g.Config.Process.Rlimits, rspec.POSIXRlimit{Type: "RLIMIT_NO_SUCH", Hard: 1, Soft: 1})
			return r.SetConfig(g)
		}},
		{"an unknown capability", specerror.LinuxProcCapError, func(r *util.Runtime, g *generate.Generator) error {
			g.Config.Process.Capabilities.Bounding = append(g.Config.Process.Capabilities.Bounding, "CAP_NO_SUCH")
			return r.SetConfig(g)
		}},
	}
	for _, c := range cases {
		g := util.DefaultGenerator()
		g.SetProcessArgs([]string{"/bin/sh", "-c", "echo started > /started"})
		r := util.NewContainer(t, "create_errors", g)
		if r == nil {
			return
		}
		bundle := r.BundleDir
		if err := c.bad(r, g); !t.Check(err, "prepare: "+c.name) {
			r.Clean()
			continue
		}
		err := r.Create()
		if err == nil {
			// runc may accept at create what it refuses at start: then start must fail.
			err = r.Start()
			t.Spec(err != nil, c.code, fmt.Sprintf("%s: create or start fails", c.name))
			r.Clean()
			r.BundleDir = bundle
			r.Clean()
			continue
		}
		t.Spec(true, c.code, fmt.Sprintf("%s: create fails (%v)", c.name, firstLine(err.Error())))
		_, serr := r.State()
		ids, _ := util.ListIDs()
		listed := false
		for _, id := range ids {
			listed = listed || id == r.ID
		}
		t.Spec(serr != nil && !listed, specerror.PropApplyFailNotCreate, c.name+": no container is left (state fails, list does not show it)")
		// The same ID from a good bundle.
		good := util.DefaultGenerator()
		good.SetProcessArgs([]string{"/bin/true"})
		r.BundleDir = bundle
		_ = os.RemoveAll(filepath.Join(bundle, "rootfs", "started"))
		if err := r.SetConfig(good); err == nil {
			err = r.Create()
			t.Spec(err == nil, specerror.ErrorsLeaveStateUnchange, fmt.Sprintf("%s: the ID can be created afterwards (%v)", c.name, err))
		}
		r.Clean()
	}
}

func firstLine(s string) string {
	for i := range s {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
