package association_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
)

// clientHello is a syntactically valid DTLS record holding the start of a
// ClientHello: enough for the association to see what it is.
func clientHello(i int) []byte {
	body := make([]byte, 60)
	body[0] = 1 // ClientHello
	body[12], body[13] = 0xfe, 0xfd
	body[14] = byte(i)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, byte(i), 0, byte(len(body))}
	return append(rec, body...)
}

// TestSpoofedClientHelloFlood: a server association bound to its peer
// drops a flood of ClientHellos from other addresses before the DTLS stack
// sees them: no goroutine, no growing memory, and the real peer still
// completes its handshake afterwards.
func TestSpoofedClientHelloFlood(t *testing.T) {
	mod := certModule(t)
	srv, cli := newSide(t, mod), newSide(t, mod)
	srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	const senders, each = 40, 250
	conns := make([]*udp.Conn, senders)
	for i := range conns {
		c, err := udp.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}), 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	// One foreign ClientHello dropped proves the server's receive path runs
	// (its goroutines started) before the baseline is taken.
	conns[0].WriteTo(clientHello(0), srv.port)
	testutil.Eventually(t, testutil.Patience, func() bool { return srv.a.Stats().Foreign == 1 },
		"the first spoofed ClientHello was not dropped as foreign: %+v", srv.a.Stats())
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	// The senders keep at most window datagrams in flight beyond what the
	// port has received, well within its socket buffer, so the kernel drops
	// none (even when the receiver is starved of CPU) and every ClientHello
	// can be counted.
	const window = 32
	var sent atomic.Uint64
	sent.Store(1)
	received := func() uint64 { vs, _ := srv.v.Stats(); return vs.DTLS }
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				for sent.Load() > received()+window {
					time.Sleep(100 * time.Microsecond)
				}
				sent.Add(1)
				c.WriteTo(clientHello(j), srv.port)
			}
		}()
	}
	wg.Wait()
	// Every ClientHello reached the port and was dropped as foreign; none
	// reached the DTLS stack.
	const total = 1 + senders*each
	testutil.Eventually(t, testutil.Patience, func() bool { return received() == total && srv.a.Stats().Foreign == total },
		"VMP[rx] received %d of %d DTLS datagrams; association %+v: want all dropped as foreign", received(), total, srv.a.Stats())
	if st := srv.a.Stats(); st.Records != 0 {
		t.Fatalf("association %+v: spoofed ClientHellos handed to the DTLS stack", st)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The server's pion Conn may start its goroutines (3) after the count;
	// a goroutine per ClientHello would add thousands.
	if g := runtime.NumGoroutine(); g > goroutines+8 {
		t.Fatalf("goroutines %d → %d during the flood", goroutines, g)
	}
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 2<<20 {
		t.Fatalf("heap grew %d bytes for %d spoofed ClientHellos", grow, sent.Load())
	}
	cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	for _, s := range []*side{srv, cli} {
		if seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience); seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("handshake after the flood: %v %v", seen, err)
		}
	}
}

// relay sits between two endpoints (A sends to a, B to b) and forwards
// their datagrams: mistreated (drop, dup, reorder), or kept (record) so
// that a test can look at what went on the wire.
type relay struct {
	a, b         *udp.Conn // a faces side A, b faces side B
	toA, toB     netip.AddrPort
	drop         atomic.Int64 // per mille
	dup          atomic.Int64 // per mille
	reorder      bool         // hold back one datagram in four until the next one has gone
	record       bool         // keep a copy of every datagram received (fromA, fromB)
	mu           sync.Mutex
	rng          *rand.Rand
	fromA, fromB [][]byte
	// Datagrams read from A and from B, and written towards A and B.
	inA, inB, outA, outB atomic.Uint64
	wg                   sync.WaitGroup
}

func newRelay(t *testing.T) *relay {
	r := &relay{rng: rand.New(rand.NewPCG(7, 11))}
	var err error
	if r.a, err = udp.Listen(netip.AddrPortFrom(lo4, 0)); err != nil {
		t.Fatal(err)
	}
	if r.b, err = udp.Listen(netip.AddrPortFrom(lo4, 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.a.Close(); r.b.Close(); r.wg.Wait() })
	return r
}

func (r *relay) start() {
	r.wg.Add(2)
	go r.pump(r.a, r.b, func() netip.AddrPort { return r.toB }, &r.fromA, &r.inA, &r.outB)
	go r.pump(r.b, r.a, func() netip.AddrPort { return r.toA }, &r.fromB, &r.inB, &r.outA)
}

// pump forwards from in to out, recording, dropping, duplicating and
// reordering as the relay is set to, and counting what it reads (nin) and
// writes (nout).
func (r *relay) pump(in, out *udp.Conn, dst func() netip.AddrPort, log *[][]byte, nin, nout *atomic.Uint64) {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	var held []byte
	write := func(p []byte) {
		nout.Add(1)
		out.WriteTo(p, dst())
	}
	for {
		in.UDPConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := in.UDPConn().ReadFromUDPAddrPort(buf)
		if err != nil {
			if held != nil { // nothing followed: release it
				write(held)
				held = nil
			}
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				continue
			}
			return
		}
		nin.Add(1)
		p := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		if r.record {
			*log = append(*log, p)
		}
		drop := r.rng.Int64N(1000) < r.drop.Load()
		dup := r.rng.Int64N(1000) < r.dup.Load()
		hold := r.reorder && r.rng.IntN(4) == 0
		r.mu.Unlock()
		if drop {
			continue
		}
		if hold && held == nil {
			held = p
			continue
		}
		write(p)
		if dup {
			write(p)
		}
		if held != nil {
			write(held)
			held = nil
		}
	}
}

