// Command passthrough runs two media endpoints on loopback in Prosody's
// pass-through mode: each has a VMP[rx] on one rtcp-mux port with a DTLS[rx]
// attached and a DTLS[tx] sending from that same port, and runs its own DTLS
// stack (pion/dtls) over the pair. It completes a DTLS 1.2 handshake between
// them while RTP flows to the same ports, exchanges application data, and
// prints what each VMP[rx] demultiplexed.
//
//	go run ./examples/passthrough [-rtp 200] [-v]
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/vmprx"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

func main() {
	nRTP := flag.Int("rtp", 200, "RTP packets each side sends during the handshake")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(log, *nRTP); err != nil {
		fmt.Fprintln(os.Stderr, "passthrough:", err)
		os.Exit(1)
	}
}

// endpoint is one side: VMP[rx] + DTLS[rx] + DTLS[tx] on one port.
type endpoint struct {
	name string
	v    *vmprx.VMPRx
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	port netip.AddrPort
}

func newEndpoint(mod *mediaport.Module, name string) (*endpoint, error) {
	e := &endpoint{name: name}
	var err error
	if e.v, err = vmprx.Create(mod); err != nil {
		return nil, err
	}
	if err = e.v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, QueueLen: 1024}); err != nil {
		return nil, err
	}
	e.port, _, _ = e.v.Ports()
	if e.rx, err = dtlsrx.Create(mod); err != nil {
		return nil, err
	}
	if err = e.v.ConfigDTLS(e.rx, false); err != nil { // sm_vmprx_config_dtls
		return nil, err
	}
	if e.tx, err = dtlstx.Create(mod); err != nil {
		return nil, err
	}
	return e, nil
}

// connect points the DTLS[tx] at the peer from the VMP[rx]'s own port.
func (e *endpoint) connect(peer netip.AddrPort) (net.PacketConn, error) {
	if err := e.tx.Config(dtlstx.Config{Destination: peer, Local: e.port}); err != nil {
		return nil, err
	}
	return dtlstx.NewPacketConn(e.rx, e.tx)
}

func run(log *slog.Logger, nRTP int) error {
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return err
	}
	defer mod.Close()
	a, err := newEndpoint(mod, "A")
	if err != nil {
		return err
	}
	b, err := newEndpoint(mod, "B")
	if err != nil {
		return err
	}
	fmt.Printf("A: VMP[rx] %v   B: VMP[rx] %v (rtcp-mux, DTLS[tx] shares the port)\n", a.port, b.port)
	cert, err := selfsign.GenerateSelfSignedWithDNS("mediaport passthrough example")
	if err != nil {
		return err
	}
	pcA, err := a.connect(b.port)
	if err != nil {
		return err
	}
	pcB, err := b.connect(a.port)
	if err != nil {
		return err
	}

	// RTP to both ports while the handshake runs.
	rtpDone := make(chan error, 2)
	for _, e := range []*endpoint{a, b} {
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: e.port})
		if err != nil {
			return err
		}
		go func() {
			pkt := make([]byte, 172)
			pkt[0] = 0x80
			binary.BigEndian.PutUint32(pkt[8:], 0x5eed)
			for i := 0; i < nRTP; i++ {
				binary.BigEndian.PutUint16(pkt[2:], uint16(i))
				if err := d.Send(pkt); err != nil {
					rtpDone <- err
					return
				}
				if i%20 == 19 {
					time.Sleep(time.Millisecond)
				}
			}
			rtpDone <- nil
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	srvErr := make(chan error, 1)
	var server *dtls.Conn
	go func() {
		c, err := dtls.ServerWithOptions(pcB, net.UDPAddrFromAddrPort(a.port), dtls.WithCertificates(cert))
		if err == nil {
			err = c.HandshakeContext(ctx)
		}
		server = c
		srvErr <- err
	}()
	client, err := dtls.ClientWithOptions(pcA, net.UDPAddrFromAddrPort(b.port), dtls.WithInsecureSkipVerify(true))
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("client handshake: %w", err)
	}
	if err := <-srvErr; err != nil {
		return fmt.Errorf("server handshake: %w", err)
	}
	defer server.Close()
	st, _ := client.ConnectionState()
	fmt.Printf("DTLS 1.2 handshake over the pass-through pairs in %v, cipher suite %#04x\n",
		time.Since(start).Round(time.Millisecond), uint16(st.CipherSuiteID))

	if _, err := client.Write([]byte("hello from A")); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil {
		return err
	}
	fmt.Printf("B read %q\n", buf[:n])
	if _, err := server.Write([]byte("hello from B")); err != nil {
		return err
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err = client.Read(buf); err != nil {
		return err
	}
	fmt.Printf("A read %q\n", buf[:n])

	for i := 0; i < 2; i++ {
		if err := <-rtpDone; err != nil {
			return err
		}
	}
	for _, e := range []*endpoint{a, b} {
		got := 0
		deadline := time.Now().Add(5 * time.Second)
		for got < nRTP && time.Now().Before(deadline) {
			if _, err := e.v.GetPacket(buf); err == nil {
				got++
			} else {
				time.Sleep(time.Millisecond)
			}
		}
		s, _ := e.v.Stats()
		fmt.Printf("%s: VMP[rx] queued RTP %d of %d, DTLS %d, STUN %d, dropped: unknown %d short %d overrun %d\n",
			e.name, got, nRTP, s.DTLS, s.STUN, s.Unknown, s.Short, s.Overrun)
		if got != nRTP {
			return fmt.Errorf("%s lost RTP: %d of %d", e.name, got, nRTP)
		}
	}
	return nil
}
