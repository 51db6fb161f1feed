package vmprx

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/stun"

	pionstun "github.com/pion/stun/v3"
)

// TestHotPathNoAllocs: classify, enqueue (own queue and DTLS[rx]) and
// GetPacket allocate nothing per packet in steady state.
func TestHotPathNoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, false)
	rtp := make([]byte, 1200)
	rtp[0] = 0x80
	binary.BigEndian.PutUint32(rtp[8:], 7)
	dtls := make([]byte, 1200)
	dtls[0] = 23
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	buf := make([]byte, 2048)
	var b batch
	feed := func(data []byte) {
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, data), src
		if !v.handle(0, p, false, &b) {
			t.Fatal("packet not taken")
		}
		v.endBatch(&b)
	}
	testutil.NoAllocs(t, "Classify", func() { Classify(rtp) })
	testutil.NoAllocs(t, "RTP handle + GetPacket", func() {
		feed(rtp)
		if _, err := v.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
	})
	testutil.NoAllocs(t, "DTLS handle + DTLS[rx].GetPacket", func() {
		feed(dtls)
		if _, _, err := rx.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
	})

	// Through the socket: the receive goroutine reads and queues (pooled
	// reader, pooled packets), GetPackets pops.
	s, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port, _, _ := v.Ports()
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, 4), make([]netip.AddrPort, 4)
	testutil.NoAllocs(t, "DTLS[rx].GetPackets from the socket", func() {
		for range bufs {
			if _, err := s.WriteTo(dtls, port); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for got := 0; got < len(bufs); {
			n, err := rx.GetPackets(bufs[got:], sizes, srcs)
			if err != nil && !errors.Is(err, dtlsrx.ErrNoPacket) {
				t.Fatal(err)
			}
			if got += n; n == 0 && time.Now().After(deadline) {
				t.Fatalf("read %d of %d records", got, len(bufs))
			}
		}
	})
}

// TestSTUNResponderNoAllocs: a connectivity check arriving on the media
// port and answered from it by an ICE-lite responder allocates nothing.
func TestSTUNResponderNoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	lite, err := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "u", LocalPassword: "pass-pass-pass-pass", OnSendMsg: v.SendSTUN})
	if err != nil {
		t.Fatal(err)
	}
	v.AttachSTUN(lite.Session())
	sink, _ := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer sink.Close()
	req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("u:r"),
		pionstun.NewShortTermIntegrity("pass-pass-pass-pass"), pionstun.Fingerprint)
	var b batch
	testutil.NoAllocs(t, "ICE-lite check on the media port", func() {
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, req.Raw), sink.LocalAddr()
		if v.handle(0, p, false, &b) {
			t.Fatal("STUN packet taken")
		}
		v.mod.Packets.Put(p)
	})
	sink.UDPConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := sink.UDPConn().ReadFromUDPAddrPort(buf)
	res := &pionstun.Message{Raw: buf[:n]}
	if err != nil || res.Decode() != nil || res.Type != pionstun.BindingSuccess || res.TransactionID != req.TransactionID {
		t.Fatalf("no success response reached the checker: %v", err)
	}
}

// TestGRONoAllocs: splitting a coalesced message, routing each datagram
// and reading it back allocate nothing in steady state.
func TestGRONoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, GRO: true}); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	pt := v.ports[0].Load()
	pt.mu.Lock()
	r := getReader(v.mod, true, false, pt.conn)
	pt.mu.Unlock()
	defer putReader(r)
	m := &r.rd.Msgs[0]
	for i := 0; i < 4; i++ {
		p := m.Buf[i*1200 : (i+1)*1200]
		p[0] = 0x80
		binary.BigEndian.PutUint32(p[8:], 7)
	}
	buf := make([]byte, 2048)
	testutil.NoAllocs(t, "coalesced route + GetPacket", func() {
		pt.mu.Lock()
		m.N, m.Seg, m.Trunc = 4*1200, 1200, false
		v.route(pt, r, 0, 1)
		v.endBatch(&pt.b)
		pt.mu.Unlock()
		for i := 0; i < 4; i++ {
			if _, err := v.GetPacket(buf); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestCallerReadsNoAllocs: with CallerReads, reading the socket through
// the DTLS[rx] (GetPacket, GetPackets: straight into the caller's
// buffers) and the VMP[rx] (GetPacket) allocates nothing in steady state.
func TestCallerReadsNoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true, CallerReads: true}); err != nil {
		t.Fatal(err)
	}
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, false)
	s, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port, _, _ := v.Ports()
	dtls := make([]byte, 1200)
	dtls[0] = 23
	rtp := make([]byte, 1200)
	rtp[0] = 0x80
	binary.BigEndian.PutUint32(rtp[8:], 7)
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, 4), make([]netip.AddrPort, 4)
	until := func(what string, f func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !f(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: nothing read", what)
			}
		}
	}
	testutil.NoAllocs(t, "DTLS[rx].GetPacket from the socket", func() {
		s.WriteTo(dtls, port)
		until("GetPacket", func() bool { _, _, err := rx.GetPacket(bufs[0]); return err == nil })
	})
	testutil.NoAllocs(t, "DTLS[rx].GetPackets from the socket", func() {
		for range bufs {
			s.WriteTo(dtls, port)
		}
		got := 0
		until("GetPackets", func() bool { n, _ := rx.GetPackets(bufs[got:], sizes, srcs); got += n; return got == len(bufs) })
	})
	testutil.NoAllocs(t, "VMP[rx].GetPacket from the socket", func() {
		s.WriteTo(rtp, port)
		until("VMP[rx] GetPacket", func() bool { _, err := v.GetPacket(bufs[0]); return err == nil })
	})
}
