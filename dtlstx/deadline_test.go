package dtlstx_test

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/clock"
)

// TestPacketConnDeadlineOnModuleClock: the PacketConn's read deadline runs
// on the module's clock: a blocked ReadFrom returns os.ErrDeadlineExceeded
// when the fake clock reaches the deadline, and not before.
func TestPacketConnDeadlineOnModuleClock(t *testing.T) {
	start := time.Now().AddDate(100, 0, 0) // a wall-time deadline would wait a century
	fake := clock.NewFake(start)
	mod, err := mediaport.OpenModule(mediaport.Options{Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	rx, err := dtlsrx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := dtlstx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Config(dtlstx.Config{Destination: netip.MustParseAddrPort("127.0.0.1:9")}); err != nil {
		t.Fatal(err)
	}
	pc, err := dtlstx.NewPacketConn(rx, tx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetReadDeadline(start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := pc.ReadFrom(make([]byte, 100))
		done <- err
	}()
	fake.Advance(999 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("ReadFrom returned %v before the deadline on the module clock", err)
	default:
	}
	fake.Advance(time.Millisecond)
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadFrom still blocked after the module clock passed the deadline")
	}
}
