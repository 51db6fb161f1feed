package vmprx_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// Two peers send SRTP to one port, each protected with its own keys (on a
// multi-session association.Listener: each session's SRTPKeys, keyed by
// its Peer when SessionNew is reported). GetPacket returns each decrypted,
// with its source.
func ExampleVMPRx_ConfigSRTPPeer() {
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

	// keys returns the two sides of one association's SRTP keys.
	keys := func(seed byte) (peer, ours association.SRTPKeys) {
		k := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
		peer = association.SRTPKeys{Profile: association.SRTP_AEAD_AES_128_GCM, LocalKey: k(seed, 16), LocalSalt: k(seed+1, 12),
			RemoteKey: k(seed+2, 16), RemoteSalt: k(seed+3, 12)}
		ours = association.SRTPKeys{Profile: peer.Profile, LocalKey: peer.RemoteKey, LocalSalt: peer.RemoteSalt,
			RemoteKey: peer.LocalKey, RemoteSalt: peer.LocalSalt}
		return peer, ours
	}
	for i, name := range []string{"alice", "bob"} {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			log.Fatal(err)
		}
		defer conn.Close()
		peerKeys, ourKeys := keys(byte(10 * (i + 1)))
		rx, _ := srtp.New(ourKeys)
		if err := v.ConfigSRTPPeer(conn.LocalAddr().(*net.UDPAddr).AddrPort(), rx); err != nil {
			log.Fatal(err)
		}
		tx, _ := srtp.New(peerKeys)
		rtp := append([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)}, name...)
		p, _ := tx.EncryptRTP(nil, rtp)
		conn.WriteTo(p, net.UDPAddrFromAddrPort(port))

		ev, _ := v.Event()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		buf := make([]byte, 1500)
		for {
			pkt, err := v.GetPacket(buf)
			if err == nil {
				fmt.Println(string(buf[12:pkt.Len]), pkt.Src == conn.LocalAddr().(*net.UDPAddr).AddrPort())
				break
			}
			if ev.Wait(ctx) != nil {
				fmt.Println("nothing from", name)
				break
			}
		}
		cancel()
	}
	// Output:
	// alice true
	// bob true
}
