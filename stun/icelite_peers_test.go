package stun

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
)

// TestICELitePeers: an agent with credential sets for two more peers
// answers each check with the set its USERNAME names, keyed with that
// set's password (and 401 for another set's password), gives each source
// consent without touching the LocalUfrag peer's selection and status,
// and RemovePeer ends a set's checks and its pairs' consent at once.
func TestICELitePeers(t *testing.T) {
	h := newLiteHarness(t)
	const p1, p2 = "peer-one-password-0123", "peer-two-password-4567"
	if err := h.lite.AddPeer("pe01", p1); err != nil {
		t.Fatal(err)
	}
	if err := h.lite.AddPeer("pe02", p2); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		src     netip.AddrPort
		o       checkOpts
		code    int
		consent bool
	}{
		{"peer one", addrA, checkOpts{user: "pe01:remote1", pass: p1, use: true}, 0, true},
		{"peer two", addrB, checkOpts{user: "pe02:remote2", pass: p2, use: true}, 0, true},
		{"peer two's ufrag, peer one's password", addrC, checkOpts{user: "pe02:remote2", pass: p1}, 401, false},
		{"peer one's ufrag, the agent's password", addrC, checkOpts{user: "pe01:remote1", pass: litePass}, 401, false},
		{"an unknown ufrag", addrC, checkOpts{user: "pe03:remote3", pass: p1}, 401, false},
		{"no remote ufrag", addrC, checkOpts{user: "pe01:", pass: p1}, 401, false},
	}
	for _, c := range cases {
		if got := h.check(c.src, c.o); got != c.code {
			t.Fatalf("%s: response %d, want %d", c.name, got, c.code)
		}
		if h.lite.HasConsent(c.src) != c.consent {
			t.Fatalf("%s: consent %v", c.name, !c.consent)
		}
	}
	// The other peers' nominations are not the agent's selection.
	if st, _ := h.lite.Status(); st != ICEChecking {
		t.Fatalf("status %v after other sets' checks, want Checking", st)
	}
	if _, ok, _ := h.lite.Selected(); ok {
		t.Fatal("a pair selected by another set's check")
	}
	pairs, _ := h.lite.Pairs()
	if len(pairs) != 2 || pairs[0].Ufrag != "pe01" || pairs[1].Ufrag != "pe02" || !pairs[0].Nominated {
		t.Fatalf("pairs %+v", pairs)
	}
	// The LocalUfrag peer is served as before.
	if got := h.check(addrC, checkOpts{use: true}); got != 0 {
		t.Fatalf("LocalUfrag check: %d", got)
	}
	if sel, ok, _ := h.lite.Selected(); !ok || sel.Remote != addrC || sel.Ufrag != "" {
		t.Fatalf("selected %+v %v", sel, ok)
	}
	// RemovePeer: 401 from then on, consent gone at once, the others kept.
	set := h.lite.peers.sets["pe01"].password
	if err := h.lite.RemovePeer("pe01"); err != nil {
		t.Fatal(err)
	}
	if strings.Trim(string(set), "\x00") != "" {
		t.Fatal("the removed set's password was not zeroed")
	}
	if h.lite.HasConsent(addrA) || !h.lite.HasConsent(addrB) || !h.lite.HasConsent(addrC) {
		t.Fatal("consent after RemovePeer")
	}
	if got := h.check(addrA, checkOpts{user: "pe01:remote1", pass: p1}); got != 401 {
		t.Fatalf("removed set's check: %d", got)
	}
	// Consent of another set's pair expires as any other.
	h.clk.Advance(DefaultConsentTimeout)
	if h.lite.HasConsent(addrB) {
		t.Fatal("consent did not expire")
	}
	if got := h.check(addrB, checkOpts{user: "pe02:remote2", pass: p2}); got != 0 || !h.lite.HasConsent(addrB) {
		t.Fatalf("check after expiry: %d", got)
	}
}

// TestICELitePeersMisuse: invalid sets, a ufrag in use, the limit, and a
// closed agent.
func TestICELitePeersMisuse(t *testing.T) {
	h := newLiteHarness(t)
	for _, c := range []struct{ u, p string }{{"abc", "pw"}, {"ab:cd", "pw"}, {"abcd", ""}, {strings.Repeat("x", 257), "pw"}} {
		if err := h.lite.AddPeer(c.u, c.p); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Fatalf("AddPeer(%q, %q): %v", c.u, c.p, err)
		}
	}
	if err := h.lite.AddPeer("srvu", "pw"); !errors.Is(err, ErrUfragInUse) {
		t.Fatalf("the agent's own ufrag: %v", err)
	}
	for i := range MaxICEPeers {
		if err := h.lite.AddPeer(fmt.Sprintf("peer%04d", i), "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.lite.AddPeer("peer0000", "pw"); !errors.Is(err, ErrUfragInUse) {
		t.Fatalf("twice: %v", err)
	}
	if err := h.lite.AddPeer("one-more", "pw"); !errors.Is(err, mediaport.ErrLimit) {
		t.Fatalf("beyond the limit: %v", err)
	}
	pw := h.lite.peers.sets["peer0001"].password
	h.lite.Close()
	if strings.Trim(string(pw), "\x00") != "" {
		t.Fatal("Close did not zero the sets")
	}
	if err := h.lite.AddPeer("late", "pw"); err == nil {
		t.Fatal("AddPeer after Close")
	}
	var nilLite *ICELite
	if err := nilLite.AddPeer("abcd", "pw"); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatal(err)
	}
	if err := nilLite.RemovePeer("abcd"); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatal(err)
	}
}
