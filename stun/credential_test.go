package stun

// Behaviour that worked without a test asserting it (issue 17, point 9).

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"
)

// TestSetCredentialNilDisablesAuthentication: after SetCredential(…, nil)
// a server answers requests without MESSAGE-INTEGRITY with success, and a
// client sends neither USERNAME nor MESSAGE-INTEGRITY; AuthNone with a
// credential does the same.
func TestSetCredentialNilDisablesAuthentication(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  AuthType
		cred *Credential
	}{
		{"nil", AuthShortTerm, nil},
		{"AuthNone", AuthNone, &Credential{Username: "u", Password: []byte("p")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			cred := &Credential{Username: "u", Password: []byte("p")}
			h.srv.SetCredential(AuthShortTerm, cred)
			h.cli.SetCredential(AuthShortTerm, cred)
			// With credentials: the request is signed.
			h.request(t, true, nil)
			signed := decode(t, h.cw.take()[0].pkt)
			if !signed.Contains(stun.AttrUsername) || !signed.Contains(stun.AttrMessageIntegrity) {
				t.Fatalf("request with a credential: %v", attrTypes(signed))
			}
			// A bare request to the authenticating server: 400.
			bare := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
			h.srv.OnRxPkt(bare.Raw, IsDatagram, nil, cliAddr)
			if p := h.sw.take(); len(p) != 1 || errorCode(t, decode(t, p[0].pkt)) != 400 {
				t.Fatalf("unauthenticated request with a credential set: %v", p)
			}

			if err := h.srv.SetCredential(tc.typ, tc.cred); err != nil {
				t.Fatal(err)
			}
			if err := h.cli.SetCredential(tc.typ, tc.cred); err != nil {
				t.Fatal(err)
			}
			h.srv.OnRxPkt(bare.Raw, IsDatagram, nil, cliAddr)
			if p := h.sw.take(); len(p) != 1 || decode(t, p[0].pkt).Type != stun.BindingSuccess {
				t.Fatalf("unauthenticated request after disabling: %v", p)
			}
			h.request(t, true, "tok")
			req := decode(t, h.cw.take()[0].pkt)
			if req.Contains(stun.AttrUsername) || req.Contains(stun.AttrMessageIntegrity) {
				t.Fatalf("request after disabling: %v", attrTypes(req))
			}
			// And its unsigned response completes it (no key to check).
			h.srv.OnRxPkt(req.Raw, IsDatagram, nil, cliAddr)
			for _, p := range h.sw.take() {
				h.cli.OnRxPkt(p.pkt, IsDatagram, nil, srvAddr)
			}
			// (The first request was never delivered: it is still pending.)
			if len(h.done) != 1 || h.done[0].status != nil || h.done[0].token != "tok" {
				t.Fatalf("completions: %+v", h.done)
			}
		})
	}
}

// TestHashedCredential: with Hashed, Password is the long-term key
// MD5(username:realm:password) itself. A client and a server holding only
// the key interoperate with peers holding the password; the key given as
// a password (Hashed unset) is refused with 401.
func TestHashedCredential(t *testing.T) {
	key := LongTermKey("alice", "example.org", "secret")
	plain := func(server bool) *Credential {
		c := &Credential{Username: "alice", Password: []byte("secret")}
		if server {
			c.Realm, c.Nonce = "example.org", "n1"
		}
		return c
	}
	hashed := func(server bool) *Credential {
		c := plain(server)
		c.Password, c.Hashed = key, true
		return c
	}
	unflagged := func(server bool) *Credential {
		c := hashed(server)
		c.Hashed = false
		return c
	}
	for _, tc := range []struct {
		name     string
		cli, srv func(bool) *Credential
		wantCode int // 0: success
	}{
		{"hashed client, plain server", hashed, plain, 0},
		{"plain client, hashed server", plain, hashed, 0},
		{"hashed both", hashed, hashed, 0},
		{"key without Hashed at the client", unflagged, plain, 401},
		{"key without Hashed at the server", plain, unflagged, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.cli.SetCredential(AuthLongTerm, tc.cli(false))
			h.srv.SetCredential(AuthLongTerm, tc.srv(true))
			h.request(t, true, nil)
			for i := 0; i < 4 && len(h.done) == 0; i++ { // 401, retry, answer
				h.exchange(t)
			}
			if len(h.done) != 1 {
				t.Fatalf("completions %+v", h.done)
			}
			var se *StatusError
			switch st := h.done[0].status; {
			case tc.wantCode == 0 && st != nil:
				t.Fatalf("status %v, want success", st)
			case tc.wantCode != 0 && (!errors.As(st, &se) || se.Code != tc.wantCode):
				t.Fatalf("status %v, want %d", st, tc.wantCode)
			}
		})
	}
}

// TestCacheResIgnoredForNonResponses: SendMsg's cacheRes applies to
// responses only; a request or an indication sent with it is not cached.
func TestCacheResIgnoredForNonResponses(t *testing.T) {
	h := newHarness(t, false)
	req, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err := h.cli.SendMsg(nil, true, true, srvAddr, req); err != nil {
		t.Fatal(err)
	}
	ind, _ := h.cli.CreateInd(stun.MethodBinding)
	if err := h.cli.SendMsg(nil, true, false, srvAddr, ind); err != nil {
		t.Fatal(err)
	}
	if tsx, cached := h.cli.Pending(); tsx != 1 || cached != 0 {
		t.Fatalf("after a request and an indication sent with cacheRes: %d transactions, %d cached", tsx, cached)
	}
	// A response with cacheRes is cached (the control).
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		return s.Respond(rdata, 0, "", token, true, src)
	}
	for _, p := range h.cw.take() {
		h.srv.OnRxPkt(p.pkt, IsDatagram, nil, cliAddr)
	}
	if _, cached := h.srv.Pending(); cached != 1 {
		t.Fatalf("a response sent with cacheRes: %d cached", cached)
	}
}
