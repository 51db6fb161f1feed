package testutil

import (
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// StartInNetns starts the named peer inside a new network namespace that
// holds only an up loopback interface (unshare -n), for peers that bind
// every address (gnutls-serv): nothing of theirs is reachable from the
// host's interfaces. It returns the process; use InNetns to create sockets
// that reach it. It skips (or fails under MEDIAPORT_REQUIRE_PEERS=1) when
// the peer or unshare is missing, and needs root.
func StartInNetns(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	bin := Peer(t, name)
	unshare := Peer(t, "unshare")
	Peer(t, "ip")
	all := append([]string{"-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", bin}, args...)
	p := StartCmd(t, exec.Command(unshare, all...))
	// unshare execs sh, which execs the peer: the PID stays the same.
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, _ := exec.Command("cat", fmt.Sprintf("/proc/%d/comm", p.Cmd.Process.Pid)).Output()
		if strings.TrimSpace(string(comm)) == shortComm(name) {
			return p
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not start in a namespace: %s", name, p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shortComm(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// InNetns runs f on an OS thread that has joined the network namespace of
// process pid, and waits for it. Sockets f creates belong to that namespace
// for their whole life; everything else keeps running in the host's.
func InNetns(t testing.TB, pid int, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread never unlocks: Go discards it when this goroutine
		// ends, so no other goroutine runs in the namespace.
		runtime.LockOSThread()
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		f()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("entering the namespace of %d: %v", pid, err)
	}
}
