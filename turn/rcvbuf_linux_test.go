package turn_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/turn"
)

// TestAllocationReadBuffer: Config.ReadBuffer reaches the allocation's
// socket (ReadBuffer reports the kernel's grant, doubled on Linux), and a
// negative size is refused with ErrInvalidArgument. No server answers:
// the socket is what is checked.
func TestAllocationReadBuffer(t *testing.T) {
	mod := openModule(t, nil)
	srv := netip.MustParseAddrPort("127.0.0.1:9") // discard: nothing answers
	bad, _ := turn.Create(mod)
	if err := bad.Config(turn.Config{Server: srv, ReadBuffer: -1}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("ReadBuffer -1: %v", err)
	}
	a, err := turn.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	if _, err := a.ReadBuffer(); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("ReadBuffer before Config: %v", err)
	}
	if err := a.Config(turn.Config{Server: srv, Username: "u", Password: "p", ReadBuffer: 96 << 10}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ReadBuffer(); err != nil || got != 192<<10 {
		t.Fatalf("ReadBuffer = %d, %v; want 192 KiB", got, err)
	}
}
