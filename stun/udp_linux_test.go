package stun

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
)

// TestUDPTransportPersistentError: a socket whose every read fails (its
// descriptor replaced by a pipe's) makes Serve back off on the session's
// clock and stop after rxloop's limit, with the error in Err, instead of
// spinning; Close still ends it.
func TestUDPTransportPersistentError(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	u, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	s, err := Create(Config{Clock: clk}, "test", Callbacks{OnSendMsg: u.Send}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	rc, _ := u.conn.UDPConn().SyscallConn()
	var derr error
	rc.Control(func(fd uintptr) { derr = syscall.Dup3(p[0], int(fd), 0) })
	if derr != nil {
		t.Fatal(derr)
	}
	u.Serve(s)
	for deadline := time.Now().Add(20 * time.Second); u.Err() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not give up")
		}
		clk.Advance(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(u.Err(), syscall.ENOTSOCK) {
		t.Fatalf("Err = %v, want ENOTSOCK", u.Err())
	}
}
