package vmprx

import (
	"net/netip"
	"testing"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
)

// TestICEGateNoAllocs: with an ICE-lite agent attached, a check, a DTLS
// record from the checked address (handed on and read back) and one from
// an unchecked address (dropped) allocate nothing.
func TestICEGateNoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, false)
	lite, err := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "u", LocalPassword: "pass-pass-pass-pass",
		OnSendMsg: func(*stun.Session, any, []byte, netip.AddrPort) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	v.AttachSTUN(lite.Session())
	checked, other := netip.MustParseAddrPort("192.0.2.1:4000"), netip.MustParseAddrPort("192.0.2.2:4000")
	req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("u:r"),
		pionstun.NewShortTermIntegrity("pass-pass-pass-pass"), pionstun.Fingerprint)
	dtls := make([]byte, 1200)
	dtls[0] = 23
	buf := make([]byte, 2048)
	var b batch
	feed := func(data []byte, src netip.AddrPort) bool {
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, data), src
		took := v.handle(0, p, false, &b)
		if !took {
			v.mod.Packets.Put(p)
		}
		v.endBatch(&b)
		return took
	}
	testutil.NoAllocs(t, "ICE-lite check", func() { feed(req.Raw, checked) })
	if !lite.HasConsent(checked) {
		t.Fatal("no consent after the check")
	}
	testutil.NoAllocs(t, "DTLS from the checked address", func() {
		if !feed(dtls, checked) {
			t.Fatal("DTLS from the checked address dropped")
		}
		if _, _, err := rx.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
	})
	testutil.NoAllocs(t, "DTLS from an unchecked address", func() {
		if feed(dtls, other) {
			t.Fatal("DTLS from an unchecked address taken")
		}
	})
}

// BenchmarkDTLSGate: a DTLS record routed to a DTLS[rx] and read back,
// through a port gated by an ICE-lite agent (the record's source checked),
// against the same through a port without an agent.
func BenchmarkDTLSGate(b *testing.B) {
	side := func(gated bool) func(*testing.B) {
		return func(b *testing.B) {
			mod, _ := mediaport.OpenModule(mediaport.Options{})
			defer mod.Close()
			v, _ := Create(mod)
			if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
				b.Fatal(err)
			}
			rx, _ := dtlsrx.Create(mod)
			v.ConfigDTLS(rx, false)
			src := netip.MustParseAddrPort("192.0.2.1:4000")
			var b2 batch
			if gated {
				lite, _ := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "u", LocalPassword: "pass-pass-pass-pass",
					OnSendMsg: func(*stun.Session, any, []byte, netip.AddrPort) error { return nil }})
				defer lite.Close()
				v.AttachSTUN(lite.Session())
				// A few other checked addresses, as a browser checks from several.
				for i := range 4 {
					req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("u:r"),
						pionstun.NewShortTermIntegrity("pass-pass-pass-pass"), pionstun.Fingerprint)
					lite.Session().OnRxPkt(req.Raw, stun.IsDatagram, nil, netip.AddrPortFrom(src.Addr(), uint16(5000+i)))
				}
				req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("u:r"),
					pionstun.NewShortTermIntegrity("pass-pass-pass-pass"), pionstun.Fingerprint)
				lite.Session().OnRxPkt(req.Raw, stun.IsDatagram, nil, src)
			}
			dtls := make([]byte, 1200)
			dtls[0] = 23
			buf := make([]byte, 2048)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p := v.mod.Packets.Get()
				p.N, p.Src = copy(p.Buf, dtls), src
				if !v.handle(0, p, false, &b2) {
					b.Fatal("dropped")
				}
				v.endBatch(&b2)
				if _, _, err := rx.GetPacket(buf); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	benchpair.Run(b, side(true), side(false))
}
