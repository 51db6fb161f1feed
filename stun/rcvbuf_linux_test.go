package stun

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
)

// TestUDPTransportReadBuffer: SetReadBuffer returns what the kernel
// granted (Linux doubles a size within rmem_max) and refuses sizes out of
// range with ErrInvalidArgument; a nil transport returns ErrNilHandle.
func TestUDPTransportReadBuffer(t *testing.T) {
	u, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got, err := u.SetReadBuffer(64 << 10); err != nil || got != 128<<10 {
		t.Fatalf("SetReadBuffer(64 KiB) = %d, %v; want 128 KiB", got, err)
	}
	for _, n := range []int{0, -1, 1<<30 + 1} {
		if _, err := u.SetReadBuffer(n); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Errorf("SetReadBuffer(%d): %v", n, err)
		}
	}
	var nilT *UDPTransport
	if _, err := nilT.SetReadBuffer(1); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil: %v", err)
	}
}
