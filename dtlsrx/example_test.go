package dtlsrx_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/vmprx"
)

// In pass-through mode a DTLS[rx] attached to a VMP[rx] queues the DTLS
// records that arrive on the VMP[rx]'s port, for the application's own DTLS
// stack to read.
func ExampleDTLSRx() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()

	v, err := vmprx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		log.Fatal(err)
	}
	rx, err := dtlsrx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.ConfigDTLS(rx, false); err != nil { // DTLS arriving on the RTP port
		log.Fatal(err)
	}

	// A peer sends a datagram that looks like a DTLS 1.2 handshake record
	// (first byte 22) to the media port.
	port, _, _ := v.Ports()
	peer, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(port))
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 'h', 'e', 'l', 'o'}
	if _, err := peer.Write(record); err != nil {
		log.Fatal(err)
	}

	ev, err := rx.Event()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 2048)
	for {
		if err := ev.Wait(ctx); err != nil {
			log.Fatal(err)
		}
		st, err := rx.Status()
		if err != nil {
			log.Fatal(err)
		}
		if st != dtlsrx.HasPacket {
			continue
		}
		n, src, err := rx.GetPacket(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%v: %d bytes, content type %d, from the peer: %v\n",
			st, n, buf[0], src == peer.LocalAddr().(*net.UDPAddr).AddrPort())
		break
	}
	vs, _ := v.Stats()
	fmt.Println("VMP[rx] saw DTLS datagrams:", vs.DTLS)

	if err := rx.Stop(); err != nil {
		log.Fatal(err)
	}
	st, _ := rx.Status()
	fmt.Println(st, "cause:", rx.Err()) // stopped by Stop: no cause
	if err := rx.Destroy(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// HasPacket: 17 bytes, content type 22, from the peer: true
	// VMP[rx] saw DTLS datagrams: 1
	// Stopped cause: <nil>
}
