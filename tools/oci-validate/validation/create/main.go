// create: the create operation — needs an ID, makes a container in state "created" without running process.args,
// refuses a duplicate ID without touching the first container; state of an unknown ID is an error.
package main

import (
	"time"

	"github.com/opencontainers/runtime-tools/specerror"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessArgs([]string{"/bin/sh", "-c", "echo started >> /started"})
	r := util.NewContainer(t, "create", g)
	if r == nil {
		return
	}
	defer r.Clean()

	_, _, err := util.Command("create", "--bundle", r.BundleDir)
	t.Spec(err != nil, specerror.CreateWithBundlePathAndID, "create without an ID fails")

	err = r.Create()
	if !t.Spec(err == nil, specerror.CreateNewContainer, "create --bundle B ID succeeds") {
		t.Diag(err.Error())
		return
	}
	st, err := r.State()
	t.Spec(err == nil && st.Status == "created", specerror.CreateNewContainer, "state after create is \"created\" (got "+string(st.Status)+")")
	time.Sleep(300 * time.Millisecond)
	t.Spec(r.ReadRootfsFile("started") == "", specerror.ProcNotRunAtResRequest, "process.args did not run at create")

	dup := *r
	err = dup.Create()
	t.Spec(err != nil, specerror.CreateWithUniqueID, "create with an existing ID fails")
	st2, err2 := r.State()
	t.Spec(err2 == nil && st2.Status == "created" && st2.Pid == st.Pid, specerror.CreateWithUniqueID,
		"the duplicate create left the first container as it was")

	_, _, err = util.Command("state", "ocivalidate-does-not-exist")
	t.Spec(err != nil, specerror.QueryNonExistGenError, "state of an unknown ID fails")
	_, _, err = util.Command("state")
	t.Spec(err != nil, specerror.QueryWithoutIDGenError, "state without an ID fails")

	err = r.Start()
	t.Spec(err == nil, specerror.StartProcImplement, "start runs the process")
	t.Spec(util.WaitFile(r.RootfsFile("started"), 10*time.Second), specerror.ProcArgsApplyUntilStart, "process.args ran after start")
}
