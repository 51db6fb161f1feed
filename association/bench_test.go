package association_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

// Paired benchmarks against raw pion/dtls Conns over loopback UDP, same
// suite (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), same certificates.

var gcm = dtls.WithCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)

// pionPair returns two established raw pion Conns over loopback sockets
// that survive Conn.Close.
func pionPair(b testing.TB, cert tls.Certificate) (client, server *dtls.Conn, cleanup func()) {
	ca, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	cb, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	client, server = pionHandshake(b, ca, cb, cert)
	return client, server, func() { client.Close(); server.Close(); ca.Close(); cb.Close() }
}

// keepOpen is a PacketConn whose Close does not close the socket, so that
// a benchmark can run many handshakes on two sockets.
type keepOpen struct{ *net.UDPConn }

func (keepOpen) Close() error { return nil }

func pionHandshake(b testing.TB, ca, cb *net.UDPConn, cert tls.Certificate) (*dtls.Conn, *dtls.Conn) {
	return pionHandshakeWith(b, ca, cb, cert, gcm)
}

// pionHandshakeWith is pionHandshake with the cipher-suite option given
// (nil: pion's default suites).
func pionHandshakeWith(b testing.TB, ca, cb *net.UDPConn, cert tls.Certificate, suites dtls.Option) (*dtls.Conn, *dtls.Conn) {
	srvOpts := []dtls.ServerOption{dtls.WithCertificates(cert)}
	cliOpts := []dtls.ClientOption{dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true)}
	if suites != nil {
		srvOpts = append(srvOpts, suites)
		cliOpts = append(cliOpts, suites)
	}
	type res struct {
		c   *dtls.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := dtls.ServerWithOptions(keepOpen{cb}, ca.LocalAddr(), srvOpts...)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = s.HandshakeContext(ctx)
			cancel()
		}
		ch <- res{s, err}
	}()
	c, err := dtls.ClientWithOptions(keepOpen{ca}, cb.LocalAddr(), cliOpts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		b.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		b.Fatal(r.err)
	}
	return c, r.c
}

// mediaportPair binds an established client/server pair on two sides.
func mediaportPair(b testing.TB, mod *mediaport.Module, a, s *side) {
	s.bind(b, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	a.bind(b, s.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	waitEstablished(b, a, s)
}

// BenchmarkThroughput: 1200-byte application data records from one side to
// the other, at most 32 in flight (the receiver returns a credit per 32).
func BenchmarkThroughput(b *testing.B) {
	payload := make([]byte, 1200)
	const window = 32
	benchpair.Run(b, func(b *testing.B) { throughputMediaport(b, payload, window) }, func(b *testing.B) {
		cert := newCert(b)
		c, s, cleanup := pionPair(b, cert.TLS)
		defer cleanup()
		buf := make([]byte, 2048)
		creditFlow(b, window, len(payload), func() bool {
			_, err := c.Write(payload)
			return err == nil
		}, func() bool {
			if _, err := s.Read(buf); err != nil {
				b.Fatal(err)
			}
			return true
		})
	})
}

// BenchmarkThroughputUDP is BenchmarkThroughput's mediaport side against
// raw UDP: the same 1,200-byte payloads, the same credit window, sent
// with net.UDPConn.WriteToUDPAddrPort and read with ReadFromUDPAddrPort
// on two loopback sockets — what the wire costs without DTLS.
func BenchmarkThroughputUDP(b *testing.B) {
	payload := make([]byte, 1200)
	const window = 32
	benchpair.Run(b, func(b *testing.B) { throughputMediaport(b, payload, window) },
		func(b *testing.B) { throughputUDP(b, payload, window) })
}

// BenchmarkThroughputBatchUDP is the user's fastest path against the raw
// UDP of BenchmarkThroughputUDP: DTLS records sent with SendPackets and
// read with GetPackets (BenchmarkThroughputBatch's mediaport side)
// against plain net.UDPConn datagrams written and read one per call,
// what a Go media server without DTLS does. Both report ns per delivered
// packet.
func BenchmarkThroughputBatchUDP(b *testing.B) {
	benchpair.Run(b, func(b *testing.B) { throughputBatchMediaport(b, batchPayloads(), false) },
		func(b *testing.B) { throughputUDP(b, make([]byte, 1200), 32) })
}

// throughputUDP sends payload from one loopback net.UDPConn to another,
// window datagrams per credit, read one per call (b.N counts them).
func throughputUDP(b *testing.B, payload []byte, window int) {
	ca, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	cb, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer ca.Close()
	defer cb.Close()
	dst := cb.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 2048)
	creditFlow(b, window, len(payload), func() bool {
		_, err := ca.WriteToUDPAddrPort(payload, dst)
		return err == nil
	}, func() bool {
		if _, _, err := cb.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		return true
	})
}

// BenchmarkHandshake: one full handshake (ECDHE-ECDSA) per op; mediaport
// binds a fresh DTLS[rx]/DTLS[tx] pair on two long-lived VMP[rx] ports, pion
// fresh Conns on two long-lived sockets. The two sides run op by op
// (benchpair.Interleave): a handshake is CPU-bound and long enough to time
// alone, and the machine's drift over a run moves either side by more than
// the difference between them.
func BenchmarkHandshake(b *testing.B) {
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		mod := openModule(b)
		cert := newCert(b)
		addECDSA(b, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
		a, s := newSide(b, mod), newSide(b, mod)
		return benchpair.Side{Op: func() {
			for _, x := range []*side{a, s} {
				x.rx, _ = dtlsrx.Create(mod)
				x.tx, _ = dtlstx.Create(mod)
				x.v.ConfigDTLS(x.rx, false)
			}
			mediaportPair(b, mod, a, s)
			for _, x := range []*side{a, s} {
				x.rx.Destroy()
				x.tx.Destroy()
			}
		}}
	}, func(b *testing.B) benchpair.Side {
		cert := newCert(b)
		ca, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		cb, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		b.Cleanup(func() { ca.Close(); cb.Close() })
		return benchpair.Side{Op: func() {
			c, s := pionHandshake(b, ca, cb, cert.TLS)
			c.Close()
			s.Close()
		}}
	})
}