// TestLossyRelay: the handshake completes through a relay that drops 20%
// of datagrams, duplicates and reorders them; then application data,
// duplicated and reordered, arrives exactly once; with drops, never twice.
func TestLossyRelay(t *testing.T) {
	mod := openModule(t)
	certA, certB := newCert(t), newCert(t)
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: certA.TLS})
	addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: certB.TLS})
	a, b := newSide(t, mod), newSide(t, mod)
	r := newRelay(t)
	r.toA, r.toB = a.port, b.port
	r.drop.Store(200)
	r.dup.Store(150)
	r.reorder = true
	r.start()
	cfg := association.Config{HandshakeTimeout: 30 * time.Second, FlightInterval: 100 * time.Millisecond,
		SRTPProfiles: []association.SRTPProfile{association.SRTP_AES128_CM_HMAC_SHA1_80}}
	cb := cfg
	cb.Role, cb.Tags = association.Server, []mediaport.CredTag{2}
	b.bind(t, r.b.LocalAddr(), cb)
	ca := cfg
	ca.Role, ca.Tags = association.Client, []mediaport.CredTag{1}
	a.bind(t, r.a.LocalAddr(), ca)
	for _, s := range []*side{a, b} {
		if seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience); seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("handshake through the lossy relay: %v %v", seen, err)
		}
	}
	ka, _ := a.a.SRTPKeys()
	kb, _ := b.a.SRTPKeys()
	if string(ka.Material) != string(kb.Material) {
		t.Fatal("keying material differs")
	}
	if !association.RecordPath(a.a) || !association.RecordPath(b.a) {
		t.Fatal("not on mediaport's record path")
	}

	// Duplicated and reordered, not dropped: each message exactly once.
	// The sender keeps at most window messages beyond those read, so no
	// socket on the way overflows and every message must arrive.
	r.drop.Store(0)
	const n, window = 200, 16
	send := func(from *side, msg string) {
		t.Helper()
		if err := from.tx.SendPacket([]byte(msg)); err != nil {
			t.Fatalf("SendPacket %q: %v", msg, err)
		}
	}
	for _, tc := range []struct {
		from, to *side
		tag      string
	}{{a, b, "ab"}, {b, a, "ba"}} {
		got := map[string]int{}
		recv := func() {
			t.Helper()
			m := tc.to.read(t, testutil.Patience)
			got[m]++
			if got[m] > 1 {
				t.Fatalf("%q delivered twice", m)
			}
			if m[:2] != tc.tag || m == tc.tag+"-end" {
				t.Fatalf("unexpected message %q", m)
			}
		}
		for i := 0; i < n; i++ {
			send(tc.from, fmt.Sprintf("%s-%03d", tc.tag, i))
			for i+1-len(got) > window {
				recv()
			}
		}
		for len(got) < n {
			recv()
		}
		// Every message has come out of the relay, and with it every
		// duplicate (the relay writes it right after the original): they
		// are all ahead of a marker sent now, so the marker is the next
		// delivery unless a duplicate surfaces.
		send(tc.from, tc.tag+"-end")
		if m := tc.to.read(t, testutil.Patience); m != tc.tag+"-end" {
			t.Fatalf("extra delivery %q before the marker", m)
		}
	}
	// The relay duplicated some of those records: the copies were
	// dropped by the replay window and counted.
	if b.a.Stats().Replayed == 0 || a.a.Stats().Replayed == 0 {
		t.Fatalf("duplicates not counted: %+v %+v", a.a.Stats(), b.a.Stats())
	}

	// With drops: some messages are lost, none arrives twice. Paced as
	// above, by what the relay has read from A and what B has received
	// of what the relay wrote to it, so that only the relay loses any.
	r.drop.Store(200)
	inA0, outB0 := r.inA.Load(), r.outB.Load()
	rxB := func() uint64 { vs, _ := b.v.Stats(); return vs.DTLS }
	rxB0 := rxB()
	for i := 0; i < n; i++ {
		testutil.Eventually(t, testutil.Patience, func() bool {
			return uint64(i) <= r.inA.Load()-inA0+window && r.outB.Load()-outB0 <= rxB()-rxB0+window
		}, "relay read %d of %d lossy messages, B received %d of %d it wrote", r.inA.Load()-inA0, i, rxB()-rxB0, r.outB.Load()-outB0)
		send(a, fmt.Sprintf("lossy-%03d", i))
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return r.inA.Load()-inA0 >= n },
		"relay read %d of %d lossy messages", r.inA.Load()-inA0, n)
	// The relay has decided the fate of every lossy message. Two markers,
	// not dropped: whatever the relay holds back to reorder goes out
	// before the second, so once both are read every lossy message that
	// got through has been delivered.
	r.drop.Store(0)
	send(a, "lossy-end-1")
	send(a, "lossy-end-2")
	seen := map[string]bool{}
	for !seen["lossy-end-1"] || !seen["lossy-end-2"] {
		m := b.read(t, testutil.Patience)
		if seen[m] {
			t.Fatalf("%q delivered twice under loss", m)
		}
		seen[m] = true
	}
	if lost := n + 2 - len(seen); lost < 1 || lost > n/2 {
		t.Fatalf("%d of %d lossy messages arrived: the relay should have lost about 20%%", len(seen)-2, n)
	}
}
