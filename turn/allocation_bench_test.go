package turn_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/turn"
)

// BenchmarkRelayRoundTrip: one 1200-byte datagram to an echo peer and back
// through the in-process pion/turn server, over a bound channel
// (ChannelData both ways). mediaport: Allocation.SendTo and GetPacket
// (waiting on the event); baseline: pion/turn's own client over a raw UDP
// socket, which also binds a channel for the peer. Same server, same peer.
// The server runs in this process, so allocs/op counts its allocations
// too; TestRelayPathNoAllocs measures the client alone against coturn: 0.
func BenchmarkRelayRoundTrip(b *testing.B) {
	payload := make([]byte, 1200)
	benchpair.Run(b, func(b *testing.B) {
		srv := testutil.StartPionTURN(b)
		peer := echoPeer(b)
		mod := openModule(b, nil)
		a, _ := turn.Create(mod)
		if err := a.Config(turn.Config{Server: srv.Addr, Username: srv.User, Password: srv.Password, Local: netip.AddrPortFrom(lo, 0)}); err != nil {
			b.Fatal(err)
		}
		if st, err := waitStatus(b, a, turn.Allocated, 10*time.Second); st != turn.Allocated {
			b.Fatal(st, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := a.ChannelBind(ctx, peer); err != nil {
			b.Fatal(err)
		}
		ev, _ := a.Event()
		evc := ev.C()
		buf := make([]byte, 2048)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := a.SendTo(peer, payload); err != nil {
				b.Fatal(err)
			}
			for {
				n, _, err := a.GetPacket(buf)
				if err == nil {
					if n != len(payload) {
						b.Fatalf("%d bytes back", n)
					}
					break
				}
				if !errors.Is(err, turn.ErrNoPacket) {
					b.Fatal(err)
				}
				<-evc // no timer: it would count in allocs/op
			}
		}
	}, func(b *testing.B) {
		srv := testutil.StartPionTURN(b)
		peer := echoPeer(b)
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		c, err := pionturn.NewClient(&pionturn.ClientConfig{TURNServerAddr: srv.Addr.String(), STUNServerAddr: srv.Addr.String(),
			Conn: conn, Username: srv.User, Password: srv.Password, Realm: srv.Realm})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			b.Fatal(err)
		}
		relay, err := c.Allocate()
		if err != nil {
			b.Fatal(err)
		}
		defer relay.Close()
		peerAddr := net.UDPAddrFromAddrPort(peer)
		buf := make([]byte, 2048)
		// Warm up until pion has bound its channel.
		for i := 0; i < 20; i++ {
			relay.WriteTo(payload, peerAddr)
			relay.SetReadDeadline(time.Now().Add(2 * time.Second))
			relay.ReadFrom(buf)
		}
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := relay.WriteTo(payload, peerAddr); err != nil {
				b.Fatal(err)
			}
			relay.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, _, err := relay.ReadFrom(buf); err != nil || n != len(payload) {
				b.Fatal(n, err)
			}
		}
	})
}
