package vmprx_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/vmprx"
)

// The receive benchmarks send the same traffic to mediaport and to a raw
// socket: a sender goroutine sends bursts of 32 DTLS records of 1200 bytes
// (one SendBatch each) with at most two bursts in flight — the receiver
// returns a credit per burst it has read — so the socket buffer never
// overflows and both receivers wait for traffic the way a server does. One
// op is one packet received.
const (
	burst     = 32
	recordLen = 1200
)

func burstPackets() [][]byte {
	pkts := make([][]byte, burst)
	for i := range pkts {
		p := make([]byte, recordLen)
		p[0], p[1], p[2] = 23, 0xfe, 0xfd // DTLS application data
		pkts[i] = p
	}
	return pkts
}

// BenchmarkReceiveStream: VMP[rx] → DTLS[rx] → GetPacket with batch
// receive (32 datagrams per recvmmsg), against a raw
// net.UDPConn.ReadFromUDP loop, on a stream of bursts. Both receivers keep
// up with the sender, so batches stay small and the time is mostly the
// sender's and the wake-ups': this pair shows the cost of the extra
// goroutine hop (receive goroutine → application) of the demultiplexer.
func BenchmarkReceiveStream(b *testing.B) {
	benchpair.Run(b, func(b *testing.B) { benchMediaport(b, 32) }, benchRaw)
}

// BenchmarkReceive: the receive path alone on a backlog, in the default
// mode (the port's receive goroutine reads). Each op of a side queues 64
// DTLS records in its socket while its receiver is held (untimed), then
// times the receiver draining them: the receive goroutine (recvmmsg, 32
// per call) → DTLS[rx] → GetPacket on the application's goroutine,
// against ReadFromUDP one by one. The two sides run backlog by backlog
// (benchpair.Interleave): a backlog takes some 40 µs, and the drift of a
// shared machine over a run of one side and then the other moved single
// runs' ratios by ±15 %. Figures are per datagram. No goal: the hop from
// the receive goroutine to the application is the price of the mode.
func BenchmarkReceive(b *testing.B) {
	benchBacklogPair(b, 32, false, 0, false)
}

// benchBacklogPair runs benchBacklog against benchBacklogRaw.
func benchBacklogPair(b *testing.B, batch int, gro bool, getBatch int, callerReads bool) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		return benchBacklog(b, batch, gro, getBatch, callerReads, false)
	}, benchBacklogRaw)
}

// BenchmarkReceiveMeta: BenchmarkReceive with Config.RecvMeta, each
// record read with DTLS[rx].GetPacketMeta: the price of the kernel's
// receive time, TTL and TOS (recvmmsg's control messages, their walk),
// next to BenchmarkReceive's figure of the same run.
func BenchmarkReceiveMeta(b *testing.B) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		return benchBacklog(b, 32, false, 0, false, true)
	}, benchBacklogRaw)
}

// BenchmarkReceiveMetaSingle: BenchmarkReceiveSingle with
// Config.RecvMeta: one recvmsg (which takes control messages, unlike
// recvfrom) per datagram, straight into GetPacketMeta's buffer.
func BenchmarkReceiveMetaSingle(b *testing.B) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		return benchBacklog(b, 1, false, 0, true, true)
	}, benchBacklogRaw)
}

// BenchmarkReceiveBatch: BenchmarkReceive with Config.CallerReads, the
// application reading in batches, GetPackets with 32 buffers: its
// recvmmsg reads the records straight into them.
func BenchmarkReceiveBatch(b *testing.B) {
	benchBacklogPair(b, 32, false, 32, true)
}

// BenchmarkReceiveGRO: BenchmarkReceive with Config.CallerReads on a port
// with Config.GRO: the backlog, sent with segmentation offload as in
// every receive benchmark, reaches the VMP[rx] coalesced (up to GROSlots
// messages per recvmmsg) and is split again; the baseline socket gets it
// one datagram at a time.
func BenchmarkReceiveGRO(b *testing.B) {
	benchBacklogPair(b, 32, true, 0, true)
}

// BenchmarkReceiveSingle: BenchmarkReceive with Config.CallerReads and one
// datagram per receive system call (Options.Batch = 1), straight into
// GetPacket's buffer.
func BenchmarkReceiveSingle(b *testing.B) {
	benchBacklogPair(b, 1, false, 0, true)
}

const backlog = 64 // records queued per iteration: within the default receive buffer

