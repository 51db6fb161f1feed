package vmprx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/vmprx"
)

// With Config.RecvMeta, each packet comes with what the kernel reported
// with its datagram: here an RTP packet a peer sent with DSCP EF (TOS
// 0xb8) and a TTL of 5, over loopback.
func ExampleConfig_recvMeta() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	v, err := vmprx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Destroy()
	err = v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, RecvMeta: true})
	if err != nil {
		log.Fatal(err) // elsewhere than Linux: errors.ErrUnsupported
	}
	rtp, _, _ := v.Ports()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	rc, _ := peer.SyscallConn()
	rc.Control(func(fd uintptr) {
		setIPv4(int(fd), 0xb8, 5) // IP_TOS, IP_TTL
	})
	sent := time.Now()
	pkt := rtpPacket(0x11223344, 1, "hello")
	if _, err := peer.WriteToUDPAddrPort(pkt, rtp); err != nil {
		log.Fatal(err)
	}

	ev, _ := v.Event()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 1500)
	for {
		p, err := v.GetPacket(buf)
		if errors.Is(err, vmprx.ErrNoPacket) {
			if err := ev.Wait(ctx); err != nil {
				log.Fatal(err)
			}
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		m := p.Meta
		fmt.Printf("%v from the peer: TOS %#x, TTL %d, received after the send: %v\n",
			p.Class, m.TOS, m.TTL, !m.Time.Before(sent))
		return
	}
	// Output:
	// RTP from the peer: TOS 0xb8, TTL 5, received after the send: true
}

// setIPv4 sets the TOS byte and the TTL of an IPv4 socket's datagrams.
func setIPv4(fd, tos, ttl int) {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos); err != nil {
		log.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl); err != nil {
		log.Fatal(err)
	}
}
