package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestAgainstEchoServer builds the dtls-echo-server example and runs the
// client against it, with the PSK and with certificates.
func TestAgainstEchoServer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dtls-echo-server")
	if out, err := exec.Command("go", "build", "-o", bin, "../dtls-echo-server").CombinedOutput(); err != nil {
		t.Fatalf("building the server: %v\n%s", err, out)
	}
	for _, cert := range []bool{false, true} {
		port := testutil.FreeUDPPort(t)
		args := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-sessions", "1"}
		if cert {
			args = append(args, "-cert")
		}
		srv := testutil.StartCmd(t, exec.Command(bin, args...))
		if !srv.WaitOutput("listening on", testutil.Patience) {
			t.Fatalf("server: %s", srv.Output())
		}
		echoes, err := Run(slog.New(slog.DiscardHandler), Options{
			Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
			PSKID:  "Client_identity", PSKKey: "secretPSK", Cert: cert, Msg: "hi", Count: 3,
		})
		if err != nil || len(echoes) != 3 || echoes[2] != "hi #3" {
			t.Fatalf("cert=%v: echoes %q, %v\nserver:\n%s", cert, echoes, err, srv.Output())
		}
		select {
		case <-srv.Done(): // one session, then exit after our close_notify
		case <-time.After(testutil.Patience):
			t.Fatalf("server did not see the close_notify:\n%s", srv.Output())
		}
	}
}

// TestAgainstOpenSSLServer: openssl s_server with the PSK has no echo mode,
// so the test types the replies into it.
func TestAgainstOpenSSLServer(t *testing.T) {
	testutil.Peer(t, "openssl")
	port := testutil.FreeUDPPort(t)
	srv := testutil.StartProc(t, "openssl", "s_server", "-dtls1_2", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
		"-nocert", "-psk", fmt.Sprintf("%x", "secretPSK"), "-psk_identity", "Client_identity", "-cipher", "ALL")
	if !srv.WaitOutput("ACCEPT", testutil.Patience) {
		t.Fatal(srv.Output())
	}
	go func() {
		if srv.WaitOutput("hello #1", testutil.Patience) {
			io.WriteString(srv.Stdin, "reply from openssl\n")
		}
	}()
	echoes, err := Run(slog.New(slog.DiscardHandler), Options{
		Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		PSKID:  "Client_identity", PSKKey: "secretPSK", Msg: "hello", Count: 1,
	})
	if err != nil || len(echoes) != 1 || !strings.Contains(echoes[0], "reply from openssl") {
		t.Fatalf("echoes %q %v\n%s", echoes, err, srv.Output())
	}
}
