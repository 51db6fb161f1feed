package vmprx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var lo4 = netip.MustParseAddr("127.0.0.1")

func openModule(t testing.TB, opts mediaport.Options) *mediaport.Module {
	t.Helper()
	mod, err := mediaport.OpenModule(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

func newVMP(t testing.TB, mod *mediaport.Module, cfg vmprx.Config) (*vmprx.VMPRx, netip.AddrPort, netip.AddrPort) {
	t.Helper()
	v, err := vmprx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Config(cfg); err != nil {
		t.Fatal(err)
	}
	rtp, rtcp, err := v.Ports()
	if err != nil {
		t.Fatal(err)
	}
	return v, rtp, rtcp
}

// newPassThrough returns a VMP[rx] on an IPv4 loopback port with rtcp-mux,
// on a module of its own with opts, passing DTLS to a new DTLS[rx]; and
// the port.
func newPassThrough(t *testing.T, opts mediaport.Options) (*vmprx.VMPRx, netip.AddrPort, *dtlsrx.DTLSRx) {
	t.Helper()
	mod := openModule(t, opts)
	v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	rx, err := dtlsrx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigDTLS(rx, false); err != nil {
		t.Fatal(err)
	}
	return v, rtp, rx
}

func sender(t testing.TB, addr netip.Addr) *udp.Conn {
	t.Helper()
	c, err := udp.Listen(netip.AddrPortFrom(addr, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rtpPacket(ssrc uint32, seq uint16, payload string) []byte {
	p := make([]byte, 12+len(payload))
	p[0], p[1] = 0x80, 0 // V=2, PT 0
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	copy(p[12:], payload)
	return p
}

func rtcpPacket(ssrc uint32) []byte {
	p := make([]byte, 8)
	p[0], p[1] = 0x80, 201 // RR
	binary.BigEndian.PutUint16(p[2:], 1)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	return p
}

func dtlsRecord(payload string) []byte {
	p := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(payload))}
	return append(p, payload...)
}

func stunBinding() []byte {
	p := make([]byte, 20)
	binary.BigEndian.PutUint16(p[0:], 0x0001)
	binary.BigEndian.PutUint32(p[4:], 0x2112A442)
	copy(p[8:], "transaction1")
	return p
}

// waitStatus waits on the event until Status returns want, failing after
// twenty seconds; it returns the statuses seen on the way.
func waitStatus(t testing.TB, ev *event.Event, status func() (vmprx.Status, error), want vmprx.Status) []vmprx.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var seen []vmprx.Status
	for {
		st, err := status()
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, st)
		if st == want {
			return seen
		}
		if st == vmprx.Running {
			if err := ev.Wait(ctx); err != nil {
				t.Fatalf("waiting for %v: saw %v: %v", want, seen, err)
			}
		}
	}
}

func TestPortsAllocation(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	for i := 0; i < 5; i++ {
		v, rtp, rtcp := newVMP(t, mod, vmprx.Config{Local: lo4})
		if rtp.Port()%2 != 0 || rtcp.Port() != rtp.Port()+1 || rtp.Addr() != lo4 {
			t.Fatalf("allocated RTP %v RTCP %v: want an even port and RTP+1", rtp, rtcp)
		}
		ev, _ := v.Event()
		if st := waitStatus(t, ev, v.Status, vmprx.GotPorts); len(st) != 1 {
			t.Fatalf("first status after Config: %v", st)
		}
		if st, _ := v.Status(); st != vmprx.Running {
			t.Fatalf("GotPorts reported twice: %v", st)
		}
	}
	v, rtp, rtcp := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	if rtp != rtcp || rtp.Port() == 0 {
		t.Fatalf("rtcp-mux ports %v %v", rtp, rtcp)
	}
	v.Destroy()

	// A given even port, and the errors.
	probe, _ := vmprx.Create(mod)
	if err := probe.Config(vmprx.Config{Local: lo4, RTPPort: 5001}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("odd RTP port: %v", err)
	}
	if err := probe.Config(vmprx.Config{Local: lo4}); err != nil {
		t.Fatal(err)
	}
	if err := probe.Config(vmprx.Config{Local: lo4}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("second Config: %v", err)
	}
	used, _, _ := probe.Ports()
	other, _ := vmprx.Create(mod)
	if err := other.Config(vmprx.Config{Local: lo4, RTPPort: used.Port()}); err == nil {
		t.Fatal("Config on a port in use succeeded")
	}
	probe.Destroy()
	if err := other.Config(vmprx.Config{Local: lo4, RTPPort: used.Port()}); err != nil {
		t.Fatalf("Config on a freed even port: %v", err)
	}
	if r, c, _ := other.Ports(); r != used || c.Port() != used.Port()+1 {
		t.Fatalf("ports %v %v, want %v and +1", r, c, used)
	}
	unconfigured, _ := vmprx.Create(mod)
	if _, _, err := unconfigured.Ports(); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("Ports before Config: %v", err)
	}
}