// BenchmarkIdleMemory establishes 1,000 associations (500 pairs) and
// reports what each costs while idle (and fails above 8 KiB or with any
// goroutine of its own, issue 18): B/assoc is the live heap plus the
// goroutine stacks (HeapAlloc + StackInuse after GC; heap-B/assoc and
// stack-B/assoc apart) and goroutines/assoc the goroutines, against a bare
// pion Conn. Ours counts what a user creates for one: the DTLS[rx], the
// DTLS[tx] and the association with its pion Conn (the VMP[rx] ports exist
// before, as the sockets do for the baseline).
func BenchmarkIdleMemory(b *testing.B) {
	const pairs = 500
	// limit, when not nil, checks what one idle association costs:
	// bytes of heap and stack, and goroutines.
	measure := func(b *testing.B, setup func(), establish func(), limit func(bytes, goroutines float64)) {
		for i := 0; i < b.N; i++ {
			setup()
			// The runtime keeps the descriptors of goroutines that ended
			// and reuses them: without this, whichever side runs first in
			// the process pays for the descriptors of its goroutines on the
			// heap and the other reuses them.
			testutil.SpareGoroutines(8 * pairs)
			m0, g0 := settle()
			establish()
			m1, g1 := settle()
			heap := float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))
			stack := float64(int64(m1.StackInuse) - int64(m0.StackInuse))
			b.ReportMetric((heap+stack)/(2*pairs), "B/assoc")
			b.ReportMetric(heap/(2*pairs), "heap-B/assoc")
			b.ReportMetric(stack/(2*pairs), "stack-B/assoc")
			b.ReportMetric(float64(g1-g0)/(2*pairs), "goroutines/assoc")
			if limit != nil {
				limit((heap+stack)/(2*pairs), float64(g1-g0)/(2*pairs))
			}
		}
	}
	benchpair.Run(b, func(b *testing.B) {
		mod, _ := mediaport.OpenModule(mediaport.Options{})
		defer mod.Close()
		cert := newCert(b)
		addECDSA(b, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
		var sides [][2]*side
		measure(b, func() {
			sides = nil
			for i := 0; i < pairs; i++ {
				sides = append(sides, [2]*side{newPort(b, mod), newPort(b, mod)})
			}
		}, func() {
			for _, p := range sides {
				p[0].endpoints(b)
				p[1].endpoints(b)
				mediaportPair(b, mod, p[0], p[1])
			}
		}, func(bytes, goroutines float64) {
			// Issue 18: on the record path an idle association (with its
			// DTLS[rx] and DTLS[tx]) has no goroutine and costs at most 8 KiB.
			if bytes > 8<<10 || goroutines > 0 {
				b.Errorf("an idle association costs %.0f B and %.2f goroutines, want <= 8 KiB and none", bytes, goroutines)
			}
		})
	}, func(b *testing.B) {
		cert := newCert(b)
		var socks [][2]*net.UDPConn
		var conns []*dtls.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
			for _, s := range socks {
				s[0].Close()
				s[1].Close()
			}
		}()
		measure(b, func() {
			for i := 0; i < pairs; i++ {
				ca, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				cb, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				socks = append(socks, [2]*net.UDPConn{ca, cb})
			}
		}, func() {
			for _, s := range socks[len(socks)-pairs:] {
				c, srv := pionHandshakeWith(b, s[0], s[1], cert.TLS, nil) // pion at its defaults
				conns = append(conns, c, srv)
			}
		}, nil)
	})
}

