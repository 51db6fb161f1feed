package dispatcher_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/vmprx"
)

// A dispatcher on a VMP[rx]'s port sends RTP from the port the peer's ICE
// checks and DTLS reach: Config.Local names the port, and the dispatcher
// sends from the VMP[rx]'s own socket, with its TOS on each datagram.
func ExampleCreate_mediaPort() {
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
	port, _, _ := v.Ports()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()

	d, err := dispatcher.Create(mod, dispatcher.Config{
		Destination: peer.LocalAddr().(*net.UDPAddr).AddrPort(), // the ICE-selected remote candidate
		Local:       port,                                       // the VMP[rx]'s port
		TOS:         0xb8,                                       // EF
	})
	if err != nil {
		log.Fatal(err)
	}
	shared, _ := d.SharesSocket()
	fmt.Println("shares the VMP[rx]'s socket:", shared)

	rtp := []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 'h', 'i'}
	if err := d.Send(rtp); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1500)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, src, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("from the media port:", src == port)

	// The socket is the VMP[rx]'s: when it stops, the dispatcher stops.
	v.Stop()
	fmt.Println(d.Send(rtp))
	// Output:
	// shares the VMP[rx]'s socket: true
	// from the media port: true
	// dispatcher: mediaport: endpoint stopped: the VMP[rx] whose socket it sent from has stopped
}
