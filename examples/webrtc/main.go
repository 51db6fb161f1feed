// Command webrtc echoes a browser's microphone back to it through
// mediaport alone: it serves a page on 127.0.0.1, answers the page's WebRTC
// offer (SDP parsed and built with pion/sdp; mediaport itself knows no
// SDP), and runs each call on one VMP[rx] port:
//
//   - ICE-lite: the browser's connectivity checks are answered on the
//     media port (a=ice-lite in the answer, one host candidate);
//   - DTLS-SRTP: a terminated DTLS association on the same port, the
//     browser's certificate pinned by its a=fingerprint, the SRTP keys
//     exported from it; we are the DTLS server (a=setup:passive) or the
//     client (-setup active, or the page's choice);
//   - SRTP both ways: an srtp.Session keyed from the association's
//     SRTPKeys decrypts on the VMP[rx] (ConfigSRTP) and encrypts on a
//     dispatcher that shares the media port's socket (Config.Local is the
//     port; its ConfigSRTP), so the browser's RTP is decrypted, re-stamped
//     with our SSRC, encrypted and sent back from the address its checks
//     selected;
//   - consent (RFC 7675): the echo sends only while the selected pair has
//     it, and the call ends when it expires or DTLS closes.
//
// Open the printed URL, press Start, allow the microphone and speak: the
// audio comes back, and the page shows its getStats (inbound-rtp
// packetsReceived counts the echo).
//
//	go run ./examples/webrtc [-http 127.0.0.1:8080] [-setup passive|active] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/mediaport/mediaport"
)

func main() {
	addr := flag.String("http", "127.0.0.1:8080", "HTTP address of the page")
	setup := flag.String("setup", "passive", "DTLS role answered by default: passive (server) or active (client)")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, Role(*setup), log, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webrtc:", err)
		os.Exit(1)
	}
}

// run serves the page and the calls on addr until ctx is done; it prints
// the page's URL to out.
func run(ctx context.Context, addr string, role Role, log *slog.Logger, out io.Writer) error {
	if role != Passive && role != Active {
		return fmt.Errorf("-setup %q: want passive or active", role)
	}
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return err
	}
	defer mod.Close()
	srv, err := NewServer(mod, Config{Role: role})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		srv.Close()
		hs.Shutdown(context.Background())
	}()
	fmt.Fprintf(out, "open http://%s/ in a browser\n", ln.Addr())
	err = hs.Serve(ln)
	<-done
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