// settle waits until the number of goroutines has not changed for 200 ms
// (goroutines of handshakes and read sessions ending; at most 30 s),
// collects garbage and returns the memory statistics and the number of
// goroutines.
func settle() (runtime.MemStats, int) {
	n, stable := runtime.NumGoroutine(), 0
	for end := time.Now().Add(30 * time.Second); stable < 4 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	// Several cycles: the second empties the buffer pools' victim caches,
	// and each shrinks by half the stacks that grew during a handshake
	// and use less than a quarter now, as a process idling for long would.
	for range 5 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m, runtime.NumGoroutine()
}

// throughputMediaport is the mediaport side of the Throughput pairs: an
// established pair of associations (AES-128-GCM, on mediaport's record
// path), payloads sent with SendPacket and read with GetPacket, at most
// window in flight.
func throughputMediaport(b *testing.B, payload []byte, window int) {
	mod := openModule(b)
	cert := newCert(b)
	addECDSA(b, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
	a, s := newSide(b, mod), newSide(b, mod)
	mediaportPair(b, mod, a, s)
	ev, _ := s.rx.Event()
	evc := ev.C()
	buf := make([]byte, 2048)
	creditFlow(b, window, len(payload), func() bool {
		return a.tx.SendPacket(payload) == nil
	}, func() bool {
		if _, _, err := s.rx.GetPacket(buf); err != nil {
			if !errors.Is(err, dtlsrx.ErrNoPacket) {
				b.Fatal(err)
			}
			<-evc
			return false
		}
		return true
	})
	if st, _ := s.rx.Stats(); st.Overrun != 0 {
		b.Fatalf("%d records lost to overrun", st.Overrun)
	}
}

// BenchmarkThroughputBatch is the batch pair of BenchmarkThroughputUDP:
// the same 1,200-byte payloads, sent in batches of 32 with a credit
// window of inFlight batches — ours with DTLSTx.SendPackets (sealed in
// place, one sendmmsg, UDP GSO where the kernel has it) and read with
// DTLSRx.GetPackets; the baseline with the same internal/udp Batch
// (sendmmsg, GSO) on a raw loopback socket, read with recvmmsg
// (internal/udp Reader) — batch against batch, what the wire costs
// without DTLS.
func BenchmarkThroughputBatch(b *testing.B) {
	pkts := batchPayloads()
	benchpair.Run(b, func(b *testing.B) { throughputBatchMediaport(b, pkts, false) },
		func(b *testing.B) { throughputBatchUDP(b, pkts, false) })
}

// BenchmarkThroughputBatchGRO is BenchmarkThroughputBatch with UDP_GRO
// on both receiving sockets (vmprx Config.GRO; the baseline's Reader):
// the kernel hands a run of same-length datagrams over in one piece.
func BenchmarkThroughputBatchGRO(b *testing.B) {
	pkts := batchPayloads()
	benchpair.Run(b, func(b *testing.B) { throughputBatchMediaport(b, pkts, true) },
		func(b *testing.B) { throughputBatchUDP(b, pkts, true) })
}

// batchPayloads returns a batch of ThroughputBatch: 32 payloads of 1,200 bytes.
func batchPayloads() [][]byte {
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = make([]byte, 1200)
	}
	return pkts
}

