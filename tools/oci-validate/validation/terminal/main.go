// terminal: process.terminal true with --console-socket: the runtime sends the pty master over the unix socket
// (SCM_RIGHTS), the process's stdio is the pty slave (isatty), and its output arrives on the master.
package main

import (
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"capvisor.dev/ocivalidate/util"
)

func main() {
	t := util.NewTAP()
	defer t.Done()
	g := util.DefaultGenerator()
	g.SetProcessTerminal(true)
	g.SetProcessArgs([]string{"/bin/sh", "-c", "tty; test -t 0 && test -t 1 && echo both-ttys; sleep 1"})
	r := util.NewContainer(t, "terminal", g)
	if r == nil {
		return
	}
	defer r.Clean()
	dir, _ := ioutil.TempDir(os.Getenv("OCI_VALIDATE_TMP"), "console-")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if !t.Check(err, "listen on the console socket") {
		return
	}
	defer l.Close()
	master := make(chan *os.File, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			master <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			master <- nil
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			master <- nil
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) == 0 {
			master <- nil
			return
		}
		master <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	o, e, err := util.Command("create", "--bundle", r.BundleDir, "--console-socket", sock, r.ID)
	if !t.Check(err, fmt.Sprintf("create --console-socket (%q %q)", o, e)) {
		return
	}
	var m *os.File
	select {
	case m = <-master:
	case <-time.After(10 * time.Second):
	}
	if !t.Ok(m != nil, "the runtime sent a pty master over the console socket") {
		return
	}
	defer m.Close()
	_, err = unix.IoctlGetWinsize(int(m.Fd()), unix.TIOCGWINSZ)
	t.Check(err, "the received fd is a terminal")
	if err := r.Start(); !t.Check(err, "start") {
		return
	}
	out := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			sb.Write(buf[:n])
			if err != nil || strings.Contains(sb.String(), "both-ttys") {
				break
			}
		}
		out <- sb.String()
	}()
	var got string
	select {
	case got = <-out:
	case <-time.After(10 * time.Second):
	}
	t.Ok(strings.Contains(got, "/dev/pts/"), fmt.Sprintf("the process's stdin is a pty (tty printed %q)", got))
	t.Ok(strings.Contains(got, "both-ttys"), "stdin and stdout are terminals, output arrives on the master")
	_, err = r.WaitState("stopped", 15*time.Second)
	t.Check(err, "the container stopped")
}
