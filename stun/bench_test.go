package stun

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/testutil"
)

// The responder path: a Binding request with short-term integrity and
// FINGERPRINT is decoded, checked and answered with XOR-MAPPED-ADDRESS,
// MESSAGE-INTEGRITY and FINGERPRINT.
var (
	benchSrc = netip.MustParseAddrPort("192.0.2.1:40000")
	benchReq = stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("srvu:cliu"),
		stun.NewShortTermIntegrity("server-password-0123456789"), stun.Fingerprint).Raw
)

func newResponder(tb testing.TB, out *[]byte) *Session {
	lite, err := NewICELite(ICELiteConfig{LocalUfrag: "srvu", LocalPassword: "server-password-0123456789",
		OnSendMsg: func(_ *Session, _ any, pkt []byte, _ netip.AddrPort) error {
			*out = append((*out)[:0], pkt...)
			return nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return lite.Session()
}

// BenchmarkRespond: OnRxPkt + the ICE-lite response through the session,
// against the same decode, integrity check, response build and encode done
// directly with pion/stun (one reused Message each way).
func BenchmarkRespond(b *testing.B) {
	benchpair.Run(b, func(b *testing.B) {
		var out []byte
		s := newResponder(b, &out)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.OnRxPkt(benchReq, IsDatagram, nil, benchSrc); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		res := &stun.Message{Raw: out}
		if res.Decode() != nil || res.Type != stun.BindingSuccess {
			b.Fatal("no success response")
		}
	}, func(b *testing.B) {
		req, res := new(stun.Message), new(stun.Message)
		integrity := stun.NewShortTermIntegrity("server-password-0123456789")
		var username stun.Username
		xor := &stun.XORMappedAddress{IP: net.IP(benchSrc.Addr().AsSlice()), Port: int(benchSrc.Port())}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req.Raw = append(req.Raw[:0], benchReq...)
			if err := req.Decode(); err != nil {
				b.Fatal(err)
			}
			if err := stun.Fingerprint.Check(req); err != nil {
				b.Fatal(err)
			}
			if err := username.GetFrom(req); err != nil {
				b.Fatal(err)
			}
			if err := integrity.Check(req); err != nil {
				b.Fatal(err)
			}
			res.Reset()
			if err := res.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess, xor, integrity, stun.Fingerprint); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRespondNoAllocs: the responder path allocates nothing in steady state.
func TestRespondNoAllocs(t *testing.T) {
	var out []byte
	s := newResponder(t, &out)
	testutil.NoAllocs(t, "OnRxPkt + respond", func() {
		if _, err := s.OnRxPkt(benchReq, IsDatagram, nil, benchSrc); err != nil {
			t.Fatal(err)
		}
	})
	res := &stun.Message{Raw: out}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess || !checkIntegrity(res.Raw, []byte("server-password-0123456789")) {
		t.Fatalf("response: %v", err)
	}
}