// benchBacklog is the mediaport side of the backlog benchmarks: it reads
// with GetPacket, or with GetPackets into getBatch buffers when
// getBatch > 0, or with GetPacketMeta on a port with Config.RecvMeta.
func benchBacklog(b *testing.B, batch int, gro bool, getBatch int, callerReads, meta bool) benchpair.Side {
	mod, err := mediaport.OpenModule(mediaport.Options{Batch: batch})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close() })
	v, _ := vmprx.Create(mod)
	if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true, GRO: gro, CallerReads: callerReads, RecvMeta: meta}); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, false)
	port, _, _ := v.Ports()
	d := backlogSender(b, port)
	pkts := append(burstPackets(), burstPackets()...)
	ev, _ := rx.Event()
	evc := ev.C()
	buf := make([]byte, 2048)
	bufs := make([][]byte, getBatch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, getBatch), make([]netip.AddrPort, getBatch)
	get := func() (int, error) {
		if getBatch > 0 {
			return rx.GetPackets(bufs, sizes, srcs)
		}
		if meta {
			_, _, m, err := rx.GetPacketMeta(buf)
			if err == nil && (m.Has&mediaport.RecvTTL == 0 || m.Time.IsZero()) {
				b.Fatalf("no metadata: %+v", m)
			}
			return 1, err
		}
		_, _, err := rx.GetPacket(buf)
		return 1, err
	}
	var release func()
	sent := 0
	b.Cleanup(func() {
		if st, _ := rx.Stats(); st.Overrun != 0 || st.Packets != uint64(sent) {
			b.Errorf("stats %+v for %d sent", st, sent)
		}
	})
	return benchpair.Side{
		Prepare: func() {
			// Nobody reads the port while the backlog is queued; the
			// receive goroutine (or the watcher) wakes up for it and
			// waits for the port.
			release = vmprx.HoldPorts(v)
			if _, err := d.SendBatch(pkts[:backlog]); err != nil {
				b.Fatal(err)
			}
			sent += backlog
		},
		Op: func() {
			release()
			for got := 0; got < backlog; {
				k, err := get()
				if err != nil {
					if !errors.Is(err, dtlsrx.ErrNoPacket) {
						b.Fatal(err)
					}
					<-evc
					continue
				}
				got += k
			}
		},
		Ops: backlog,
	}
}

// backlogSender returns the dispatcher that sends the backlogs to dst, on
// a module of its own with the default options, so that every receiver
// gets the same traffic.
func backlogSender(b *testing.B, dst netip.AddrPort) *dispatcher.Dispatcher {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close() })
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: dst, Local: netip.AddrPortFrom(lo4, 0)})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// benchBacklogRaw is the baseline side of the backlog benchmarks.
func benchBacklogRaw(b *testing.B) benchpair.Side {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	d := backlogSender(b, c.LocalAddr().(*net.UDPAddr).AddrPort())
	pkts := append(burstPackets(), burstPackets()...)
	buf := make([]byte, 2048)
	return benchpair.Side{
		Prepare: func() {
			if _, err := d.SendBatch(pkts[:backlog]); err != nil {
				b.Fatal(err)
			}
		},
		Op: func() {
			for range backlog {
				if _, _, err := c.ReadFromUDP(buf); err != nil {
					b.Fatal(err)
				}
			}
		},
		Ops: backlog,
	}
}

// burstSender sends bursts to dst while it holds credits; the receiver returns
// one credit per burst read. It stops when stop is closed.
func burstSender(b *testing.B, mod *mediaport.Module, dst netip.AddrPort) (credits chan struct{}, stop func()) {
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: dst, Local: netip.AddrPortFrom(lo4, 0)})
	if err != nil {
		b.Fatal(err)
	}
	credits = make(chan struct{}, 4)
	credits <- struct{}{}
	credits <- struct{}{}
	quit, done := make(chan struct{}), make(chan struct{})
	pkts := burstPackets()
	go func() {
		defer close(done)
		for {
			select {
			case <-credits:
			case <-quit:
				return
			}
			if _, err := d.SendBatch(pkts); err != nil {
				return
			}
		}
	}()
	return credits, func() { close(quit); <-done }
}

func benchMediaport(b *testing.B, batch int) {
	mod, err := mediaport.OpenModule(mediaport.Options{Batch: batch})
	if err != nil {
		b.Fatal(err)
	}
	defer mod.Close()
	v, _ := vmprx.Create(mod)
	if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
		b.Fatal(err)
	}
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, false)
	port, _, _ := v.Ports()
	ev, _ := rx.Event()
	evc := ev.C()
	buf := make([]byte, 2048)
	credits, stop := burstSender(b, mod, port)
	defer stop()
	b.SetBytes(recordLen)
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		if _, _, err := rx.GetPacket(buf); err != nil {
			if !errors.Is(err, dtlsrx.ErrNoPacket) {
				b.Fatal(err)
			}
			<-evc
			continue
		}
		got++
		if got%burst == 0 {
			credits <- struct{}{}
		}
	}
	b.StopTimer()
	if st, _ := rx.Stats(); st.Overrun != 0 {
		b.Fatalf("%d packets lost", st.Overrun)
	}
}

func benchRaw(b *testing.B) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer mod.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	credits, stop := burstSender(b, mod, c.LocalAddr().(*net.UDPAddr).AddrPort())
	defer stop()
	b.SetBytes(recordLen)
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			b.Fatal(err)
		}
		got++
		if got%burst == 0 {
			credits <- struct{}{}
		}
	}
}
