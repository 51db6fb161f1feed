// Command dtls-echo-client is the RIOT sock_dtls echo client rebuilt on
// mediaport: it binds a DTLS[rx]/DTLS[tx] pair on a VMP[rx] port into a
// client association (sock_dtls_session_init), sends messages
// (sock_dtls_send), prints the echoes (sock_dtls_recv) and closes with
// close_notify (sock_dtls_session_destroy).
//
//	go run ./examples/dtls-echo-client -server 127.0.0.1:20220 -msg hello
//	go run ./examples/dtls-echo-client -cert    # against a -cert server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/vmprx"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

const tag mediaport.CredTag = 20 // SOCK_DTLS_CLIENT_TAG

// Options are the client's flags.
type Options struct {
	Server netip.AddrPort
	PSKID  string
	PSKKey string
	Cert   bool
	Msg    string
	Count  int
}

func main() {
	var o Options
	server := flag.String("server", "127.0.0.1:20220", "server address and port")
	flag.StringVar(&o.PSKID, "psk-id", "Client_identity", "PSK identity")
	flag.StringVar(&o.PSKKey, "psk-key", "secretPSK", "PSK key (bytes of this string)")
	flag.BoolVar(&o.Cert, "cert", false, "use a self-signed ECDSA certificate instead of the PSK")
	flag.StringVar(&o.Msg, "msg", "Hello from the mediaport DTLS echo client", "message to send")
	flag.IntVar(&o.Count, "count", 3, "messages to send")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	var err error
	if o.Server, err = netip.ParseAddrPort(*server); err != nil {
		fmt.Fprintln(os.Stderr, "dtls-echo-client:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if _, err := Run(log, o); err != nil {
		fmt.Fprintln(os.Stderr, "dtls-echo-client:", err)
		os.Exit(1)
	}
}

// Run connects, sends o.Count messages, waits for each echo and closes. It
// returns the echoes.
func Run(log *slog.Logger, o Options) ([]string, error) {
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	defer mod.Close()
	cred := mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte(o.PSKID), Key: []byte(o.PSKKey)}}
	if o.Cert {
		cert, err := selfsign.GenerateSelfSignedWithDNS("dtls-echo-client")
		if err != nil {
			return nil, err
		}
		cred = mediaport.Credential{Tag: tag, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: cert}}
	}
	if err := mod.AddCredential(cred); err != nil {
		return nil, err
	}
	v, err := vmprx.Create(mod)
	if err != nil {
		return nil, err
	}
	local := netip.IPv4Unspecified()
	if o.Server.Addr().Is6() {
		local = netip.IPv6Unspecified()
	}
	if err := v.Config(vmprx.Config{Local: local, RTCPMux: true}); err != nil {
		return nil, err
	}
	port, _, _ := v.Ports()
	rx, _ := dtlsrx.Create(mod)
	tx, _ := dtlstx.Create(mod)
	v.ConfigDTLS(rx, false)
	if err := tx.Config(dtlstx.Config{Destination: o.Server, Local: port}); err != nil {
		return nil, err
	}
	a, err := association.Bind(rx, tx, association.Config{Role: association.Client, Tags: []mediaport.CredTag{tag},
		HandshakeTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ev, _ := rx.Event()
	buf := make([]byte, 2048)
	var echoes []string
	sent := 0
	for len(echoes) < o.Count {
		if err := ev.Wait(ctx); err != nil {
			return echoes, fmt.Errorf("waiting for the server: %w", err)
		}
		st, err := rx.Status()
		switch st {
		case dtlsrx.Handshake:
			info, _ := a.Info()
			fmt.Printf("connected to %v: %s\n", o.Server, info.CipherSuiteName)
		case dtlsrx.Stopped:
			return echoes, fmt.Errorf("association ended: %v", err)
		}
		if as, _ := a.State(); sent == 0 && as == association.Established {
			for ; sent < o.Count; sent++ {
				if err := tx.SendPacket([]byte(fmt.Sprintf("%s #%d", o.Msg, sent+1))); err != nil {
					return echoes, err
				}
			}
		}
		for {
			n, _, err := rx.GetPacket(buf)
			if errors.Is(err, dtlsrx.ErrNoPacket) {
				break
			}
			if err != nil {
				return echoes, err
			}
			echoes = append(echoes, string(buf[:n]))
			fmt.Printf("echo: %q\n", buf[:n])
		}
	}
	return echoes, tx.Stop() // close_notify
}
