package vmprx_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/vmprx"
)

// A VMP[rx] on one rtcp-mux port of loopback receives an RTP packet: the
// application waits on the event, reads the status, and gets the packet.
func ExampleVMPRx() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()

	v, err := vmprx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	// Port 0: the system chooses; GotPorts reports that the port is bound.
	err = v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := v.Event()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	buf := make([]byte, 1500)
	for done := false; !done; {
		if err := ev.Wait(ctx); err != nil {
			log.Fatal(err)
		}
		st, err := v.Status()
		if err != nil {
			log.Fatal(err)
		}
		switch st {
		case vmprx.GotPorts:
			rtp, _, _ := v.Ports()
			fmt.Println(st)
			sendRTP(rtp) // a peer sends one RTP packet to the port
		case vmprx.NewSSRC:
			ssrc, _ := v.NewSSRC()
			fmt.Printf("%v %#x\n", st, ssrc)
		case vmprx.HasPacket:
			p, err := v.GetPacket(buf)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%v: %v, %d bytes, payload %q\n", st, p.Class, p.Len, buf[12:p.Len])
			done = true
		}
	}

	if err := v.Stop(); err != nil {
		log.Fatal(err)
	}
	st, _ := v.Status()
	fmt.Println(st, "cause:", v.Err()) // stopped by Stop: no cause
	if err := v.Destroy(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// GotPorts
	// NewSSRC 0x11223344
	// HasPacket: RTP, 17 bytes, payload "hello"
	// Stopped cause: <nil>
}

// sendRTP sends one RTP packet (version 2, payload type 96, SSRC 0x11223344)
// to dst from a socket of its own.
func sendRTP(dst netip.AddrPort) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	pkt := make([]byte, 12, 17)
	pkt[0], pkt[1] = 0x80, 96
	binary.BigEndian.PutUint16(pkt[2:], 1)          // sequence number
	binary.BigEndian.PutUint32(pkt[4:], 160)        // timestamp
	binary.BigEndian.PutUint32(pkt[8:], 0x11223344) // SSRC
	if _, err := c.Write(append(pkt, "hello"...)); err != nil {
		log.Fatal(err)
	}
}
