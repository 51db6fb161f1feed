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
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
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
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	// 40 senders send rounds of 250 ClientHellos each, until 2,000 have
	// reached the port (the kernel drops some when the socket buffer
	// overflows, more on a loaded machine).
	const senders, each, enough = 40, 250, 2000
	conns := make([]*udp.Conn, senders)
	for i := range conns {
		c, err := udp.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}), 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	sent := 0
	for end := time.Now().Add(30 * time.Second); ; {
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < each; j++ {
					c.WriteTo(clientHello(j), srv.port)
					if j%10 == 9 {
						time.Sleep(time.Millisecond) // keep within the socket buffer
					}
				}
			}()
		}
		wg.Wait()
		sent += senders * each
		if vs, _ := srv.v.Stats(); vs.DTLS >= enough {
			break
		}
		if time.Now().After(end) {
			vs, _ := srv.v.Stats()
			t.Fatalf("%d of %d ClientHellos reached the port in 30 s", vs.DTLS, sent)
		}
	}
	// Every ClientHello that reached the port is dropped as foreign: wait
	// (at most 30 s) until the association has counted all those the
	// VMP[rx] has.
	var vs vmprx.Stats
	var st association.Stats
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		vs, _ = srv.v.Stats()
		st = srv.a.Stats()
		if st.Foreign == vs.DTLS || time.Now().After(end) {
			break
		}
	}
	if st.Foreign != vs.DTLS || st.Records != 0 {
		t.Fatalf("VMP[rx] received %d DTLS datagrams; association %+v: want all dropped as foreign, none handed to the DTLS stack", vs.DTLS, st)
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
		t.Fatalf("heap grew %d bytes for %d spoofed ClientHellos", grow, sent)
	}
	cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	for _, s := range []*side{srv, cli} {
		if seen, err := s.waitRx(t, dtlsrx.Handshake, 10*time.Second); seen[len(seen)-1] != dtlsrx.Handshake {
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
	wg           sync.WaitGroup
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
	go r.pump(r.a, r.b, func() netip.AddrPort { return r.toB }, &r.fromA)
	go r.pump(r.b, r.a, func() netip.AddrPort { return r.toA }, &r.fromB)
}

// pump forwards from in to out, recording, dropping, duplicating and
// reordering as the relay is set to.
func (r *relay) pump(in, out *udp.Conn, dst func() netip.AddrPort, log *[][]byte) {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	var held []byte
	for {
		in.UDPConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := in.UDPConn().ReadFromUDPAddrPort(buf)
		if err != nil {
			if held != nil { // nothing followed: release it
				out.WriteTo(held, dst())
				held = nil
			}
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				continue
			}
			return
		}
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
		out.WriteTo(p, dst())
		if dup {
			out.WriteTo(p, dst())
		}
		if held != nil {
			out.WriteTo(held, dst())
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
		if seen, err := s.waitRx(t, dtlsrx.Handshake, 35*time.Second); seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("handshake through the lossy relay: %v %v", seen, err)
		}
	}
	ka, _ := a.a.SRTPKeys()
	kb, _ := b.a.SRTPKeys()
	if string(ka.Material) != string(kb.Material) {
		t.Fatal("keying material differs")
	}

	// Duplicated and reordered, not dropped: each message exactly once.
	r.drop.Store(0)
	const n = 200
	send := func(from *side, tag string) {
		for i := 0; i < n; i++ {
			if err := from.tx.SendPacket([]byte(fmt.Sprintf("%s-%03d", tag, i))); err != nil {
				t.Error(err)
				return
			}
		}
	}
	go send(a, "ab")
	go send(b, "ba")
	for _, tc := range []struct {
		s   *side
		tag string
	}{{b, "ab"}, {a, "ba"}} {
		got := map[string]int{}
		for len(got) < n {
			m := tc.s.read(t, 10*time.Second)
			got[m]++
			if got[m] > 1 {
				t.Fatalf("%q delivered twice", m)
			}
			if m[:2] != tc.tag {
				t.Fatalf("unexpected message %q", m)
			}
		}
		time.Sleep(50 * time.Millisecond) // duplicates still in flight must not surface
		buf := make([]byte, 64)
		if n2, _, err := tc.s.rx.GetPacket(buf); err == nil {
			t.Fatalf("extra delivery %q", buf[:n2])
		}
	}

	// With drops: some messages are lost, none arrives twice.
	r.drop.Store(200)
	for i := 0; i < n; i++ {
		a.tx.SendPacket([]byte(fmt.Sprintf("lossy-%03d", i)))
	}
	time.Sleep(300 * time.Millisecond)
	seen := map[string]bool{}
	buf := make([]byte, 64)
	for {
		k, _, err := b.rx.GetPacket(buf)
		if err != nil {
			break
		}
		m := string(buf[:k])
		if seen[m] {
			t.Fatalf("%q delivered twice under loss", m)
		}
		seen[m] = true
	}
	if len(seen) < n/2 || len(seen) == n {
		t.Fatalf("%d of %d lossy messages arrived: the relay should have lost about 20%%", len(seen), n)
	}
}