// throughputBatchUDP is the baseline of the ThroughputBatch pairs.
func throughputBatchUDP(b *testing.B, pkts [][]byte, gro bool) {
	window := len(pkts)
	ca, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		b.Fatal(err)
	}
	cb, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		b.Fatal(err)
	}
	defer ca.Close()
	defer cb.Close()
	r := udp.NewReader(cb, window, 2048)
	if gro {
		if err := cb.EnableGRO(); err != nil {
			b.Skip(err)
		}
		r = udp.NewReader(cb, vmprx.GROSlots, udp.GROBufSize)
		if err := r.EnableGRO(); err != nil {
			b.Skip(err)
		}
	}
	batch := udp.NewBatch(ca, cb.LocalAddr(), window)
	credits, quit := make(chan struct{}, 2*inFlight), make(chan struct{})
	for range inFlight {
		credits <- struct{}{}
	}
	defer close(quit)
	go func() {
		for {
			select {
			case <-credits:
			case <-quit:
				return
			}
			if _, err := batch.Send(pkts); err != nil {
				return
			}
		}
	}()
	b.SetBytes(int64(len(pkts[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		cb.UDPConn().SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := r.Read()
		if err != nil {
			b.Fatalf("after %d datagrams: %v", got, err)
		}
		for _, m := range r.Msgs[:n] {
			k := 1
			if m.Seg > 0 && m.Seg < m.N {
				k = (m.N + m.Seg - 1) / m.Seg
			}
			for range k {
				got++
				if got%window == 0 {
					credits <- struct{}{}
				}
			}
		}
	}
	b.StopTimer()
	reportDelivered(b)
}

// creditFlow times b.N packets from a sender goroutine to the benchmark's
// goroutine: send writes one packet (false: the sender stops), recv
// reads one (false: nothing yet, it is called again). The sender starts
// two windows ahead and gets a credit for each window read, so a reader
// that keeps up loses nothing to a full socket buffer. It reports the
// time per delivered packet.
func creditFlow(b *testing.B, window, size int, send, recv func() bool) {
	credits := make(chan struct{}, 4)
	credits <- struct{}{}
	credits <- struct{}{}
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case <-credits:
			case <-quit:
				return
			}
			for i := 0; i < window; i++ {
				if !send() {
					return
				}
			}
		}
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		if !recv() {
			continue
		}
		got++
		if got%window == 0 {
			credits <- struct{}{}
		}
	}
	b.StopTimer()
	reportDelivered(b)
}

// reportDelivered reports the time per delivered packet (b.N counts
// them), the unit benchreport compares ThroughputBatch on, and the
// packets delivered per second.
func reportDelivered(b *testing.B) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "ns/delivered")
	b.ReportMetric(1e9/ns, "delivered/s")
}

// inFlight is the credit window of the ThroughputBatch pairs, in
// batches: the sender may run that many batches ahead of what the
// receiver has read.
const inFlight = 4

// throughputBatchMediaport is the mediaport side of the ThroughputBatch
// pairs: an established pair of associations on mediaport's record path,
// batches of pkts sent with SendPackets, read with GetPackets, at most
// inFlight batches ahead; gro sets the receiving port's Config.GRO.
func throughputBatchMediaport(b *testing.B, pkts [][]byte, gro bool) {
	window := len(pkts)
	mod := openModule(b)
	cert := newCert(b)
	addECDSA(b, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
	a, s := newSide(b, mod), newSideWith(b, mod, vmprx.Config{Local: lo4, RTCPMux: true, GRO: gro})
	mediaportPair(b, mod, a, s)
	credits, quit := make(chan struct{}, 2*inFlight), make(chan struct{})
	for range inFlight {
		credits <- struct{}{}
	}
	defer close(quit)
	go func() {
		for {
			select {
			case <-credits:
			case <-quit:
				return
			}
			if _, err := a.tx.SendPackets(pkts); err != nil {
				return
			}
		}
	}()
	ev, _ := s.rx.Event()
	evc := ev.C()
	bufs := make([][]byte, window)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, window), make([]netip.AddrPort, window)
	stall := time.NewTimer(time.Hour)
	defer stall.Stop()
	b.SetBytes(int64(len(pkts[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		n, err := s.rx.GetPackets(bufs, sizes, srcs)
		if err != nil {
			if !errors.Is(err, dtlsrx.ErrNoPacket) {
				b.Fatal(err)
			}
			stall.Reset(10 * time.Second)
			select {
			case <-evc:
			case <-stall.C:
				vs, _ := s.v.Stats()
				b.Fatalf("stalled after %d records: %+v", got, vs)
			}
			continue
		}
		for range n {
			got++
			if got%window == 0 {
				credits <- struct{}{}
			}
		}
	}
	b.StopTimer()
	reportDelivered(b)
	if st, _ := s.rx.Stats(); st.Overrun != 0 {
		b.Fatalf("%d records lost to overrun", st.Overrun)
	}
}
