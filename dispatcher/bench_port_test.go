package dispatcher_test

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/ipv4"

	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/benchpair"
)

// benchTOS is the TOS both sides of the media-port pairs send with: ours
// per datagram (a control message on the VMP[rx]'s socket), the
// baseline's set on its socket.
const benchTOS = 0xb8

// benchPortDelivery runs a pair scored by datagrams delivered, as
// benchDelivery does: ours is a dispatcher sharing the socket of a
// VMP[rx] (one rtcp-mux port on loopback, idle, its receive goroutine in
// the netpoller) with TOS benchTOS, sending chunk datagrams per call with
// the function ours returns; the baseline is a net.UDPConn of its own with
// the same TOS set, sending baseChunk datagrams per call with the function
// base returns.
func benchPortDelivery(b *testing.B, chunk, baseChunk int, ours func(*dispatcher.Dispatcher) func(k int) error, base func(c *net.UDPConn, dst *net.UDPAddr) func(k int) error) {
	var rOurs, rBase *benchRecv
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		rOurs = benchReceiver(b)
		mod := openModule(b)
		_, port, _ := mediaPort(b, mod, netip.MustParseAddr("127.0.0.1"), true)
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: rOurs.addr, Local: port, TOS: benchTOS})
		if err != nil {
			b.Fatal(err)
		}
		if shared, _ := d.SharesSocket(); !shared {
			b.Fatal("the dispatcher does not share the VMP[rx]'s socket")
		}
		return rOurs.side(b, chunk, ours(d))
	}, func(b *testing.B) benchpair.Side {
		rBase = benchReceiver(b)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := ipv4.NewPacketConn(c).SetTOS(benchTOS); err != nil {
			b.Fatal(err)
		}
		return rBase.side(b, baseChunk, base(c, net.UDPAddrFromAddrPort(rBase.addr)))
	})
	rOurs.report(b, "mediaport")
	rBase.report(b, "baseline")
}

// BenchmarkSendPort: Dispatcher.Send from a VMP[rx]'s port, the TOS in a
// control message of each datagram, against net.UDPConn.WriteToUDP on a
// socket of its own with the TOS set on it, by datagrams delivered.
func BenchmarkSendPort(b *testing.B) {
	pkt := make([]byte, benchPacket)
	benchPortDelivery(b, 1, 1, func(d *dispatcher.Dispatcher) func(int) error {
		return func(int) error { return d.Send(pkt) }
	}, func(c *net.UDPConn, dst *net.UDPAddr) func(int) error {
		return func(int) error {
			_, err := c.WriteToUDP(pkt, dst)
			return err
		}
	})
}

// BenchmarkSendBatchPort: Dispatcher.SendBatch of 32 datagrams from a
// VMP[rx]'s port (one sendmmsg, UDP segmentation offload where the kernel
// has it, the TOS in a control message of each message) against a raw
// sendmmsg of the same 32 datagrams (x/net ipv4.PacketConn.WriteBatch, a
// message per datagram) on a socket of its own with the TOS set on it, by
// datagrams delivered.
func BenchmarkSendBatchPort(b *testing.B) {
	const batch = 32
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = make([]byte, benchPacket)
	}
	benchPortDelivery(b, batch, batch, func(d *dispatcher.Dispatcher) func(int) error {
		return func(k int) error {
			n, err := d.SendBatch(pkts[:k])
			if err == nil && n != k {
				err = fmt.Errorf("SendBatch sent %d of %d", n, k)
			}
			return err
		}
	}, func(c *net.UDPConn, dst *net.UDPAddr) func(int) error {
		pc := ipv4.NewPacketConn(c)
		msgs := make([]ipv4.Message, batch)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{pkts[i]}
			msgs[i].Addr = dst
		}
		return func(k int) error {
			for sent := 0; sent < k; {
				n, err := pc.WriteBatch(msgs[sent:k], 0)
				if err != nil {
					return err
				}
				sent += n
			}
			return nil
		}
	})
}
