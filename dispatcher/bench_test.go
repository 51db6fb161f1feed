package dispatcher_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/benchpair"
)

// Paired benchmarks, run burst by burst (benchpair.Interleave): a burst of
// mediaport's side, then one of the baseline, and so on, so that the drift
// of a shared machine falls on both alike; go run ./internal/benchreport
// prints their ratio. What counts is delivery: each side sends to a
// loopback receiver of its own that keeps up, and a burst's time runs
// until its receiver has read every datagram of it. The receiving socket
// has a large receive buffer and reads with UDP GRO where the kernel has
// it (a batch sent with segmentation offload arrives as one read); the
// sender keeps at most a window of datagrams in flight that the buffer
// holds, waiting for the receiver when it is full, so the kernel drops
// nothing.
//
// Per side ("mediaport-" or "baseline-" before the name): "ns/delivered"
// (the metric benchreport compares) is the time per datagram the receiver
// got, the median over the bursts (a burst that another process on the
// machine interrupted does not skew it); "delivered/op" the share that arrived, 1 unless something was lost
// all the same (a datagram not delivered within stallTimeout is written
// off and the time spent waiting for it counts); "wait" the share of the
// time the sender waited for the receiver to free the window, near 0 when
// the receiver keeps up; "drain" the share from the last send of a burst
// to its last delivery; "ns/op" and "allocs/op" per datagram sent, from
// Interleave.

const (
	benchPacket  = 1200
	burst        = 1024 // datagrams per op of a side
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
	sent    int64       // datagrams sent
	written int64       // datagrams written off as lost
	timer   *time.Timer // stall timeout

	// Of the timed bursts.
	bursts      int
	timedBursts func() int // b.N
	elapsed     time.Duration
	waited      time.Duration // waiting for the window
	drained     time.Duration // waiting for the end of the burst
	delivered   int64
	perBurst    []float64 // ns per datagram delivered, by burst
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
	if r.timed() {
		r.waited += time.Since(t)
	}
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

// side is one side of a pair: an op sends a burst, chunk datagrams per
// call to send, and waits until the receiver has them all. The first
// timed bursts (b.N of them: Interleave's timed iterations) are counted
// for report.
func (r *benchRecv) side(b *testing.B, chunk int, send func(k int) error) benchpair.Side {
	r.timedBursts = func() int { return b.N }
	return benchpair.Side{Ops: burst, Op: func() {
		t0 := time.Now()
		n0 := r.n.Load()
		for i := 0; i < burst; i += chunk {
			k := min(chunk, burst-i)
			r.await(k)
			if err := send(k); err != nil {
				b.Fatal(err)
			}
			r.sent += int64(k)
		}
		t1 := time.Now()
		r.waitFor(r.sent)
		if r.timed() {
			t, n := time.Since(t0), r.n.Load()-n0
			r.drained += time.Since(t1)
			r.elapsed += t
			r.delivered += n
			if n > 0 {
				r.perBurst = append(r.perBurst, float64(t.Nanoseconds())/float64(n))
			}
		}
		r.bursts++
	}}
}

// timed reports whether the burst under way is one Interleave times.
func (r *benchRecv) timed() bool { return r.bursts < r.timedBursts() }

// report reports the metrics of the timed bursts of side name.
func (r *benchRecv) report(b *testing.B, name string) {
	b.ReportMetric(float64(r.delivered)/float64(min(r.bursts, r.timedBursts())*burst), name+"-delivered/op")
	b.ReportMetric(r.waited.Seconds()/r.elapsed.Seconds(), name+"-wait")
	b.ReportMetric(r.drained.Seconds()/r.elapsed.Seconds(), name+"-drain")
	if len(r.perBurst) > 0 {
		slices.Sort(r.perBurst)
		b.ReportMetric(r.perBurst[len(r.perBurst)/2], name+"-ns/delivered")
	}
}

// benchDelivery runs the pair: ours sends chunk datagrams per call with
// the function it returns for a dispatcher; the baseline sends pkts in
// turn, one by one with net.UDPConn.WriteToUDP.
func benchDelivery(b *testing.B, pkts [][]byte, chunk int, ours func(*dispatcher.Dispatcher) func(k int) error) {
	var rOurs, rBase *benchRecv
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		rOurs = benchReceiver(b)
		d, err := dispatcher.Create(openModule(b), dispatcher.Config{
			Destination: rOurs.addr,
			Local:       netip.MustParseAddrPort("127.0.0.1:0"),
		})
		if err != nil {
			b.Fatal(err)
		}
		return rOurs.side(b, chunk, ours(d))
	}, func(b *testing.B) benchpair.Side {
		rBase = benchReceiver(b)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		dst := net.UDPAddrFromAddrPort(rBase.addr)
		i := 0
		return rBase.side(b, 1, func(int) error {
			_, err := c.WriteToUDP(pkts[i%len(pkts)], dst)
			i++
			return err
		})
	})
	rOurs.report(b, "mediaport")
	rBase.report(b, "baseline")
}

// BenchmarkSend: Dispatcher.Send against net.UDPConn.WriteToUDP, by
// datagrams delivered.
func BenchmarkSend(b *testing.B) {
	pkts := [][]byte{make([]byte, benchPacket)}
	benchDelivery(b, pkts, 1, func(d *dispatcher.Dispatcher) func(int) error {
		return func(int) error { return d.Send(pkts[0]) }
	})
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
	benchDelivery(b, pkts, batch, func(d *dispatcher.Dispatcher) func(int) error {
		return func(k int) error {
			n, err := d.SendBatch(pkts[:k])
			if err == nil && n != k {
				err = fmt.Errorf("SendBatch sent %d of %d", n, k)
			}
			return err
		}
	})
}
