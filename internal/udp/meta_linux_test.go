package udp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setTTL sets the TTL (IPv4) or unicast hop limit (IPv6) of what s sends.
func setTTL(t *testing.T, s *Conn, ttl int) {
	t.Helper()
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		if s.is6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
}

// TestReaderMeta sends loopback datagrams with a set TOS (traffic class)
// and TTL (hop limit) and checks that a Reader with EnableMeta, on a
// socket with EnableRecvMeta, reports both with each datagram, and a
// kernel receive time between the wall clock before the send and after
// the read: over IPv4 and IPv6, in the batch (recvmmsg) and one-slot
// (recvmsg) paths, and with GRO. Without EnableRecvMeta on the socket
// nothing is reported.
func TestReaderMeta(t *testing.T) {
	const tos, ttl, count = 0xb8, 37, 5
	for _, c := range []struct {
		name  string
		slots int
		gro   bool
		off   bool
	}{
		{"batch", 8, false, false},
		{"single", 1, false, false},
		{"gro", 8, true, false},
		{"socket not enabled", 8, false, true},
		{"single socket not enabled", 1, false, true},
	} {
		for _, lo := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
			t.Run(c.name+"/"+lo.String(), func(t *testing.T) {
				r, s := listenPair(t, lo)
				if !c.off {
					if err := r.EnableRecvMeta(); err != nil {
						t.Fatal(err)
					}
				}
				if err := r.EnableDropCount(); err != nil {
					t.Fatal(err)
				}
				if err := s.SetTOS(tos); err != nil {
					t.Fatal(err)
				}
				setTTL(t, s, ttl)
				size := 100
				if c.gro {
					size = GROBufSize
				}
				rd := NewReader(r, c.slots, size)
				if err := rd.EnableDropCount(); err != nil {
					t.Fatal(err)
				}
				if c.gro {
					if err := rd.EnableGRO(); err != nil {
						t.Skip("no UDP_GRO:", err)
					}
				}
				if err := rd.EnableMeta(); err != nil {
					t.Fatal(err)
				}
				before := time.Now().UnixNano()
				for i := 0; i < count; i++ {
					if _, err := s.WriteTo([]byte{byte(i), 1, 2, 3}, r.LocalAddr()); err != nil {
						t.Fatal(err)
					}
				}
				r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got := 0
				for got < count {
					n, err := rd.Read()
					if err != nil {
						t.Fatalf("after %d datagrams: %v", got, err)
					}
					after := time.Now().UnixNano()
					for i := 0; i < n; i++ {
						m := &rd.Msgs[i]
						if m.Src != s.LocalAddr() {
							t.Fatalf("source %v, want %v", m.Src, s.LocalAddr())
						}
						if c.off {
							if m.Meta != (Meta{}) {
								t.Errorf("socket without EnableRecvMeta: Meta %+v, want none", m.Meta)
							}
						} else {
							if m.Meta.Flags&MetaTOS == 0 || m.Meta.TOS != tos {
								t.Errorf("TOS %#x (flags %b), want %#x", m.Meta.TOS, m.Meta.Flags, tos)
							}
							if m.Meta.Flags&MetaTTL == 0 || m.Meta.TTL != ttl {
								t.Errorf("TTL %d (flags %b), want %d", m.Meta.TTL, m.Meta.Flags, ttl)
							}
							if m.Meta.Time < before || m.Meta.Time > after {
								t.Errorf("receive time %d not within [%d, %d]", m.Meta.Time, before, after)
							}
						}
						m.Segments(func([]byte) { got++ })
					}
				}
			})
		}
	}
}

// TestReaderMetaAllocs: reading with the metadata on allocates nothing,
// batch or one slot.
func TestReaderMetaAllocs(t *testing.T) {
	for _, slots := range []int{1, 8} {
		lo := netip.MustParseAddr("127.0.0.1")
		r, s := listenPair(t, lo)
		if err := r.EnableRecvMeta(); err != nil {
			t.Fatal(err)
		}
		rd := NewReader(r, slots, 100)
		rd.EnableMeta()
		rd.EnableDropCount()
		p := []byte("meta")
		r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		allocs := testing.AllocsPerRun(200, func() {
			s.WriteTo(p, r.LocalAddr())
			if _, err := rd.Read(); err != nil {
				t.Fatal(err)
			}
			if rd.Msgs[0].Meta.Flags&MetaTTL == 0 {
				t.Fatal("no TTL reported")
			}
		})
		if allocs != 0 {
			t.Errorf("%d slots: %v allocations per read", slots, allocs)
		}
	}
}

