package dtlstx_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/vmprx"
)

// In pass-through mode a DTLS[tx] sends the records the application's own
// DTLS stack produced. Sourced at a VMP[rx]'s port, it sends from that very
// socket, so the peer sees one 5-tuple for media and DTLS.
func ExampleDTLSTx() {
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
	media, _, _ := v.Ports()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()

	tx, err := dtlstx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	err = tx.Config(dtlstx.Config{
		Destination: peer.LocalAddr().(*net.UDPAddr).AddrPort(),
		Local:       media, // the VMP[rx]'s port
	})
	if err != nil {
		log.Fatal(err)
	}
	shares, _ := tx.SharesSocket()
	st, _ := tx.Status()
	fmt.Println(st, "sharing the VMP[rx]'s socket:", shares)

	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 'h', 'e', 'l', 'o'}
	if err := tx.SendPacket(record); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 2048)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, src, err := peer.ReadFromUDP(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("peer got %d bytes, content type %d, from the media port: %v\n",
		n, buf[0], src.AddrPort() == media)

	if err := tx.Stop(); err != nil {
		log.Fatal(err)
	}
	st, _ = tx.Status()
	fmt.Println(st, "cause:", tx.Err()) // stopped by Stop: no cause
	if err := tx.Destroy(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Running sharing the VMP[rx]'s socket: true
	// peer got 17 bytes, content type 22, from the media port: true
	// Stopped cause: <nil>
}
