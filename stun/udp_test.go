package stun

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestServeOnce: a second Serve on one UDPTransport starts no second
// reader of its socket, and Close ends the one there is.
func TestServeOnce(t *testing.T) {
	u, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Create(Config{}, "test", Callbacks{OnSendMsg: u.Send}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	// Another test's reader may still be on its way out (Close waits for
	// its wg.Done, not for the goroutine to vanish from the stacks).
	testutil.Eventually(t, testutil.Patience, func() bool { return readers() == 0 }, "readers of other tests still running")
	u.Serve(s)
	u.Serve(s)
	u.Serve(s)
	if n := readers(); n != 1 {
		t.Fatalf("%d goroutines read the socket after three Serve calls, want 1", n)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return readers() == 0 }, "%d readers after Close", readers())
}

// readers counts the goroutines running a UDPTransport's Serve loop.
func readers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("stun.(*UDPTransport).Serve.func1"))
}
