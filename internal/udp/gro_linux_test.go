package udp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReaderGRO: a GSO batch sent to a socket with GRO enabled arrives
// coalesced (the kernel hands several datagrams over in one message), and
// Segments gives back every datagram, in order, byte for byte — including
// a shorter last one and a lone datagram of another size.
func TestReaderGRO(t *testing.T) {
	for _, loop := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		r, err := Listen(netip.AddrPortFrom(loop, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, _ := Listen(netip.AddrPortFrom(loop, 0))
		defer s.Close()
		rd := NewReader(r, 4, GROBufSize)
		if err := rd.EnableGRO(); err != nil {
			t.Skipf("no UDP_GRO here: %v", err)
		}
		var sent [][]byte
		for i := 0; i < 40; i++ {
			p := make([]byte, 1000)
			binary.BigEndian.PutUint32(p, uint32(i))
			sent = append(sent, p)
		}
		sent = append(sent, bytes.Repeat([]byte{0xaa}, 300)) // shorter: ends the GSO group
		b := NewBatch(s, r.LocalAddr(), len(sent))
		if n, err := b.Send(sent); err != nil || n != len(sent) {
			t.Fatalf("Send = %d, %v", n, err)
		}
		var got [][]byte
		coalesced := false
		for len(got) < len(sent) {
			r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := rd.Read()
			if err != nil {
				t.Fatalf("%v: Read after %d datagrams: %v", loop, len(got), err)
			}
			for i := range rd.Msgs[:n] {
				m := &rd.Msgs[i]
				if m.Src != s.LocalAddr() || m.Trunc {
					t.Fatalf("%v: message from %v trunc=%v", loop, m.Src, m.Trunc)
				}
				if m.Seg > 0 && m.N > m.Seg {
					coalesced = true
				}
				m.Segments(func(d []byte) { got = append(got, bytes.Clone(d)) })
			}
		}
		if len(got) != len(sent) {
			t.Fatalf("%v: %d datagrams, want %d", loop, len(got), len(sent))
		}
		for i := range sent {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("%v: datagram %d differs (%d bytes, want %d)", loop, i, len(got[i]), len(sent[i]))
			}
		}
		if !coalesced && b.gso {
			t.Errorf("%v: GSO batch never arrived coalesced", loop)
		}
	}
}

func TestGROSize(t *testing.T) {
	cm := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafePointer(b))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	seg := binary.NativeEndian.AppendUint32(nil, 1200)
	tos := []byte{0xb8, 0, 0, 0}
	for _, c := range []struct {
		name string
		oob  []byte
		want int
	}{
		{"none", nil, 0},
		{"gro", cm(unix.IPPROTO_UDP, unix.UDP_GRO, seg), 1200},
		{"tos then gro", append(cm(unix.IPPROTO_IP, unix.IP_TOS, tos), cm(unix.IPPROTO_UDP, unix.UDP_GRO, seg)...), 1200},
		{"tos only", cm(unix.IPPROTO_IP, unix.IP_TOS, tos), 0},
		{"short data", cm(unix.IPPROTO_UDP, unix.UDP_GRO, seg[:2]), 0},
		{"zero", cm(unix.IPPROTO_UDP, unix.UDP_GRO, make([]byte, 4)), 0},
		{"truncated header", cm(unix.IPPROTO_UDP, unix.UDP_GRO, seg)[:unix.SizeofCmsghdr-1], 0},
	} {
		if got := groSize(c.oob); got != c.want {
			t.Errorf("%s: groSize = %d, want %d", c.name, got, c.want)
		}
	}
	bad := cm(unix.IPPROTO_UDP, unix.UDP_GRO, seg)
	(*unix.Cmsghdr)(unsafePointer(bad)).SetLen(1 << 20) // longer than the buffer
	if groSize(bad) != 0 {
		t.Error("a length beyond the buffer was trusted")
	}
}

// FuzzGROSize: any control buffer, aligned or not, is read without a
// panic, and a size is reported only from a well-formed UDP_GRO message.
func FuzzGROSize(f *testing.F) {
	f.Add([]byte{})
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafePointer(b))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_GRO
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], 1200)
	f.Add(b)
	f.Add(append([]byte{0}, b...)) // unaligned
	f.Fuzz(func(t *testing.T, oob []byte) {
		if n := groSize(oob); n < 0 || n > 65535 {
			t.Fatalf("groSize = %d", n)
		}
	})
}
