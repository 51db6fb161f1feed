// Command dtls-echo-server is the RIOT sock_dtls echo server rebuilt on
// mediaport: a VMP[rx] on one UDP port with a DTLS[rx]/DTLS[tx] pair bound
// into a terminated DTLS 1.2 association (pion/dtls), credentials from the
// module's pool. It answers one client at a time, echoing every datagram,
// and serves the next client after close_notify.
//
//	go run ./examples/dtls-echo-server                 # PSK, 127.0.0.1:20220
//	go run ./examples/dtls-echo-server -cert           # a self-signed ECDSA certificate
//	openssl s_client -dtls1_2 -connect 127.0.0.1:20220 -psk 73656372657450534b -psk_identity Client_identity
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/vmprx"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

const tag mediaport.CredTag = 10 // SOCK_DTLS_SERVER_TAG

// Options are the server's flags.
type Options struct {
	Listen   netip.AddrPort
	PSKID    string
	PSKKey   string
	PSKHint  string
	Cert     bool
	Sessions int // 0: serve forever
}

func main() {
	var o Options
	listen := flag.String("listen", "127.0.0.1:20220", "address and port to listen on")
	flag.StringVar(&o.PSKID, "psk-id", "Client_identity", "PSK identity")
	flag.StringVar(&o.PSKKey, "psk-key", "secretPSK", "PSK key (bytes of this string)")
	flag.StringVar(&o.PSKHint, "psk-hint", "", "PSK identity hint to send")
	flag.BoolVar(&o.Cert, "cert", false, "use a self-signed ECDSA certificate instead of the PSK")
	flag.IntVar(&o.Sessions, "sessions", 0, "serve this many clients, then exit (0: forever)")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	var err error
	if o.Listen, err = netip.ParseAddrPort(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "dtls-echo-server:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Serve(ctx, log, o, nil); err != nil {
		fmt.Fprintln(os.Stderr, "dtls-echo-server:", err)
		os.Exit(1)
	}
}

// Serve listens and echoes until ctx is done or o.Sessions clients were
// served. ready, if not nil, receives the port once listening.
func Serve(ctx context.Context, log *slog.Logger, o Options, ready chan<- netip.AddrPort) error {
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return err
	}
	defer mod.Close()
	cred := mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte(o.PSKID), Key: []byte(o.PSKKey)}}
	if o.Cert {
		cert, err := selfsign.GenerateSelfSignedWithDNS("dtls-echo-server")
		if err != nil {
			return err
		}
		cred = mediaport.Credential{Tag: tag, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: cert}}
		fmt.Println("certificate", association.Fingerprint(cert.Certificate[0]))
	}
	if err := mod.AddCredential(cred); err != nil { // credman_add
		return err
	}
	v, err := vmprx.Create(mod)
	if err != nil {
		return err
	}
	if err := v.Config(vmprx.Config{Local: o.Listen.Addr(), RTPPort: o.Listen.Port(), RTCPMux: true}); err != nil {
		return err
	}
	port, _, _ := v.Ports()
	fmt.Println("listening on", port)
	if ready != nil {
		ready <- port
	}
	for served := 0; o.Sessions == 0 || served < o.Sessions; served++ {
		if err := session(ctx, log, mod, v, port, o); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("session ended", "err", err)
		}
	}
	return nil
}

// session serves one client: sock_dtls_create, then recv/send until the
// client's close_notify.
func session(ctx context.Context, log *slog.Logger, mod *mediaport.Module, v *vmprx.VMPRx, port netip.AddrPort, o Options) error {
	rx, err := dtlsrx.Create(mod)
	if err != nil {
		return err
	}
	defer rx.Destroy()
	tx, err := dtlstx.Create(mod)
	if err != nil {
		return err
	}
	defer tx.Destroy()
	if err := v.ConfigDTLS(rx, false); err != nil {
		return err
	}
	defer v.ConfigDTLS(nil, false)
	if err := tx.Config(dtlstx.Config{Local: port}); err != nil { // the peer is learned from its ClientHello
		return err
	}
	a, err := association.Bind(rx, tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{tag},
		PSKHint: o.PSKHint, HandshakeTimeout: 24 * time.Hour})
	if err != nil {
		return err
	}
	ev, _ := rx.Event()
	buf := make([]byte, 2048)
	for {
		if err := ev.Wait(ctx); err != nil {
			return err
		}
		st, err := rx.Status()
		switch st {
		case dtlsrx.Handshake:
			info, _ := a.Info()
			fmt.Printf("session with %v: %s\n", a.Peer(), info.CipherSuiteName)
		case dtlsrx.HasPacket:
			for {
				n, src, err := rx.GetPacket(buf)
				if errors.Is(err, dtlsrx.ErrNoPacket) {
					break
				}
				if err != nil {
					return err
				}
				fmt.Printf("echo %d bytes to %v: %q\n", n, src, buf[:n])
				if err := tx.SendPacket(buf[:n]); err != nil {
					return err
				}
			}
		case dtlsrx.Stopped:
			fmt.Printf("session with %v closed\n", a.Peer())
			return err // nil after the client's close_notify
		}
	}
}