// cmsg builds one control message.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafePointer(b))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func timespec(sec, nsec int64) []byte {
	ts := unix.NsecToTimespec(sec*1e9 + nsec)
	b := make([]byte, sizeofTimespec)
	*(*unix.Timespec)(unsafePointer(b)) = ts
	return b
}

// metaCorpus is well-formed and malformed control buffers.
func metaCorpus() [][]byte {
	var all []byte
	for _, m := range [][]byte{
		cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(7)),
		cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(1700000000, 123)),
		cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(64)),
		cmsg(unix.IPPROTO_IP, unix.IP_TOS, []byte{0xb8}),
		cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200)),
	} {
		all = append(all, m...)
	}
	v6 := append(append(cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, u32(3)),
		cmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, u32(0x2e))...),
		cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(0, 0))...)
	short := cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, []byte{1, 2, 3}) // too short a timespec
	long := cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(9))
	(*unix.Cmsghdr)(unsafePointer(long)).SetLen(1 << 20)
	zero := cmsg(unix.IPPROTO_IP, unix.IP_TOS, []byte{1})
	(*unix.Cmsghdr)(unsafePointer(zero)).SetLen(0)
	return [][]byte{nil, {}, all, all[:len(all)-3], append([]byte{0}, all...), v6, short, long, zero,
		append(cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(1)), long...)}
}

// TestParseControlMeta decodes each control message the kernel attaches
// with EnableRecvMeta, alone, together, unaligned and malformed.
func TestParseControlMeta(t *testing.T) {
	c := metaCorpus()
	var m Meta
	seg, drops := parseControl(c[2], &m)
	want := Meta{Time: 1700000000*1e9 + 123, TTL: 64, TOS: 0xb8, Flags: MetaTTL | MetaTOS}
	if m != want || seg != 1200 || drops != 7 {
		t.Errorf("all: %+v seg %d drops %d, want %+v 1200 7", m, seg, drops, want)
	}
	parseControl(c[4][1:], &m) // unaligned copy (the walker copies the header)
	if m != want {
		t.Errorf("unaligned: %+v, want %+v", m, want)
	}
	parseControl(c[5], &m)
	if want6 := (Meta{TTL: 3, TOS: 0x2e, Flags: MetaTTL | MetaTOS}); m != want6 {
		t.Errorf("IPv6: %+v, want %+v (a zero time is none)", m, want6)
	}
	for i, b := range [][]byte{c[6], c[7], c[8]} {
		m = Meta{Time: 1, TTL: 1, Flags: MetaTTL}
		parseControl(b, &m)
		if m != (Meta{}) {
			t.Errorf("malformed %d: %+v, want nothing", i, m)
		}
	}
	parseControl(c[9], &m)
	if m != (Meta{TTL: 1, Flags: MetaTTL}) {
		t.Errorf("good then overlong: %+v, want the first one only", m)
	}
}

// FuzzParseControl: any control buffer, aligned or not, is read without
// a panic, and a TTL or TOS is set only with its flag.
func FuzzParseControl(f *testing.F) {
	for _, b := range metaCorpus() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, oob []byte) {
		var m Meta
		seg, _ := parseControl(oob, &m)
		if seg < 0 || seg > 65535 || m.Time < 0 {
			t.Fatalf("seg %d, meta %+v", seg, m)
		}
		if (m.Flags&MetaTTL == 0 && m.TTL != 0) || (m.Flags&MetaTOS == 0 && m.TOS != 0) || m.Flags&^(MetaTTL|MetaTOS) != 0 {
			t.Fatalf("meta %+v", m)
		}
	})
}

// TestEnableMetaErrors: a Conn without a socket is refused.
func TestEnableMetaErrors(t *testing.T) {
	if err := (&Conn{}).EnableRecvMeta(); err == nil || errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("EnableRecvMeta without a socket: %v", err)
	}
}
