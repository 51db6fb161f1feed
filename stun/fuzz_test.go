package stun

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/clock"
)

// FuzzOnRxPkt feeds arbitrary packets to a server session (short-term
// credentials) and, with the transaction ID of its pending request patched
// in, to a client session: nothing panics, and no transaction or cache
// entry is left behind once the client's request has run its course.
func FuzzOnRxPkt(f *testing.F) {
	f.Add(benchReq)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingSuccess).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
		stun.ErrorCodeAttribute{Code: 401}, stun.NewNonce("n"), stun.NewRealm("r")).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication)).Raw)
	f.Add(rfc5769LongTerm)
	f.Add([]byte{0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x80, 0x28, 0, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		clk := clock.NewFake(time.Unix(0, 0))
		noop := func(*Session, any, []byte, netip.AddrPort) error { return nil }
		srv, _ := Create(Config{Clock: clk}, "srv", Callbacks{OnSendMsg: noop,
			OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
				return s.Respond(rdata, 0, "", token, true, src)
			}}, true)
		srv.SetCredential(AuthShortTerm, &Credential{Username: "srvu:cliu", Password: []byte("server-password-0123456789")})
		for _, opts := range []DecodeOptions{IsDatagram, 0, IsDatagram | NoAuthenticate | NoFingerprintCheck} {
			srv.OnRxPkt(pkt, opts, nil, benchSrc)
		}
		if tsx, _ := srv.Pending(); tsx != 0 {
			t.Fatalf("server has %d transactions", tsx)
		}
		clk.Advance(11 * time.Second)
		if _, cached := srv.Pending(); cached != 0 {
			t.Fatalf("%d cache entries outlived the cache time", cached)
		}

		completed := 0
		cli, _ := Create(Config{Clock: clk}, "cli", Callbacks{OnSendMsg: noop,
			OnRequestComplete: func(*Session, error, any, *TxData, *stun.Message, netip.AddrPort) { completed++ }}, true)
		cli.SetCredential(AuthLongTerm, &Credential{Username: "u", Password: []byte("p")})
		td, _ := cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
		cli.SendMsg(nil, false, true, benchSrc, td)
		p := append([]byte(nil), pkt...)
		if len(p) >= 20 {
			copy(p[8:20], td.Msg.TransactionID[:])
		}
		cli.OnRxPkt(p, IsDatagram, nil, benchSrc)
		cli.OnRxPkt(p, 0, nil, benchSrc)
		clk.Advance(20 * time.Second)
		if tsx, cached := cli.Pending(); tsx != 0 || cached != 0 || completed != 1 {
			t.Fatalf("client: %d transactions, %d cached, %d completions", tsx, cached, completed)
		}
		srv.Destroy()
		cli.Destroy()
	})
}
