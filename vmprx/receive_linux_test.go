package vmprx_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/vmprx"
)

// TestPersistentErrorStops: a socket whose every read fails makes the
// port back off on the module's clock and, after rxloop.DefaultLimit
// errors in a row, stop the VMP[rx] with the cause — in both modes,
// instead of spinning. The application calls Status as it would on each
// wake-up (with CallerReads, that reads the socket too).
func TestPersistentErrorStops(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1000, 0))
			mod := openModule(t, mediaport.Options{Clock: clk})
			v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: m.callerReads})
			ev, _ := v.Event()
			waitStatus(t, ev, v.Status, vmprx.GotPorts)
			if err := vmprx.BreakRTPPort(v); err != nil {
				t.Fatal(err)
			}
			// Until the clock has moved, the endpoint runs: the first
			// error only starts a delay.
			deadline := time.Now().Add(20 * time.Second)
			for clk.Pending() == 0 {
				v.Status()
				if time.Now().After(deadline) {
					t.Fatal("no backoff timer started")
				}
				time.Sleep(time.Millisecond)
			}
			if st, err := v.Status(); st == vmprx.Stopped {
				t.Fatalf("stopped before the backoff ran: %v", err)
			}
			for !ev.Permanent() {
				if time.Now().After(deadline) {
					t.Fatal("not stopped")
				}
				clk.Advance(100 * time.Millisecond)
				v.Status()
				time.Sleep(time.Millisecond)
			}
			st, err := v.Status()
			if st != vmprx.Stopped || err != nil {
				t.Fatalf("Status = %v, %v; want Stopped (the cause belongs to Err)", st, err)
			}
			if err := v.Err(); !(errors.Is(err, syscall.ENOTSOCK) || errors.Is(err, os.ErrDeadlineExceeded)) {
				t.Fatalf("Err = %v; want the read error", err)
			}
			if err := v.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