// TestDemuxOnePort: DTLS, RTP, RTCP and STUN interleaved on one rtcp-mux
// port each land in the right place, in order.
func TestDemuxOnePort(t *testing.T) {
	for _, loop := range []netip.Addr{lo4, netip.IPv6Loopback()} {
		mod := openModule(t, mediaport.Options{})
		v, port, _ := newVMP(t, mod, vmprx.Config{Local: loop, RTCPMux: true})
		rx, err := dtlsrx.Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.ConfigDTLS(rx, false); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var stunGot [][]byte
		v.SetSTUNHandler(func(pkt []byte, src netip.AddrPort, rtcpPort bool) {
			mu.Lock()
			stunGot = append(stunGot, bytes.Clone(pkt))
			mu.Unlock()
			// Reply from the same port.
			v.SendFrom(false, []byte("stun-reply"), src)
		})
		s := sender(t, loop)
		var wantMedia [][]byte
		for i := 0; i < 10; i++ {
			r := rtpPacket(0x1234, uint16(i), "rtp")
			s.WriteTo(r, port)
			wantMedia = append(wantMedia, r)
			s.WriteTo(dtlsRecord("dtls"+string(rune('a'+i))), port)
			if i%3 == 0 {
				c := rtcpPacket(0x1234)
				s.WriteTo(c, port)
				wantMedia = append(wantMedia, c)
			}
		}
		s.WriteTo(stunBinding(), port)

		ev, _ := v.Event()
		buf := make([]byte, 2048)
		for i, want := range wantMedia {
			waitStatus(t, ev, v.Status, vmprx.HasPacket)
			pkt, err := v.GetPacket(buf)
			if err != nil {
				t.Fatal(err)
			}
			wantClass := vmprx.ClassRTP
			if want[1] == 201 {
				wantClass = vmprx.ClassRTCP
			}
			if !bytes.Equal(buf[:pkt.Len], want) || pkt.Class != wantClass || pkt.Src != s.LocalAddr() || pkt.RTCPPort {
				t.Fatalf("%v media %d: %x %v from %v, want %x %v from %v", loop, i, buf[:pkt.Len], pkt.Class, pkt.Src, want, wantClass, s.LocalAddr())
			}
		}
		rev, _ := rx.Event()
		for i := 0; i < 10; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			for {
				n, src, err := rx.GetPacket(buf)
				if err == nil {
					if want := dtlsRecord("dtls" + string(rune('a'+i))); !bytes.Equal(buf[:n], want) || src != s.LocalAddr() {
						t.Fatalf("DTLS %d = %q, want %q", i, buf[:n], want)
					}
					break
				}
				if !errors.Is(err, dtlsrx.ErrNoPacket) {
					t.Fatal(err)
				}
				if err := rev.Wait(ctx); err != nil {
					t.Fatalf("DTLS %d never arrived", i)
				}
			}
			cancel()
		}
		s.UDPConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		n, src, err := s.UDPConn().ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "stun-reply" || src != port {
			t.Fatalf("STUN reply %q from %v (%v), want from the media port %v", buf[:n], src, err, port)
		}
		mu.Lock()
		if len(stunGot) != 1 || !bytes.Equal(stunGot[0], stunBinding()) {
			t.Fatalf("STUN handler got %x", stunGot)
		}
		mu.Unlock()
		st, _ := v.Stats()
		if st.RTP != 10 || st.RTCP != 4 || st.DTLS != 10 || st.STUN != 1 || st.DTLSUnrouted != 0 {
			t.Fatalf("%v stats %+v", loop, st)
		}
		mod.Close()
	}
}

