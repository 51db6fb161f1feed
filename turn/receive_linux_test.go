package turn_test

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/turn"
)

// TestReceivePersistentError: when every read of the allocation's socket
// fails, its receive goroutine backs off on the module's clock and, after
// a few errors in a row, fails the allocation with the cause (status
// Failed) instead of spinning; Destroy still ends it.
func TestReceivePersistentError(t *testing.T) {
	p := testutil.StartPionTURN(t)
	defer p.Close()
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := openModule(t, clk)
	a, err := turn.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	if err := a.Config(turn.Config{Server: p.Addr, Username: p.User, Password: p.Password, Local: netip.AddrPortFrom(lo, 0)}); err != nil {
		t.Fatal(err)
	}
	if st, err := waitStatus(t, a, turn.Allocated, 20*time.Second); st != turn.Allocated {
		t.Fatalf("status %v %v", st, err)
	}
	if err := turn.BreakSocket(a); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := a.Status()
		if st == turn.Failed {
			if err != nil {
				t.Fatalf("Status: %v (the cause belongs to Err)", err)
			}
			if err := a.Err(); !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, syscall.ENOTSOCK) {
				t.Fatalf("Failed with %v, want the read error", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %v, %v: the allocation did not fail", st, err)
		}
		clk.Advance(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
}
