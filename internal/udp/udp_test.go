package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

func TestGSOGroupEnd(t *testing.T) {
	mk := func(sizes ...int) [][]byte {
		var p [][]byte
		for _, s := range sizes {
			p = append(p, make([]byte, s))
		}
		return p
	}
	big := make([]int, 100)
	for i := range big {
		big[i] = 1000
	}
	for _, tc := range []struct {
		sizes []int
		i     int
		want  int
	}{
		{[]int{100, 100, 100}, 0, 3},
		{[]int{100, 100, 50, 100}, 0, 3}, // a shorter one ends the group
		{[]int{100, 200, 100}, 0, 1},     // a longer one cannot join
		{[]int{0, 0, 0}, 0, 1},           // empty datagrams travel alone
		{[]int{100, 0, 100}, 0, 1},
		{[]int{100, 100, 100}, 2, 3},
		{big, 0, 65},                              // 65 × 1000 bytes fit in 65000
		{[]int{20000, 20000, 20000, 20000}, 0, 3}, // byte limit
	} {
		if got := gsoGroupEnd(mk(tc.sizes...), tc.i); got != tc.want && !(len(tc.sizes) == 100 && got == maxGSOSegments) {
			t.Errorf("gsoGroupEnd(%v, %d) = %d, want %d", tc.sizes, tc.i, got, tc.want)
		}
	}
	if got := gsoGroupEnd(mk(big...), 0); got != maxGSOSegments {
		t.Errorf("100 datagrams of 1000 bytes: group of %d, want the segment limit %d", got, maxGSOSegments)
	}
}

// TestBatchMixedSizes sends datagrams of mixed sizes, with and without
// segmentation offload, and checks each arrives whole, alone and in order.
func TestBatchMixedSizes(t *testing.T) {
	sizes := []int{1200, 1200, 1200, 700, 1200, 0, 0, 5, 1500, 1500, 1400, 1400, 1400, 1400, 1, 1, 1, 9000, 9000, 30}
	for _, gso := range []bool{true, false} {
		for _, loop := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
			r, s := listenPair(t, loop)
			if err := s.SetTOS(0x20); err != nil {
				t.Fatal(err)
			}
			if err := r.EnableRecvTOS(); err != nil {
				t.Fatal(err)
			}
			b := NewBatch(s, r.LocalAddr(), 8)
			if gso && !b.gso {
				t.Skip("no UDP segmentation offload on this kernel")
			}
			b.gso = gso
			var pkts [][]byte
			for i, n := range sizes {
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(i*7 + j)
				}
				pkts = append(pkts, p)
			}
			n, err := b.Send(pkts)
			if err != nil || n != len(pkts) {
				t.Fatalf("gso=%v %v: Send = %d, %v", gso, loop, n, err)
			}
			for _, v := range b.iov {
				if v != nil {
					t.Fatal("Batch keeps a reference to the caller's buffer")
				}
			}
			buf := make([]byte, 65536)
			for i, want := range pkts {
				r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, src, tos, err := r.ReadTOS(buf)
				if err != nil {
					t.Fatalf("gso=%v %v: datagram %d: %v", gso, loop, i, err)
				}
				if !bytes.Equal(buf[:n], want) || src != s.LocalAddr() || tos != 0x20 {
					t.Fatalf("gso=%v %v: datagram %d: %d bytes from %v tos %#x, want %d bytes from %v", gso, loop, i, n, src, tos, len(want), s.LocalAddr())
				}
			}
		}
	}
}

func TestBatchAllocs(t *testing.T) {
	r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer r.Close()
	s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer s.Close()
	b := NewBatch(s, r.LocalAddr(), 32)
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = make([]byte, 1200)
	}
	testutil.NoAllocs(t, "Batch.Send of 32", func() { b.Send(pkts) })
	testutil.NoAllocs(t, "WriteTo", func() { s.WriteTo(pkts[0], r.LocalAddr()) })
}

// listenPair returns a receiving and a sending socket on addr's loopback,
// ephemeral ports, closed when t ends.
func listenPair(t testing.TB, addr netip.Addr) (r, s *Conn) {
	t.Helper()
	var err error
	if r, err = Listen(netip.AddrPortFrom(addr, 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if s, err = Listen(netip.AddrPortFrom(addr, 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return r, s
}