// TestSeparatePorts: without rtcp-mux RTP goes to the RTP port and RTCP to
// RTP+1; each on the other's port is misdirected. DTLS follows
// ConfigDTLS's port choice, and a nil DTLS[rx] detaches.
func TestSeparatePorts(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, rtpPort, rtcpPort := newVMP(t, mod, vmprx.Config{Local: lo4})
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, true) // DTLS on the RTCP port
	s := sender(t, lo4)
	s.WriteTo(rtpPacket(1, 1, "a"), rtpPort)
	s.WriteTo(rtcpPacket(1), rtcpPort)
	s.WriteTo(rtcpPacket(1), rtpPort)         // misdirected
	s.WriteTo(rtpPacket(1, 2, "b"), rtcpPort) // misdirected
	s.WriteTo(dtlsRecord("on-rtp"), rtpPort)  // not routed: DTLS[rx] is on the RTCP port
	s.WriteTo(dtlsRecord("on-rtcp"), rtcpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.Misdirected == 2 && st.DTLS == 2 && st.RTP == 1 && st.RTCP == 1 })
	st, _ := v.Stats()
	if st.DTLSUnrouted != 1 {
		t.Fatalf("stats %+v", st)
	}
	buf := make([]byte, 100)
	p1, _ := v.GetPacket(buf)
	p2, _ := v.GetPacket(buf)
	if p1.Class == vmprx.ClassRTCP { // the two ports are read by two goroutines: either order
		p1, p2 = p2, p1
	}
	if p1.Class != vmprx.ClassRTP || p1.RTCPPort || p2.Class != vmprx.ClassRTCP || !p2.RTCPPort {
		t.Fatalf("packets %+v %+v", p1, p2)
	}
	n, _, err := rx.GetPacket(buf)
	if err != nil || !bytes.Equal(buf[:n], dtlsRecord("on-rtcp")) {
		t.Fatalf("DTLS[rx] got %q %v", buf[:n], err)
	}
	v.ConfigDTLS(nil, true)
	s.WriteTo(dtlsRecord("detached"), rtcpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLSUnrouted == 2 })
	if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("detached DTLS[rx] received: %v", err)
	}

	// useRTCPPort false: the RTP port's DTLS goes to rx; with another
	// DTLS[rx] on the RTCP port at the same time, each gets its own port's.
	v.ConfigDTLS(rx, false)
	s.WriteTo(dtlsRecord("rtp-port"), rtpPort)
	s.WriteTo(dtlsRecord("unrouted"), rtcpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 5 && st.DTLSUnrouted == 3 })
	if n, _, err := rx.GetPacket(buf); err != nil || !bytes.Equal(buf[:n], dtlsRecord("rtp-port")) {
		t.Fatalf("DTLS[rx] on the RTP port got %q %v", buf[:n], err)
	}
	rtcpRx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rtcpRx, true)
	s.WriteTo(dtlsRecord("to-rtcp-rx"), rtcpPort)
	s.WriteTo(dtlsRecord("to-rtp-rx"), rtpPort)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 7 })
	for _, c := range []struct {
		rx   *dtlsrx.DTLSRx
		want string
	}{{rx, "to-rtp-rx"}, {rtcpRx, "to-rtcp-rx"}} {
		if n, _, err := c.rx.GetPacket(buf); err != nil || !bytes.Equal(buf[:n], dtlsRecord(c.want)) {
			t.Fatalf("got %q %v, want %q", buf[:n], err, c.want)
		}
		if _, _, err := c.rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("a second record after %q: %v", c.want, err)
		}
	}
}

