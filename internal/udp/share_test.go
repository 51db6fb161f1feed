package udp

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestOnClose: the functions run once, before the socket closes; a
// cancelled one does not run; none can be added to a closed socket.
func TestOnClose(t *testing.T) {
	c, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	dst := c.LocalAddr()
	var ran, cancelled int
	var sendErr error
	if _, ok := c.OnClose(func() {
		ran++
		_, sendErr = c.WriteTo([]byte("x"), dst) // the socket is still open
	}); !ok {
		t.Fatal("OnClose on an open socket refused")
	}
	cancel, ok := c.OnClose(func() { cancelled++ })
	if !ok {
		t.Fatal("OnClose refused")
	}
	cancel()
	c.Close()
	c.Close()
	if ran != 1 || cancelled != 0 {
		t.Fatalf("hook ran %d times, cancelled hook %d times; want 1 and 0", ran, cancelled)
	}
	if sendErr != nil {
		t.Fatalf("send from the hook: %v, want the socket still open", sendErr)
	}
	if _, err := c.WriteTo([]byte("x"), dst); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after Close = %v", err)
	}
	if _, ok := c.OnClose(func() {}); ok {
		t.Fatal("OnClose on a closed socket accepted")
	}
}
