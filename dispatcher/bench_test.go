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
// run in the same process; go run ./internal/benchreport prints their
// ratio. One op is one 1200-byte datagram, and what counts is its
// delivery: the sender sends to a loopback receiver that keeps up, and the
// time runs until the receiver has read every datagram. The receiver's
// socket has a large receive buffer and reads with UDP GRO where the
// kernel has it (a batch sent with segmentation offload arrives as one
// read); the sender keeps at most a window of datagrams in flight that the
// buffer holds, waiting for the receiver when it is full, so the kernel
// drops nothing. The metric "ns/delivered" (the one benchreport compares)
// is the time per datagram the receiver got; "delivered/op" is the share
// that arrived, 1 unless something was lost all the same (a datagram not
// delivered within stallTimeout is written off and the time spent waiting
// for it counts); "wait" is the share of the time the sender waited for
// the window, which stays small when the receiver keeps up.

const (
	benchPacket  = 1200
	stallTimeout = 200 * time.Millisecond
)

// benchRecv is the receiving end of a benchmark: a loopback socket read by
// a goroutine of its own, which counts the datagrams delivered.
type benchRecv struct {
	*net.UDPConn
	addr   netip.AddrPort
	window int64 // datagrams the sender may have in flight

	n        atomic.Int64 // datagrams delivered
	wake     atomic.Int64 // when > 0, the count at which to signal progress
	progress chan struct{}
	done     chan struct{}

	// Sender side.
	sent    int64         // datagrams sent
	written int64         // datagrams written off as lost
	waited  time.Duration // time spent waiting for the window
	timer   *time.Timer   // stall timeout
}

func benchReceiver(b *testing.B) *benchRecv {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	rcvbuf, gro := tuneReceiver(c, 16<<20)
	// The kernel charges a loopback datagram of 1200 bytes about 2.3 KB
	// of the buffer; 4 KB leaves room.
	window := min(int64(rcvbuf/4096), 1024)
	if window < 64 {
		b.Fatalf("receive buffer of %d bytes holds too few datagrams", rcvbuf)
	}
	r := &benchRecv{
		UDPConn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), window: window,
		progress: make(chan struct{}, 1), done: make(chan struct{}),
		timer: time.NewTimer(time.Hour),
	}
	r.timer.Stop()
	go func() {
		defer close(r.done)
		buf := make([]byte, 1<<16)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			// With GRO one read may hold several datagrams of the
			// same size, all but the last full.
			m := int64(1)
			if gro {
				m = int64((k + benchPacket - 1) / benchPacket)
			}
			n := r.n.Add(m)
			if w := r.wake.Load(); w > 0 && n >= w && r.wake.CompareAndSwap(w, 0) {
				select {
				case r.progress <- struct{}{}:
				default:
				}
			}
		}
	}()
	b.Cleanup(func() { c.Close(); <-r.done })
	return r
}

// await returns when at most r.window-k datagrams are in flight, so that k
// more may be sent. When it has to wait, it waits until half the window is
// free, so that sender and receiver do not hand over one datagram at a time.
func (r *benchRecv) await(k int) {
	if r.sent+int64(k)-r.n.Load()-r.written <= r.window {
		return
	}
	t := time.Now()
	r.waitFor(r.sent - r.window/2)
	r.waited += time.Since(t)
}

// waitFor waits until target datagrams are delivered or written off. A
// datagram is written off when nothing arrives for stallTimeout.
func (r *benchRecv) waitFor(target int64) {
	for {
		n := r.n.Load()
		if n+r.written >= target {
			return
		}
		r.wake.Store(target - r.written)
		if r.n.Load()+r.written >= target {
			r.wake.Store(0)
			return
		}
		r.timer.Reset(stallTimeout)
		select {
		case <-r.progress:
			r.timer.Stop()
		case <-r.timer.C:
			if r.n.Load() == n {
				r.written = r.sent - n // lost in flight
			}
		}
	}
}

// finish waits for every datagram sent, stops the timer and reports the
// time per datagram delivered, the share delivered and the share of the
// time the sender waited for the receiver ("wait", near 0 when the
// receiver keeps up with the sender).
func (r *benchRecv) finish(b *testing.B) {
	r.waitFor(r.sent)
	b.StopTimer()
	n := r.n.Load()
	b.ReportMetric(float64(n)/float64(b.N), "delivered/op")
	b.ReportMetric(r.waited.Seconds()/b.Elapsed().Seconds(), "wait")
	if n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/delivered")
	}
}

// benchDispatcher is a dispatcher sending to r.
func benchDispatcher(b *testing.B, r *benchRecv) *dispatcher.Dispatcher {
	d, err := dispatcher.Create(openModule(b), dispatcher.Config{
		Destination: r.addr,
		Source:      netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// writeOneByOne is the baseline of both pairs: the datagrams of pkts in
// turn, each with its own net.UDPConn.WriteToUDP.
func writeOneByOne(b *testing.B, pkts [][]byte) {
	r := benchReceiver(b)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dst := net.UDPAddrFromAddrPort(r.addr)
	b.SetBytes(benchPacket)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.await(1)
		if _, err := c.WriteToUDP(pkts[i%len(pkts)], dst); err != nil {
			b.Fatal(err)
		}
		r.sent++
	}
	r.finish(b)
}

// BenchmarkSend: Dispatcher.Send against net.UDPConn.WriteToUDP, by
// datagrams delivered.
func BenchmarkSend(b *testing.B) {
	pkts := [][]byte{make([]byte, benchPacket)}
	benchpair.Run(b, func(b *testing.B) {
		r := benchReceiver(b)
		d := benchDispatcher(b, r)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.await(1)
			if err := d.Send(pkts[0]); err != nil {
				b.Fatal(err)
			}
			r.sent++
		}
		r.finish(b)
	}, func(b *testing.B) { writeOneByOne(b, pkts) })
}

// BenchmarkSendBatch: Dispatcher.SendBatch of 32 datagrams per call against
// the same datagrams sent one by one with net.UDPConn.WriteToUDP, by
// datagrams delivered. On Linux the batch goes out in one sendmmsg with
// UDP segmentation offload; without offload (sendmmsg alone) the gain is
// the system-call overhead only.
func BenchmarkSendBatch(b *testing.B) {
	const batch = 32
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = make([]byte, benchPacket)
	}
	benchpair.Run(b, func(b *testing.B) {
		r := benchReceiver(b)
		d := benchDispatcher(b, r)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			n := min(batch, b.N-i)
			r.await(n)
			if k, err := d.SendBatch(pkts[:n]); err != nil || k != n {
				b.Fatalf("SendBatch sent %d of %d: %v", k, n, err)
			}
			r.sent += int64(n)
		}
		r.finish(b)
	}, func(b *testing.B) { writeOneByOne(b, pkts) })
}