func waitStats(t testing.TB, v *vmprx.VMPRx, ok func(vmprx.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := v.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected values: %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestBadInput: garbage, empty, short and oversized datagrams are dropped
// and counted, and the port keeps working.
func TestBadInput(t *testing.T) {
	mod := openModule(t, mediaport.Options{MaxPacket: 1500})
	v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	s := sender(t, lo4)
	for _, p := range [][]byte{
		{},                                       // empty
		{0x80},                                   // RTP too short
		{0x80, 0, 1, 2, 3, 4, 5},                 // RTP too short
		{22, 0xfe},                               // DTLS too short
		{0, 1, 0},                                // STUN too short
		{200, 1, 2, 3},                           // unknown range
		{100, 1},                                 // unknown range
		{17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // ZRTP
		{0x40, 0, 0, 4, 1, 2, 3, 4},              // TURN ChannelData
		make([]byte, 1600),                       // longer than MaxPacket (first byte 0: would be STUN)
	} {
		s.WriteTo(p, port)
	}
	s.WriteTo(rtpPacket(9, 1, "ok"), port)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP == 1 })
	st, _ := v.Stats()
	if st.Short != 5 || st.Unknown != 2 || st.ZRTP != 1 || st.TURN != 1 || st.Truncated != 1 || st.STUN != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOverrunFlood: a flood into a small queue keeps the first packets in
// order, reports Overrun once per episode, and counts what was lost.
func TestOverrunFlood(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: 8})
	ev, _ := v.Event()
	waitStatus(t, ev, v.Status, vmprx.GotPorts)
	s := sender(t, lo4)
	const flood = 100
	for i := 0; i < flood; i++ {
		s.WriteTo(rtpPacket(7, uint16(i), "flood"), port)
	}
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP+st.Overrun == flood })
	seen := waitStatus(t, ev, v.Status, vmprx.Overrun)
	for _, st := range seen {
		if st != vmprx.Running && st != vmprx.NewSSRC && st != vmprx.Overrun {
			t.Fatalf("statuses before Overrun: %v", seen)
		}
	}
	st, _ := v.Stats()
	if st.RTP != 8 || st.Overrun != flood-8 {
		t.Fatalf("stats %+v: want 8 queued and %d lost", st, flood-8)
	}
	buf := make([]byte, 100)
	for i := 0; i < 8; i++ {
		if s, _ := v.Status(); s == vmprx.Overrun {
			t.Fatal("Overrun reported twice for one episode")
		}
		pkt, err := v.GetPacket(buf)
		if err != nil || binary.BigEndian.Uint16(buf[2:]) != uint16(i) {
			t.Fatalf("packet %d: seq %d %v", i, binary.BigEndian.Uint16(buf[2:pkt.Len]), err)
		}
	}
	if s, _ := v.Status(); s != vmprx.Running {
		t.Fatalf("status after draining: %v", s)
	}
	// A second episode.
	for i := 0; i < 20; i++ {
		s.WriteTo(rtpPacket(7, uint16(i), "again"), port)
	}
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP+st.Overrun == flood+20 })
	waitStatus(t, ev, v.Status, vmprx.Overrun)
}

func TestNewSSRCAndStatusOrder(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	ev, _ := v.Event()
	s := sender(t, lo4)
	s.WriteTo(rtpPacket(0xaaaa, 1, "x"), port)
	s.WriteTo(rtpPacket(0xaaaa, 2, "x"), port)
	s.WriteTo(rtpPacket(0xbbbb, 1, "x"), port)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP == 3 })
	var got []vmprx.Status
	var ssrcs []uint32
	for {
		st, _ := v.Status()
		got = append(got, st)
		if st == vmprx.NewSSRC {
			x, _ := v.NewSSRC()
			ssrcs = append(ssrcs, x)
		}
		if st == vmprx.HasPacket {
			break
		}
		if len(got) > 10 {
			t.Fatalf("statuses %v", got)
		}
	}
	want := []vmprx.Status{vmprx.GotPorts, vmprx.NewSSRC, vmprx.NewSSRC, vmprx.HasPacket}
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if len(ssrcs) != 2 || ssrcs[0] != 0xaaaa || ssrcs[1] != 0xbbbb {
		t.Fatalf("new SSRCs %x", ssrcs)
	}
	// Level-triggered: packets remain, so the event is signalled again.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ev.Wait(ctx); err != nil {
		t.Fatal("event not signalled while packets remain")
	}
	small := make([]byte, 5)
	pkt, err := v.GetPacket(small)
	if !errors.Is(err, mediaport.ErrBufferTooSmall) || pkt.Len != 13 {
		t.Fatalf("GetPacket into 5 bytes = %+v %v", pkt, err)
	}
	buf := make([]byte, 100)
	for i := 0; i < 3; i++ {
		if _, err := v.GetPacket(buf); err != nil {
			t.Fatalf("packet %d lost after a short buffer: %v", i, err)
		}
	}
	if _, err := v.GetPacket(buf); !errors.Is(err, vmprx.ErrNoPacket) {
		t.Fatalf("empty GetPacket: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	s := sender(t, lo4)
	s.WriteTo(rtpPacket(1, 1, "kept"), port)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP == 1 })
	ev, _ := v.Event()
	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, _ := v.Status(); st != vmprx.Stopped || !ev.Permanent() {
		t.Fatalf("after Stop: %v", st)
	}
	buf := make([]byte, 100)
	if pkt, err := v.GetPacket(buf); err != nil || pkt.Len != 16 {
		t.Fatalf("packet queued before Stop: %+v %v", pkt, err)
	}
	if _, err := v.GetPacket(buf); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("GetPacket after Stop with nothing left: %v", err)
	}
	if err := v.SendFrom(false, []byte("x"), s.LocalAddr()); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("SendFrom after Stop: %v", err)
	}
	// The port is free again.
	again, err := vmprx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Config(vmprx.Config{Local: lo4, RTPPort: port.Port(), RTCPMux: true}); err != nil {
		t.Fatalf("port not released by Stop: %v", err)
	}
	if err := v.Destroy(); err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = v.Status()
	errs = append(errs, err)
	_, err = v.GetPacket(buf)
	errs = append(errs, err)
	_, err = v.Event()
	errs = append(errs, err)
	_, err = v.Stats()
	errs = append(errs, err)
	_, _, err = v.Ports()
	errs = append(errs, err)
	errs = append(errs, v.Config(vmprx.Config{}), v.ConfigDTLS(nil, false), v.SetSTUNHandler(nil), v.Stop(), v.Destroy())
	for i, err := range errs {
		if !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("call %d after Destroy: %v", i, err)
		}
	}
	var nilV *vmprx.VMPRx
	if _, err := nilV.Status(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil Status: %v", err)
	}
	if err := (&vmprx.VMPRx{}).Config(vmprx.Config{}); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("zero Config: %v", err)
	}
	if _, err := vmprx.Create(nil); !errors.Is(err, mediaport.ErrNilModule) {
		t.Errorf("Create(nil): %v", err)
	}
}

