package vmprx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/udp"
)

// FuzzClassify checks Classify against the RFC 7983 / RFC 9443 ranges and
// the minimum header lengths on arbitrary datagrams.
func FuzzClassify(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0}, make([]byte, 20), {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, {0x80, 200, 0, 1, 0, 0, 0, 1},
		{17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x40, 0, 0, 0}, {255}, {100, 1},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		c := Classify(p)
		if len(p) == 0 {
			if c != ClassShort {
				t.Fatalf("empty: %v", c)
			}
			return
		}
		b := p[0]
		want, min := ClassUnknown, 0
		switch {
		case b < 4:
			want, min = ClassSTUN, 20
		case b >= 16 && b < 20:
			want, min = ClassZRTP, 12
		case b >= 20 && b < 64:
			want, min = ClassDTLS, 13
		case b >= 64 && b < 80:
			want, min = ClassTURN, 4
		case b >= 128 && b < 192:
			want, min = ClassRTP, 12
			if len(p) > 1 && p[1] >= 192 && p[1] < 224 {
				want, min = ClassRTCP, 8
			}
		}
		if want != ClassUnknown && len(p) < min {
			want = ClassShort
		}
		if c != want {
			t.Fatalf("Classify(% x) = %v, want %v", p, c, want)
		}
	})
}

// FuzzReceive feeds arbitrary datagrams through a VMP[rx]'s receive path
// (handle, endBatch) on both ports, with a DTLS[rx] and a STUN handler
// attached, and checks that every datagram is counted exactly once, that
// the queues respect their bounds and that only RTP/RTCP reach GetPacket.
// The input is a sequence of datagrams, each a length byte (the top bit
// selects the RTCP port) followed by that many bytes.
func FuzzReceive(f *testing.F) {
	rtp := make([]byte, 12)
	rtp[0] = 0x80
	binary.BigEndian.PutUint32(rtp[8:], 42)
	rtcp := []byte{0x80, 201, 0, 1, 0, 0, 0, 42}
	dtls := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	stun := make([]byte, 20)
	frame := func(port byte, ps ...[]byte) []byte {
		var out []byte
		for _, p := range ps {
			out = append(out, byte(len(p))|port)
			out = append(out, p...)
		}
		return out
	}
	f.Add(frame(0, rtp, dtls, stun, rtcp))
	f.Add(frame(0x80, rtcp, rtp, dtls))
	f.Add(frame(0, []byte{}, []byte{0x80}, []byte{200, 1}, []byte{17, 1, 2}))
	f.Add([]byte{0x05, 0x80, 0x00})

	mod, err := mediaport.OpenModule(mediaport.Options{QueueLen: 8})
	if err != nil {
		f.Fatal(err)
	}
	defer mod.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Destroy()
		if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1")}); err != nil {
			t.Fatal(err)
		}
		rx, _ := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: 4})
		defer rx.Destroy()
		v.ConfigDTLS(rx, false)
		stunSeen := 0
		v.SetSTUNHandler(func(pkt []byte, _ netip.AddrPort, _ bool) {
			if len(pkt) < 20 || pkt[0] > 3 {
				t.Fatalf("STUN handler got % x", pkt)
			}
			stunSeen++
		})
		src := netip.MustParseAddrPort("192.0.2.1:4000")
		var b batch
		total := 0
		for len(in) > 0 {
			n, port := int(in[0]&0x7f), int(in[0]>>7)
			in = in[1:]
			n = min(n, len(in))
			p := v.mod.Packets.Get()
			p.N, p.Src = copy(p.Buf, in[:n]), src
			in = in[n:]
			if !v.handle(port, p, false, &b) {
				v.mod.Packets.Put(p)
			}
			total++
		}
		v.endBatch(&b)
		st, _ := v.Stats()
		counted := st.RTP + st.RTCP + st.Overrun + st.DTLS + st.STUN + st.ZRTP + st.TURN + st.Unknown + st.Short + st.Misdirected + st.Truncated + st.Malformed
		if counted != uint64(total) {
			t.Fatalf("%d datagrams, %d counted: %+v", total, counted, st)
		}
		if int(st.STUN) != stunSeen {
			t.Fatalf("STUN counted %d, handled %d", st.STUN, stunSeen)
		}
		if v.q.Len() > 8 {
			t.Fatalf("queue holds %d, bound 8", v.q.Len())
		}
		buf := make([]byte, 256)
		for {
			pkt, err := v.GetPacket(buf)
			if err != nil {
				break
			}
			if buf[0] < 128 || buf[0] > 191 || (pkt.Class != ClassRTP && pkt.Class != ClassRTCP) {
				t.Fatalf("GetPacket returned % x as %v", buf[:pkt.Len], pkt.Class)
			}
			if !valid(pkt.Class, buf[:pkt.Len]) {
				t.Fatalf("GetPacket returned malformed % x as %v", buf[:pkt.Len], pkt.Class)
			}
		}
		rs, _ := rx.Stats()
		if rs.Packets > 4 || rs.Packets+rs.Overrun+st.DTLSUnrouted != st.DTLS {
			t.Fatalf("DTLS: %+v, VMP[rx] %+v", rs, st)
		}
	})
}

