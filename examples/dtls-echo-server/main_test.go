package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestOpenSSLClient: openssl s_client with the RIOT example's PSK talks to
// the echo server and gets its line back.
func TestOpenSSLClient(t *testing.T) {
	testutil.Peer(t, "openssl")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan netip.AddrPort, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, slog.New(slog.DiscardHandler), Options{
			Listen: netip.MustParseAddrPort("127.0.0.1:0"), PSKID: "Client_identity", PSKKey: "secretPSK", Sessions: 1,
		}, ready)
	}()
	port := <-ready
	p := testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", port.String(),
		"-psk", fmt.Sprintf("%x", "secretPSK"), "-psk_identity", "Client_identity")
	if !p.WaitOutput("Cipher is", testutil.Patience) {
		t.Fatalf("s_client: %s", p.Output())
	}
	io.WriteString(p.Stdin, "ping from openssl\n")
	// The echo comes back: s_client prints it a second time after our input
	// was sent (it does not print its own input).
	if !p.WaitOutput("ping from openssl", testutil.Patience) {
		t.Fatalf("no echo:\n%s", p.Output())
	}
	p.Stdin.Close() // s_client sends close_notify at EOF: the session ends
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("server did not finish its session after close_notify")
	}
	cancel()
}
