package vmprx_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// rtpWith is an RTP packet of SSRC ssrc whose first byte is b0 (V, P, X,
// CC), with the CSRC list b0 asks for, followed by tail.
func rtpWith(b0 byte, ssrc uint32, tail ...byte) []byte {
	p := make([]byte, 12+4*int(b0&0x0f))
	p[0], p[1] = b0, 96
	binary.BigEndian.PutUint32(p[8:], ssrc)
	return append(p, tail...)
}

// reading collects what a VMP[rx] hands the application: its packets, in
// order, and the SSRCs Status reports with NewSSRC. In either mode its
// poll reads the port (with CallerReads, GetPacket and Status do).
type reading struct {
	t     *testing.T
	v     *vmprx.VMPRx
	pkts  [][]byte
	class []vmprx.Class
	ssrcs []uint32
	buf   []byte
}

func (r *reading) poll() {
	r.t.Helper()
	for {
		st, err := r.v.Status()
		if err != nil {
			r.t.Fatal(err)
		}
		if st == vmprx.NewSSRC {
			s, _ := r.v.NewSSRC()
			r.ssrcs = append(r.ssrcs, s)
			continue
		}
		if st != vmprx.GotPorts && st != vmprx.Overrun {
			break
		}
	}
	for {
		pkt, err := r.v.GetPacket(r.buf)
		if errors.Is(err, vmprx.ErrNoPacket) {
			return
		}
		if err != nil {
			r.t.Fatal(err)
		}
		r.pkts = append(r.pkts, bytes.Clone(r.buf[:pkt.Len]))
		r.class = append(r.class, pkt.Class)
	}
}

func counted(st vmprx.Stats) uint64 {
	return st.RTP + st.RTCP + st.Overrun + st.DTLS + st.STUN + st.ZRTP + st.TURN + st.Unknown + st.Short +
		st.Truncated + st.Misdirected + st.Malformed
}

// TestMalformedOnPort: on a real port, in both modes, RTP and RTCP whose
// header runs past the datagram are counted as Malformed and dropped:
// never delivered, never reported with NewSSRC; the well-formed ones
// around them are delivered in order and their SSRCs reported; a
// datagram of version 3 stays Unknown. The datagrams go one at a time,
// each once the one before was counted, so none waits in the socket and
// the kernel has no reason to drop any (KernelDrops 0 is checked).
func TestMalformedOnPort(t *testing.T) {
	ext := func(words int) []byte { // an extension of words 32-bit words
		return append([]byte{0xbe, 0xde, 0, byte(words)}, make([]byte, 4*words)...)
	}
	rr := func(length uint16, body int) []byte {
		p := []byte{0x80, 201, byte(length >> 8), byte(length)}
		return append(p, make([]byte, body)...)
	}
	sdes := []byte{0x81, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0}
	cases := []struct {
		name string
		p    []byte
		ok   bool // delivered
	}{
		{"rtp", rtpWith(0x80, 1, 'a'), true},
		{"rtp CC=15, 12 bytes", rtpWith(0x8f, 2)[:12], false},
		{"rtp extension past the end", rtpWith(0x90, 3, ext(4)[:12]...), false},
		{"rtp padding count 0", rtpWith(0xa0, 4, 'b', 0), false},
		{"rtp padding past the header", rtpWith(0xa0, 5, 'b', 3), false},
		{"rtcp length past the end", rr(3, 4), false},
		{"rtcp compound, second past the end", append(rr(1, 4), 0x81, 202, 0, 9, 0, 0, 0, 1), false},
		{"rtcp compound", append(rr(1, 4), sdes...), true},
		{"version 3", append([]byte{0xc0, 96}, make([]byte, 10)...), false},
		{"rtp CC, extension, padding", rtpWith(0xb2, 6, append(ext(1), 'c', 0, 2)...), true},
		{"rtp padding only", rtpWith(0xa0, 1, 0, 0, 0, 4), true},
		{"rtp extension past the end, known SSRC", rtpWith(0x90, 1, 0xbe, 0xde, 0, 1), false},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{})
			v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: m.callerReads})
			s := sender(t, lo4)
			r := &reading{t: t, v: v, buf: make([]byte, 2048)}
			var want [][]byte
			for i, c := range cases {
				if _, err := s.WriteTo(c.p, port); err != nil {
					t.Fatal(err)
				}
				testutil.Eventually(t, testutil.Patience, func() bool {
					r.poll()
					st, _ := v.Stats()
					return counted(st) == uint64(i+1)
				}, "%s: not counted", c.name)
				if c.ok {
					want = append(want, c.p)
				}
			}
			r.poll()
			if !slices.EqualFunc(r.pkts, want, bytes.Equal) {
				t.Errorf("delivered %d packets:\n% x\nwant %d:\n% x", len(r.pkts), r.pkts, len(want), want)
			}
			if wantClass := []vmprx.Class{vmprx.ClassRTP, vmprx.ClassRTCP, vmprx.ClassRTP, vmprx.ClassRTP}; !slices.Equal(r.class, wantClass) {
				t.Errorf("classes %v, want %v", r.class, wantClass)
			}
			if !slices.Equal(r.ssrcs, []uint32{1, 6}) {
				t.Errorf("NewSSRC reported %v, want [1 6]: a malformed packet's SSRC was reported", r.ssrcs)
			}
			st, _ := v.Stats()
			if st.Malformed != 7 || st.RTP != 3 || st.RTCP != 1 || st.Unknown != 1 || st.KernelDrops != 0 {
				t.Errorf("stats %+v; want Malformed 7, RTP 3, RTCP 1, Unknown 1, KernelDrops 0", st)
			}
		})
	}
}