// FuzzCoalesced: whatever message and segment size the kernel reports on
// a GRO port, it is split into exactly the datagrams it holds (one for an
// empty or uncoalesced message), each routed and counted once, never a
// panic.
func FuzzCoalesced(f *testing.F) {
	rtp := make([]byte, 100)
	rtp[0] = 0x80
	f.Add(bytes.Repeat(rtp, 5), uint16(100))
	f.Add(append(bytes.Repeat(rtp, 3), rtp[:40]...), uint16(100))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{22, 0xfe, 0xfd}, uint16(1))
	f.Add(make([]byte, 5000), uint16(2500)) // each longer than MaxPacket
	mod, err := mediaport.OpenModule(mediaport.Options{QueueLen: 8, MaxPacket: 2048})
	if err != nil {
		f.Fatal(err)
	}
	defer mod.Close()
	f.Fuzz(func(t *testing.T, msg []byte, seg uint16) {
		v, err := Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Destroy()
		if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, GRO: true}); err != nil {
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			}
			t.Fatal(err)
		}
		v.SetSTUNHandler(func([]byte, netip.AddrPort, bool) {})
		pt := v.ports[0].Load()
		pt.mu.Lock()
		r := getReader(v.mod, true, false, pt.conn)
		m := &r.rd.Msgs[0]
		m.N, m.Seg, m.Trunc = copy(m.Buf, msg), int(seg), false
		m.Src = netip.MustParseAddrPort("192.0.2.1:4000")
		v.route(pt, r, 0, 1)
		v.endBatch(&pt.b)
		putReader(r)
		pt.mu.Unlock()
		want := 1
		if s := int(seg); s > 0 && s < m.N {
			want = (m.N + s - 1) / s
		}
		st, _ := v.Stats()
		counted := st.RTP + st.RTCP + st.Overrun + st.DTLS + st.STUN + st.ZRTP + st.TURN + st.Unknown + st.Short + st.Misdirected + st.Truncated + st.Malformed
		if counted != uint64(want) {
			t.Fatalf("%d bytes, segment %d: %d datagrams counted, want %d: %+v", m.N, seg, counted, want, st)
		}
	})
}