func TestConfigDTLSErrors(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4})
	rx, _ := dtlsrx.Create(mod)
	rx.Destroy()
	if err := v.ConfigDTLS(rx, false); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("ConfigDTLS with a destroyed DTLS[rx]: %v", err)
	}
	if err := v.ConfigDTLS(&dtlsrx.DTLSRx{}, false); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("ConfigDTLS with a zero DTLS[rx]: %v", err)
	}
}

// TestLevelTriggered (docs/conformance.md, Prosody 2): the event stays signalled
// while the cause remains — Status and GetPacket signal it again at once
// while packets are still queued — so an application that handles one
// thing per wake-up misses nothing. Checked on the VMP[rx] and on its
// DTLS[rx], after every signal of the arrivals has been consumed.
func TestLevelTriggered(t *testing.T) {
	v, rtp, rx := newPassThrough(t, mediaport.Options{})
	s := sender(t, lo4)
	for i := uint16(1); i <= 3; i++ {
		s.WriteTo(rtpPacket(7, i, "media"), rtp)
		s.WriteTo(dtlsRecord("record"), rtp)
	}
	waitStats(t, v, func(st vmprx.Stats) bool { return st.RTP == 3 && st.DTLS == 3 })
	vmprx.HoldPorts(v)() // whoever routed them has signalled by now
	evV, _ := v.Event()
	evR, _ := rx.Event()
	cV, cR := evV.C(), evR.C()
	drain := func(c <-chan struct{}) {
		for {
			select {
			case <-c:
			default:
				return
			}
		}
	}
	signalled := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	buf := make([]byte, 2048)

	// VMP[rx]: GotPorts and NewSSRC are reported first; HasPacket stays.
	for i := 0; i < 4; i++ {
		drain(cV)
		st, err := v.Status()
		if err != nil {
			t.Fatal(err)
		}
		if !signalled(cV) {
			t.Fatalf("VMP[rx] Status %d returned %v with 3 packets queued and did not signal again", i, st)
		}
	}
	for i := 1; i <= 3; i++ {
		drain(cV)
		if _, err := v.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
		if i < 3 && !signalled(cV) {
			t.Fatalf("VMP[rx] GetPacket %d left %d packets queued and did not signal again", i, 3-i)
		}
	}

	// DTLS[rx].
	drain(cR)
	if st, err := rx.Status(); err != nil || st != dtlsrx.HasPacket || !signalled(cR) {
		t.Fatalf("DTLS[rx] Status = %v, %v; signalled again: false", st, err)
	}
	for i := 1; i <= 3; i++ {
		drain(cR)
		if _, _, err := rx.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
		if i < 3 && !signalled(cR) {
			t.Fatalf("DTLS[rx] GetPacket %d left %d records queued and did not signal again", i, 3-i)
		}
	}
}