// TestMalformedSeparatePorts: without rtcp-mux, a malformed RTCP datagram
// on the RTCP port is counted as Malformed; one on the RTP port as
// Misdirected, as before (the port decides first).
func TestMalformedSeparatePorts(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, rtp, rtcp := newVMP(t, mod, vmprx.Config{Local: lo4})
	s := sender(t, lo4)
	bad := []byte{0x80, 201, 0, 5, 0, 0, 0, 1} // length past the end
	r := &reading{t: t, v: v, buf: make([]byte, 2048)}
	for i, dst := range []struct {
		p    []byte
		port bool
	}{{bad, true}, {bad, false}, {rtcpPacket(7), true}, {rtpWith(0x8f, 9)[:20], false}} {
		to := rtp
		if dst.port {
			to = rtcp
		}
		if _, err := s.WriteTo(dst.p, to); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, testutil.Patience, func() bool {
			r.poll()
			st, _ := v.Stats()
			return counted(st) == uint64(i+1)
		}, "datagram %d not counted", i)
	}
	r.poll()
	st, _ := v.Stats()
	if st.Malformed != 2 || st.Misdirected != 1 || st.RTCP != 1 || len(r.pkts) != 1 || len(r.ssrcs) != 0 {
		t.Errorf("stats %+v, %d delivered, NewSSRC %v; want Malformed 2, Misdirected 1, RTCP 1 delivered, no NewSSRC", st, len(r.pkts), r.ssrcs)
	}
}

// TestMalformedBatch: malformed datagrams queued in the socket among
// well-formed ones and read in one batch change nothing for their
// neighbours: the well-formed are delivered in order, the SSRC cache of
// the batch does not let a malformed packet's SSRC through.
func TestMalformedBatch(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{})
			v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: m.callerReads})
			s := sender(t, lo4)
			release := sync.OnceFunc(vmprx.HoldPorts(v))
			defer release() // a failure below must not leave the ports held: Destroy waits for them
			var want [][]byte
			const n = 40 // well within the default receive buffer
			for i := range n {
				p := rtpWith(0x80, 100+uint32(i%3), byte(i))
				if i%2 == 1 {
					p = rtpWith(0x90, 200+uint32(i), byte(i)) // X without its header
				} else {
					want = append(want, p)
				}
				if _, err := s.WriteTo(p, port); err != nil {
					t.Fatal(err)
				}
			}
			release()
			r := &reading{t: t, v: v, buf: make([]byte, 2048)}
			testutil.Eventually(t, testutil.Patience, func() bool {
				r.poll()
				st, _ := v.Stats()
				return counted(st)+st.KernelDrops == n
			}, "not all counted")
			// The kernel has no reason to drop any of them (40 small
			// datagrams in a default buffer); if it did, what was read
			// must still be what was sent minus what it dropped.
			st, _ := v.Stats()
			if st.KernelDrops == 0 && (st.Malformed != n/2 || !slices.EqualFunc(r.pkts, want, bytes.Equal)) {
				t.Errorf("stats %+v, %d delivered; want Malformed %d, the %d others in order", st, len(r.pkts), n/2, len(want))
			}
			if !subsequence(r.pkts, want) || st.Malformed > n/2 || st.RTP != uint64(len(r.pkts)) {
				t.Errorf("stats %+v, delivered % x; want some of % x in order", st, r.pkts, want)
			}
			slices.Sort(r.ssrcs)
			if st.KernelDrops == 0 && !slices.Equal(r.ssrcs, []uint32{100, 101, 102}) || len(r.ssrcs) > 3 || slices.ContainsFunc(r.ssrcs, func(s uint32) bool { return s >= 200 }) {
				t.Errorf("NewSSRC %v, want [100 101 102]", r.ssrcs)
			}
		})
	}
}

// subsequence reports whether got is want with some elements left out.
func subsequence(got, want [][]byte) bool {
	i := 0
	for _, g := range got {
		for i < len(want) && !bytes.Equal(want[i], g) {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}
