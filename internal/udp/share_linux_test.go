package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestTOSControl: a datagram sent with TOSControl carries its TOS (IPv4)
// or traffic class (IPv6), alone or in a batch with or without
// segmentation offload, while the socket's own setting stays as it was.
func TestTOSControl(t *testing.T) {
	sizes := []int{1200, 1200, 1200, 700, 1200, 0, 5, 1400, 1400, 1400, 30}
	for _, loop := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		for _, gso := range []bool{true, false} {
			r, s := listenPair(t, loop)
			if err := r.EnableRecvTOS(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65536)
			expect := func(what string, want []byte, wantTOS int) {
				t.Helper()
				r.c.SetReadDeadline(time.Now().Add(testutil.Patience))
				n, src, tos, err := r.ReadTOS(buf)
				if err != nil {
					t.Fatalf("%v gso=%v %s: %v", loop, gso, what, err)
				}
				if !bytes.Equal(buf[:n], want) || src != s.LocalAddr() || tos != wantTOS {
					t.Fatalf("%v gso=%v %s: %d bytes from %v tos %#x, want %d bytes from %v tos %#x",
						loop, gso, what, n, src, tos, len(want), s.LocalAddr(), wantTOS)
				}
			}

			one := []byte("one")
			if _, err := s.WriteMsgTo(one, s.TOSControl(0xb8), r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			expect("WriteMsgTo", one, 0xb8)
			if _, err := s.WriteMsgTo(one, nil, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			expect("WriteMsgTo without control", one, 0)
			if tos, err := s.TOS(); err != nil || tos != 0 {
				t.Fatalf("socket TOS = %#x, %v: the control message changed the socket", tos, err)
			}

			b := NewBatch(s, r.LocalAddr(), 4) // several sendmmsg calls
			if gso && !b.gso {
				t.Logf("%v: no UDP segmentation offload on this kernel", loop)
				continue
			}
			b.gso = gso
			b.SetControl(s.TOSControl(0x88))
			var pkts [][]byte
			for i, n := range sizes {
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(i*5 + j)
				}
				pkts = append(pkts, p)
			}
			if n, err := b.Send(pkts); err != nil || n != len(pkts) {
				t.Fatalf("%v gso=%v: Send = %d, %v", loop, gso, n, err)
			}
			for i, p := range pkts {
				expect("batch datagram "+string(rune('a'+i)), p, 0x88)
			}
			b.SetControl(nil)
			if n, err := b.Send(pkts[:3]); err != nil || n != 3 {
				t.Fatalf("%v gso=%v: Send without control = %d, %v", loop, gso, n, err)
			}
			for _, p := range pkts[:3] {
				expect("batch without control", p, 0)
			}
		}
	}
}

func TestTOSControlAllocs(t *testing.T) {
	r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer r.Close()
	s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer s.Close()
	ctl := s.TOSControl(0xb8)
	b := NewBatch(s, r.LocalAddr(), 32)
	b.SetControl(ctl)
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = make([]byte, 1200)
	}
	testutil.NoAllocs(t, "WriteMsgTo", func() { s.WriteMsgTo(pkts[0], ctl, r.LocalAddr()) })
	testutil.NoAllocs(t, "Batch.Send of 32 with control", func() { b.Send(pkts) })
}
