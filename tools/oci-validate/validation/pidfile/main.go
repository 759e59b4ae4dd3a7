// pidfile: create --pid-file F writes the container process's pid, the same as state.pid.
package main

import (
	"fmt"
	"io/ioutil"
	"path/filepath"
	"strconv"
	"strings"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sleep", "600"})
	r := util.NewContainer(t, "pidfile", g)
	if r == nil {
		return
	}
	defer r.Clean()
	r.PidFile = filepath.Join(r.BundleDir, "container.pid")
	if err := r.Create(); !t.Check(err, "create --pid-file") {
		return
	}
	b, err := ioutil.ReadFile(r.PidFile)
	t.Check(err, "the pid file exists after create")
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Ok(perr == nil && pid > 0, fmt.Sprintf("it holds a pid (%q)", string(b)))
	st, err := r.State()
	t.Ok(err == nil && st.Pid == pid, fmt.Sprintf("the same as state.pid (%d vs %d)", pid, st.Pid))
	t.Ok(util.ProcessAlive(pid), "that process is alive")
}
