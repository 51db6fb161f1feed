package dtlstx_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// TestStartupErrorInStatus (docs/conformance.md, Prosody 9): a first
// Config that fails — a local port already taken, an address of the wrong
// family — signals the event, and Status returns an error matching
// ErrStartup and the cause (sm_dtlstx_status's "problem during start-up")
// until a Config succeeds; a failed Config of a running DTLS[tx] leaves
// Status clean and the old route working.
func TestStartupErrorInStatus(t *testing.T) {
	mod := openModule(t)
	taken := listen(t, lo4) // its port cannot be bound again
	peer := listen(t, lo4)
	tx, err := dtlstx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Status(); err != nil {
		t.Fatalf("Status before Config: %v", err)
	}
	cfgErr := tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: taken.LocalAddr()})
	if cfgErr == nil {
		t.Fatal("Config on a taken port succeeded")
	}
	ev, _ := tx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := ev.Wait(ctx); err != nil {
		t.Fatalf("no event after the failed start-up: %v", err)
	}
	for range 2 { // level-triggered: the same answer while the cause lasts
		st, err := tx.Status()
		if !errors.Is(err, dtlstx.ErrStartup) || st != dtlstx.Running || err.Error() == dtlstx.ErrStartup.Error() {
			t.Fatalf("Status after a failed start-up: %v, %v; want Running with ErrStartup and the cause (Config: %v)", st, err, cfgErr)
		}
	}
	if tx.Err() != nil {
		t.Fatalf("Err after a start-up failure: %v (nothing has ended)", tx.Err())
	}
	// Another start-up failure replaces the cause.
	err = tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: netip.MustParseAddrPort("[::1]:0")})
	if _, serr := tx.Status(); !errors.Is(serr, dtlstx.ErrStartup) || !errors.Is(serr, mediaport.ErrAddressFamily) || !errors.Is(err, mediaport.ErrAddressFamily) {
		t.Fatalf("family mismatch at start-up: Config %v, Status %v", err, serr)
	}
	// A Config that works clears it.
	if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: netip.AddrPortFrom(lo4, 0)}); err != nil {
		t.Fatal(err)
	}
	if st, err := tx.Status(); err != nil || st != dtlstx.Running {
		t.Fatalf("Status after a Config that works: %v, %v", st, err)
	}
	// A running DTLS[tx] whose reconfiguration fails: no start-up error,
	// and it still sends on the old route.
	if err := tx.Config(dtlstx.Config{Destination: peer.LocalAddr(), Local: taken.LocalAddr()}); err == nil {
		t.Fatal("reconfiguration onto a taken port succeeded")
	}
	if st, err := tx.Status(); err != nil || st != dtlstx.Running {
		t.Fatalf("Status after a failed reconfiguration: %v, %v", st, err)
	}
	if err := tx.SendPacket([]byte("still")); err != nil {
		t.Fatal(err)
	}
	if got, _ := recvFrom(t, peer); got != "still" {
		t.Fatalf("received %q", got)
	}
	// Stopped wins.
	tx.Stop()
	if st, err := tx.Status(); err != nil || st != dtlstx.Stopped {
		t.Fatalf("Status after Stop: %v, %v", st, err)
	}
}
