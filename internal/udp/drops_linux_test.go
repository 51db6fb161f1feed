package udp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestReaderDrops: on a socket with EnableDropCount and a receive buffer
// of the kernel's minimum, a flood of datagrams that nobody reads makes
// the kernel drop most of them; a Reader with EnableDropCount then reports,
// with the datagrams, the socket's drop count when they were queued: 0
// for the first ones, never decreasing, and for a datagram sent after the
// flood was read, the drops column of /proc/net/udp. What was read plus
// what was dropped is what was sent. In every read path: recvmmsg,
// recvmsg (one slot), GRO. Without EnableDropCount on the socket, the
// count stays 0 while the kernel drops.
func TestReaderDrops(t *testing.T) {
	for _, c := range []struct {
		name   string
		slots  int
		gro    bool
		enable bool
	}{
		{"batch", 32, false, true},
		{"single", 1, false, true},
		{"gro", 8, true, true},
		{"socket not enabled", 32, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			lo := netip.MustParseAddr("127.0.0.1")
			r, s := listenPair(t, lo)
			if err := r.c.SetReadBuffer(1); err != nil { // the kernel's minimum, some 4 KiB
				t.Fatal(err)
			}
			if c.enable {
				if err := r.EnableDropCount(); err != nil {
					t.Fatal(err)
				}
			}
			size := 2048
			if c.gro {
				size = GROBufSize
			}
			rd := NewReader(r, c.slots, size)
			if err := rd.EnableDropCount(); err != nil {
				t.Fatal(err)
			}
			if c.gro {
				if err := rd.EnableGRO(); err != nil {
					t.Skip(err)
				}
			}
			const flood = 300
			pkt := make([]byte, 100)
			for i := range flood {
				binary.BigEndian.PutUint32(pkt, uint32(i))
				if _, err := s.WriteTo(pkt, r.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			dropped := testutil.KernelDrops(t, r.c)
			if dropped == 0 {
				t.Fatalf("%d datagrams into a minimal buffer, none dropped", flood)
			}
			got, last, first := 0, uint32(0), true
			read := func(want func(p []byte) bool) bool {
				t.Helper()
				n, err := rd.TryRead()
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range rd.Msgs[:n] {
					m.Segments(func(d []byte) {
						if first && m.Drops != 0 {
							t.Errorf("the first datagram, queued before any drop, reports %d drops", m.Drops)
						}
						first = false
						if m.Drops != 0 { // 0: not reported with this one
							if m.Drops < last {
								t.Errorf("drop count went down: %d after %d", m.Drops, last)
							}
							last = m.Drops
						}
						if want(d) {
							got++
						}
					})
				}
				return n > 0
			}
			for read(func([]byte) bool { return true }) {
			}
			// The drops after the last datagram read show with the next.
			marker := []byte("marker")
			if _, err := s.WriteTo(marker, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			seen := false
			testutil.Eventually(t, testutil.Patience, func() bool {
				read(func(d []byte) bool {
					if bytes.Equal(d, marker) {
						seen = true
						return false
					}
					return true
				})
				return seen
			}, "the marker never arrived")
			dropped = testutil.KernelDrops(t, r.c)
			if got+int(dropped) != flood {
				t.Errorf("%d read + %d dropped (/proc/net/udp), %d sent", got, dropped, flood)
			}
			want := uint32(dropped)
			if !c.enable {
				want = 0
			}
			if last != want {
				t.Errorf("last drop count %d, want %d (/proc/net/udp: %d)", last, want, dropped)
			}
		})
	}
}

// TestReaderSingleSampled: a one-slot Reader that counts drops takes the
// count (recvmsg) with the first datagram after the socket was found
// empty, then with one in ctlEvery while it reads a backlog, and reads
// the others with recvfrom (Drops 0).
func TestReaderSingleSampled(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	r, s := listenPair(t, lo)
	r.EnableDropCount()
	rd := NewReader(r, 1, 2048)
	rd.EnableDropCount()
	// Some drops first: a minimal buffer, a flood, read it all.
	r.c.SetReadBuffer(1)
	pkt := make([]byte, 100)
	for range 100 {
		s.WriteTo(pkt, r.LocalAddr())
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return testutil.KernelDrops(t, r.c) > 0 }, "no drops")
	for {
		n, err := rd.TryRead()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	dropped := uint32(testutil.KernelDrops(t, r.c))
	// Then a backlog that fits, read one at a time.
	r.c.SetReadBuffer(1 << 20)
	const backlog = 3*ctlEvery + 5
	for range backlog {
		s.WriteTo(pkt, r.LocalAddr())
	}
	if d := uint32(testutil.KernelDrops(t, r.c)); d != dropped {
		t.Skipf("the kernel dropped %d of the backlog (receive buffer capped?)", d-dropped)
	}
	for i := 0; i < backlog; {
		r.c.SetReadDeadline(time.Now().Add(testutil.Patience))
		n, err := rd.Read()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		want := uint32(0)
		if i%ctlEvery == 0 {
			want = dropped
		}
		if got := rd.Msgs[0].Drops; got != want {
			t.Errorf("datagram %d of the backlog: Drops = %d, want %d", i, got, want)
		}
		i++
	}
}

// TestReaderSingleControl: the one-slot Reader that takes control
// messages (recvmsg instead of recvfrom) reads datagrams as the others do:
// lengths, truncation, sources.
func TestReaderSingleControl(t *testing.T) {
	for _, loop := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		r, s := listenPair(t, loop)
		r.EnableDropCount()
		rd := NewReader(r, 1, 64)
		rd.EnableDropCount()
		sent := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 100), []byte("four")}
		for _, p := range sent {
			if _, err := s.WriteTo(p, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
		for i, want := range sent {
			r.c.SetReadDeadline(time.Now().Add(testutil.Patience))
			n, err := rd.Read()
			if n != 1 || err != nil {
				t.Fatalf("%v: Read = %d, %v", loop, n, err)
			}
			m := rd.Msgs[0]
			trunc := len(want) > 64
			if trunc {
				want = want[:64]
			}
			if !bytes.Equal(m.Buf[:m.N], want) || m.Trunc != trunc || m.Src != s.LocalAddr() || m.Drops != 0 {
				t.Fatalf("%v: datagram %d: %q trunc=%v from %v drops %d; want %q trunc=%v from %v",
					loop, i, m.Buf[:m.N], m.Trunc, m.Src, m.Drops, want, trunc, s.LocalAddr())
			}
		}
	}
}

// TestRxControl: the drop count and the GRO segment size are found in any
// order, beside other messages; malformed ones are not trusted.
func TestRxControl(t *testing.T) {
	cm := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafePointer(b))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	ovfl := cm(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(77))
	gro := cm(unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200))
	tos := cm(unix.IPPROTO_IP, unix.IP_TOS, []byte{0xb8, 0, 0, 0})
	cut := bytes.Clone(ovfl)
	(*unix.Cmsghdr)(unsafePointer(cut)).SetLen(1 << 20)
	for _, c := range []struct {
		name  string
		oob   []byte
		seg   int
		drops uint32
	}{
		{"none", nil, 0, 0},
		{"drops", ovfl, 0, 77},
		{"drops, gro", append(bytes.Clone(ovfl), gro...), 1200, 77},
		{"gro, tos, drops", bytes.Join([][]byte{gro, tos, ovfl}, nil), 1200, 77},
		{"tos only", tos, 0, 0},
		{"drops short", cm(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, []byte{1, 2}), 0, 0},
		{"drops length past the buffer", cut, 0, 0},
		{"header cut", ovfl[:unix.SizeofCmsghdr-1], 0, 0},
	} {
		seg, drops := rxControl(c.oob)
		if seg != c.seg || drops != c.drops {
			t.Errorf("%s: rxControl = %d, %d; want %d, %d", c.name, seg, drops, c.seg, c.drops)
		}
	}
}

// TestReaderDropCountNoAllocs: reading with control buffers allocates
// nothing, in batches or one at a time.
func TestReaderDropCountNoAllocs(t *testing.T) {
	for _, slots := range []int{4, 1} {
		r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
		defer r.Close()
		s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
		defer s.Close()
		r.EnableDropCount()
		rd := NewReader(r, slots, 2048)
		rd.EnableDropCount()
		pkt := make([]byte, 1200)
		testutil.NoAllocs(t, "send + Reader.Read with the drop count", func() {
			s.WriteTo(pkt, r.LocalAddr())
			if n, err := rd.Read(); n != 1 || err != nil {
				t.Fatalf("Read = %d, %v", n, err)
			}
		})
	}
}