// FuzzGetPackets: datagrams left in the socket (the port was held while
// they arrived) and read by DTLS[rx].GetPackets — straight into its first
// three buffers while they are its records (the fourth is too short for any
// datagram) — and VMP[rx].GetPacket come out whole, each
// exactly once and in the order sent: the DTLS records through the
// DTLS[rx], RTP and RTCP through the VMP[rx]. The input is a sequence of
// datagrams, each a length byte (low 7 bits) followed by that many bytes.
func FuzzGetPackets(f *testing.F) {
	rtp := make([]byte, 12)
	rtp[0] = 0x80
	rtcp := []byte{0x80, 201, 0, 1, 0, 0, 0, 42}
	dtls := []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}
	frame := func(ps ...[]byte) []byte {
		var out []byte
		for _, p := range ps {
			out = append(out, byte(len(p)))
			out = append(out, p...)
		}
		return out
	}
	f.Add(frame(dtls, dtls, rtp, dtls, rtcp, dtls))
	f.Add(frame(rtp, dtls, []byte{}, dtls, []byte{0x16}, dtls))
	f.Add(frame(dtls, append(dtls[:13:13], make([]byte, 100)...), dtls))

	mod, err := mediaport.OpenModule(mediaport.Options{Batch: 4, QueueLen: 256})
	if err != nil {
		f.Fatal(err)
	}
	defer mod.Close()
	type side struct {
		v    *VMPRx
		rx   *dtlsrx.DTLSRx
		port netip.AddrPort
	}
	var sides []side // port reads, caller reads
	for _, callerReads := range []bool{false, true} {
		v, _ := Create(mod)
		if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, CallerReads: callerReads}); err != nil {
			f.Fatal(err)
		}
		rx, _ := dtlsrx.Create(mod)
		v.ConfigDTLS(rx, false)
		port, _, _ := v.Ports()
		sides = append(sides, side{v, rx, port})
	}
	s, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048), make([]byte, 2048), make([]byte, 64), make([]byte, 2048)}
	sizes, srcs := make([]int, len(bufs)), make([]netip.AddrPort, len(bufs))
	buf := make([]byte, 2048)
	f.Fuzz(func(t *testing.T, in []byte) {
		var sent, wantDTLS, wantMedia [][]byte
		for len(in) > 0 && len(sent) < 48 { // well within the socket buffer
			n := min(int(in[0]&0x7f), len(in)-1)
			d := in[1 : 1+n]
			in = in[1+n:]
			sent = append(sent, d)
			switch c := Classify(d); c {
			case ClassDTLS:
				wantDTLS = append(wantDTLS, d)
			case ClassRTP, ClassRTCP:
				if valid(c, d) { // a header that does not fit is Malformed, dropped
					wantMedia = append(wantMedia, d)
				}
			}
		}
		for mode, sd := range sides {
			v, rx := sd.v, sd.rx
			counted := func() uint64 {
				st, _ := v.Stats()
				return st.RTP + st.RTCP + st.Overrun + st.DTLS + st.STUN + st.ZRTP + st.TURN + st.Unknown + st.Short + st.Misdirected + st.Truncated + st.Malformed
			}
			before := counted()
			release := HoldPorts(v) // the datagrams wait in the socket
			for _, d := range sent {
				if _, err := s.WriteTo(d, sd.port); err != nil {
					release()
					t.Fatal(err)
				}
			}
			release()
			var gotDTLS, gotMedia [][]byte
			read := func() (more bool) {
				n, err := rx.GetPackets(bufs, sizes, srcs)
				if err != nil && !errors.Is(err, dtlsrx.ErrNoPacket) {
					t.Fatal(err)
				}
				for i := range n {
					if srcs[i] != s.LocalAddr() {
						t.Fatalf("record from %v, want %v", srcs[i], s.LocalAddr())
					}
					gotDTLS = append(gotDTLS, bytes.Clone(bufs[i][:sizes[i]]))
				}
				pkt, err := v.GetPacket(buf)
				if err == nil {
					gotMedia = append(gotMedia, bytes.Clone(buf[:pkt.Len]))
				}
				return n > 0 || err == nil
			}
			for deadline := time.Now().Add(30 * time.Second); counted()-before < uint64(len(sent)); read() {
				if time.Now().After(deadline) {
					t.Fatalf("mode %d: %d datagrams sent, %d counted", mode, len(sent), counted()-before)
				}
			}
			// Every datagram is counted; once the port is free, whoever
			// read the last ones has routed them too.
			HoldPorts(v)()
			for read() {
			}
			if !equalAll(gotDTLS, wantDTLS) || !equalAll(gotMedia, wantMedia) {
				t.Fatalf("mode %d: DTLS[rx] read %x, want %x; VMP[rx] read %x, want %x", mode, gotDTLS, wantDTLS, gotMedia, wantMedia)
			}
		}
	})
}

func equalAll(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
