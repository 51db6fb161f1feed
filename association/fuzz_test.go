package association_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/pktq"
)

// FuzzValidRecords: the record-layer check never panics and accepts only
// sequences of whole records.
func FuzzValidRecords(f *testing.F) {
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1})
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 0, 21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 6, 0, 2, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ok := association.ValidRecords(b)
		// Independent walk: whole records only.
		want := len(b) > 0
		for rest := b; len(rest) > 0 && want; {
			if len(rest) < 13 || rest[0] < 20 || rest[0] > 23 {
				want = false
				break
			}
			v := binary.BigEndian.Uint16(rest[1:])
			n := int(binary.BigEndian.Uint16(rest[11:]))
			if (v != 0xfefd && v != 0xfeff) || 13+n > len(rest) {
				want = false
				break
			}
			rest = rest[13+n:]
		}
		if ok != want {
			t.Fatalf("ValidRecords(% x) = %v, want %v", b, ok, want)
		}
	})
}

// FuzzEstablished feeds arbitrary datagrams, as if from the peer, into an
// established association (on mediaport's record path), and checks after each that it still carries
// application data both ways: garbage is dropped (counted when it is not
// even a record), never fatal.
func FuzzEstablished(f *testing.F) {
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4})
	f.Add([]byte{21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40})      // a fake fatal alert, unauthenticated
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0}) // a stray ClientHello start
	f.Add([]byte{20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 1})
	f.Add([]byte("garbage"))

	mod := certModule(f)
	a, b := newSide(f, mod), newSide(f, mod)
	b.bind(f, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	a.bind(f, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	for _, s := range []*side{a, b} {
		if seen, err := s.waitRx(f, dtlsrx.Handshake, 10*time.Second); seen[len(seen)-1] != dtlsrx.Handshake {
			f.Fatalf("handshake: %v %v", seen, err)
		}
	}
	if !association.RecordPath(b.a) {
		f.Fatal("not on mediaport's record path: the fuzzing would test pion's")
	}
	pool := pktq.NewPool(2048)
	f.Fuzz(func(t *testing.T, garbage []byte) {
		garbage, before, after := deliverOne(b.a, pool, garbage, a.port)
		if !association.ValidRecords(garbage) && after.Malformed != before.Malformed+1 {
			t.Fatalf("malformed datagram not counted: %+v → %+v", before, after)
		}
		a.sendTo(t, b, "still alive") // after the garbage
		b.sendTo(t, a, "and back")
	})
}

// FuzzHandshaking: datagrams from the peer while a server association
// waits for its handshake — application data among them, which it holds
// until the handshake completes — are taken or dropped, always counted,
// never a panic, and never end the handshake.
func FuzzHandshaking(f *testing.F) {
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4})
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 0, 23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 10, 0, 1, 7})
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("garbage"))
	f.Add([]byte{20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 9})          // a ChangeCipherSpec pion refuses: a spoofable decode_error
	f.Add([]byte{20, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2, 0x41, 0x7f}) // the same at epoch 1

	mod := certModule(f)
	peer := netip.MustParseAddrPort("192.0.2.7:5000") // never answers
	s := newSide(f, mod)
	s.bind(f, peer, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 24 * time.Hour})
	pool := pktq.NewPool(2048)
	f.Fuzz(func(t *testing.T, garbage []byte) {
		garbage, before, after := deliverOne(s.a, pool, garbage, peer)
		switch {
		case !association.ValidRecords(garbage):
			if after.Malformed != before.Malformed+1 {
				t.Fatalf("malformed datagram not counted: %+v → %+v", before, after)
			}
		case after.Records+after.Foreign+after.Rejected+after.Overrun == before.Records+before.Foreign+before.Rejected+before.Overrun:
			t.Fatalf("datagram neither taken nor counted: %+v → %+v", before, after)
		}
		if st, _ := s.a.State(); st != association.Handshaking {
			t.Fatalf("state %v after % x", st, garbage)
		}
	})
}

// deliverOne hands datagram d (cut to the pool's packet size) from src to
// a as its VMP[rx] would, and returns what it delivered with a's counters
// before and after.
func deliverOne(a *association.Association, pool *pktq.Pool, d []byte, src netip.AddrPort) (delivered []byte, before, after association.Stats) {
	d = d[:min(len(d), pool.Size())]
	before = a.Stats()
	p := pool.Get()
	p.N, p.Src = copy(p.Buf, d), src
	if !association.Deliver(a, p) {
		pool.Put(p)
	}
	association.Flush(a)
	return d, before, a.Stats()
}
