package dispatcher_test

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/benchpair"
)

// Paired benchmarks: each has a "mediaport" and a "baseline" sub-benchmark
// run in the same process on the same traffic; go run ./internal/benchreport
// prints their ratio. One op is one 1200-byte datagram sent to a loopback
// receiver that reads everything in a goroutine of its own; the
// "delivered/op" metric says what share arrived.

const benchPacket = 1200

type benchRecv struct {
	*net.UDPConn
	n    atomic.Int64
	done chan struct{}
}

func benchReceiver(b *testing.B) *benchRecv {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	r := &benchRecv{UDPConn: c, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			r.n.Add(1)
		}
	}()
	b.Cleanup(func() { c.Close(); <-r.done })
	return r
}

// report stops the timer and reports the share of datagrams delivered.
func (r *benchRecv) report(b *testing.B) {
	b.StopTimer()
	time.Sleep(10 * time.Millisecond) // let the reader catch up
	b.ReportMetric(float64(r.n.Load())/float64(b.N), "delivered/op")
}

// BenchmarkSend: Dispatcher.Send against net.UDPConn.WriteToUDP.
func BenchmarkSend(b *testing.B) {
	pkt := make([]byte, benchPacket)
	benchpair.Run(b, func(b *testing.B) {
		r := benchReceiver(b)
		d, err := dispatcher.Create(openModule(b), dispatcher.Config{
			Destination: r.LocalAddr().(*net.UDPAddr).AddrPort(),
			Local:       netip.MustParseAddrPort("127.0.0.1:0"),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := d.Send(pkt); err != nil {
				b.Fatal(err)
			}
		}
		r.report(b)
	}, func(b *testing.B) {
		r := benchReceiver(b)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		dst := r.LocalAddr().(*net.UDPAddr)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.WriteToUDP(pkt, dst); err != nil {
				b.Fatal(err)
			}
		}
		r.report(b)
	})
}

// BenchmarkSendBatch: Dispatcher.SendBatch of 32 datagrams per call against
// the same datagrams sent one by one with net.UDPConn.WriteToUDP. On Linux
// the batch goes out in one sendmmsg with UDP segmentation offload; without
// offload (sendmmsg alone) the gain is the system-call overhead only.
func BenchmarkSendBatch(b *testing.B) {
	const batch = 32
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = make([]byte, benchPacket)
	}
	benchpair.Run(b, func(b *testing.B) {
		r := benchReceiver(b)
		d, err := dispatcher.Create(openModule(b), dispatcher.Config{
			Destination: r.LocalAddr().(*net.UDPAddr).AddrPort(),
			Local:       netip.MustParseAddrPort("127.0.0.1:0"),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			n := min(batch, b.N-i)
			if _, err := d.SendBatch(pkts[:n]); err != nil {
				b.Fatal(err)
			}
		}
		r.report(b)
	}, func(b *testing.B) {
		r := benchReceiver(b)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		dst := r.LocalAddr().(*net.UDPAddr)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.WriteToUDP(pkts[i%batch], dst); err != nil {
				b.Fatal(err)
			}
		}
		r.report(b)
	})
}
