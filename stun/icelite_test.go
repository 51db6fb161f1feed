package stun

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/testutil"
)

const (
	litePass = "server-password-0123456789"
	peerPass = "peer-password-0123456789"
)

var (
	addrA = netip.MustParseAddrPort("192.0.2.1:1000")
	addrB = netip.MustParseAddrPort("192.0.2.2:2000")
	addrC = netip.MustParseAddrPort("[2001:db8::3]:3000")
)

// liteHarness is an ICELite on a fake clock whose responses are decoded.
type liteHarness struct {
	t    *testing.T
	clk  *clock.Fake
	lite *ICELite
	last *stun.Message // the last response sent
}

func newLiteHarness(t *testing.T) *liteHarness {
	h := &liteHarness{t: t, clk: clock.NewFake(time.Unix(1000, 0))}
	var err error
	h.lite, err = NewICELite(ICELiteConfig{Config: Config{Clock: h.clk}, LocalUfrag: "srvu", LocalPassword: litePass,
		OnSendMsg: func(_ *Session, _ any, pkt []byte, _ netip.AddrPort) error {
			m := &stun.Message{Raw: append([]byte(nil), pkt...)}
			if err := m.Decode(); err != nil {
				t.Errorf("undecodable response: %v", err)
			}
			h.last = m
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.lite.Close() })
	return h
}

// checkOpts describe a Binding request from the peer.
type checkOpts struct {
	use         bool   // USE-CANDIDATE
	controlling bool   // ICE-CONTROLLING
	controlled  bool   // ICE-CONTROLLED
	user, pass  string // default "srvu:cliu", litePass
	noAuth      bool   // OnRxPkt with NoAuthenticate
}

// check sends a check from src and returns the response code: 0 for a
// success response, -1 for none.
func (h *liteHarness) check(src netip.AddrPort, o checkOpts) int {
	h.t.Helper()
	if o.user == "" {
		o.user = "srvu:cliu"
	}
	if o.pass == "" {
		o.pass = litePass
	}
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(o.user)}
	if o.use {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrUseCandidate})
	}
	if o.controlling {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}})
	}
	if o.controlled {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrICEControlled, Value: []byte{0, 0, 0, 0, 0, 0, 0, 0}})
	}
	setters = append(setters, stun.NewShortTermIntegrity(o.pass), stun.Fingerprint)
	req := stun.MustBuild(setters...)
	h.last = nil
	opts := IsDatagram
	if o.noAuth {
		opts |= NoAuthenticate
	}
	h.lite.Session().OnRxPkt(req.Raw, opts, nil, src)
	res := h.last
	switch {
	case res == nil:
		return -1
	case res.TransactionID != req.TransactionID:
		h.t.Fatalf("response to another transaction")
	case res.Type == stun.BindingSuccess:
		var xor stun.XORMappedAddress
		if err := xor.GetFrom(res); err != nil || xor.Port != int(src.Port()) {
			h.t.Fatalf("success without the source in XOR-MAPPED-ADDRESS: %v", err)
		}
		if err := stun.NewShortTermIntegrity(o.pass).Check(res); err != nil {
			h.t.Fatalf("success response integrity: %v", err)
		}
		return 0
	}
	var ec stun.ErrorCodeAttribute
	if err := ec.GetFrom(res); err != nil {
		h.t.Fatalf("error response without ERROR-CODE: %v", res)
	}
	if ec.Code == 487 {
		// The full peer must be able to trust it (RFC 8445 §7.2.5.1).
		if err := stun.NewShortTermIntegrity(o.pass).Check(res); err != nil {
			h.t.Fatalf("487 without valid MESSAGE-INTEGRITY: %v", err)
		}
	}
	return int(ec.Code)
}

// step is one action on the agent and what must follow it.
type step struct {
	name    string
	src     netip.AddrPort
	check   *checkOpts    // a check from src, or
	advance time.Duration // the clock moves, or
	close   bool          // Close

	code     int       // the response to the check (0 success)
	signal   bool      // the event is signalled after the step
	status   ICEStatus // what Status then reports (one-shots first)
	then     ICEStatus // with ICEMoved: the status reported next
	selected netip.AddrPort
	consent  []netip.AddrPort // HasConsent holds for these
	refused  []netip.AddrPort // and not for these
}

func ck(o checkOpts) *checkOpts { return &o }

// TestICELitePairStates runs the pair state machine through its
// transitions on the fake clock: checks connect, USE-CANDIDATE nominates,
// a later nomination of another address moves the selection (ICEMoved
// once), 30 s without a check expire consent (and signal), a check after
// expiry restores it, role attributes follow RFC 8445 §7.3.1.1 as a lite
// agent, and nothing unauthenticated changes anything.
func TestICELitePairStates(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"check connects, USE-CANDIDATE nominates", []step{
			{name: "check A", src: addrA, check: ck(checkOpts{}), signal: true, status: ICEConnected, selected: addrA, consent: []netip.AddrPort{addrA}, refused: []netip.AddrPort{addrB}},
			{name: "check A again", src: addrA, check: ck(checkOpts{}), status: ICEConnected, selected: addrA},
			{name: "nominate A", src: addrA, check: ck(checkOpts{use: true, controlling: true}), signal: true, status: ICENominated, selected: addrA},
			{name: "nominate A again", src: addrA, check: ck(checkOpts{use: true}), status: ICENominated, selected: addrA},
		}},
		{"consent expires 30 s after the last check, and comes back", []step{
			{name: "nominate A", src: addrA, check: ck(checkOpts{use: true}), signal: true, status: ICENominated, selected: addrA},
			{name: "20 s", advance: 20 * time.Second, status: ICENominated, selected: addrA, consent: []netip.AddrPort{addrA}},
			{name: "check A", src: addrA, check: ck(checkOpts{}), status: ICENominated, selected: addrA},
			{name: "30 s less 1 ns", advance: 30*time.Second - 1, status: ICENominated, selected: addrA, consent: []netip.AddrPort{addrA}},
			{name: "30 s", advance: 1, signal: true, status: ICEConsentExpired, selected: addrA, refused: []netip.AddrPort{addrA}},
			{name: "an hour", advance: time.Hour, status: ICEConsentExpired, selected: addrA},
			{name: "check A after expiry", src: addrA, check: ck(checkOpts{}), signal: true, status: ICENominated, selected: addrA, consent: []netip.AddrPort{addrA}},
			{name: "30 s again", advance: 30 * time.Second, signal: true, status: ICEConsentExpired, refused: []netip.AddrPort{addrA}},
		}},
		{"before nomination the pair checked last is selected", []step{
			{name: "check A", src: addrA, check: ck(checkOpts{}), signal: true, status: ICEConnected, selected: addrA},
			{name: "20 s", advance: 20 * time.Second, status: ICEConnected},
			{name: "check B", src: addrB, check: ck(checkOpts{}), status: ICEConnected, selected: addrB, consent: []netip.AddrPort{addrA, addrB}},
			{name: "A expires", advance: 10 * time.Second, status: ICEConnected, selected: addrB, consent: []netip.AddrPort{addrB}, refused: []netip.AddrPort{addrA}},
			{name: "B expires", advance: 20 * time.Second, signal: true, status: ICEConsentExpired, selected: addrB, refused: []netip.AddrPort{addrA, addrB}},
		}},
		{"a later nomination of another address moves the selection", []step{
			{name: "nominate A", src: addrA, check: ck(checkOpts{use: true}), signal: true, status: ICENominated, selected: addrA},
			{name: "check C", src: addrC, check: ck(checkOpts{}), status: ICENominated, selected: addrA, consent: []netip.AddrPort{addrA, addrC}},
			{name: "nominate C", src: addrC, check: ck(checkOpts{use: true}), signal: true, status: ICEMoved, then: ICENominated, selected: addrC},
			{name: "A stops checking", advance: 20 * time.Second, status: ICENominated, selected: addrC},
			{name: "check C", src: addrC, check: ck(checkOpts{}), status: ICENominated, selected: addrC},
			{name: "A expires, not selected", advance: 10 * time.Second, status: ICENominated, selected: addrC, consent: []netip.AddrPort{addrC}, refused: []netip.AddrPort{addrA}},
			{name: "nominate A back", src: addrA, check: ck(checkOpts{use: true}), signal: true, status: ICEMoved, then: ICENominated, selected: addrA, consent: []netip.AddrPort{addrA, addrC}},
		}},
		{"role attributes", []step{
			{name: "ICE-CONTROLLED: 487, nothing changes", src: addrA, check: ck(checkOpts{controlled: true, use: true}), code: 487, status: ICEChecking, refused: []netip.AddrPort{addrA}},
			{name: "both roles: 400", src: addrA, check: ck(checkOpts{controlled: true, controlling: true}), code: 400, status: ICEChecking, refused: []netip.AddrPort{addrA}},
			{name: "ICE-CONTROLLING: success", src: addrA, check: ck(checkOpts{controlling: true}), signal: true, status: ICEConnected, selected: addrA},
			{name: "ICE-CONTROLLED after: 487, still connected", src: addrB, check: ck(checkOpts{controlled: true, use: true}), code: 487, status: ICEConnected, selected: addrA, refused: []netip.AddrPort{addrB}},
			{name: "no role (RFC 5245): accepted", src: addrB, check: ck(checkOpts{use: true}), signal: true, status: ICENominated, selected: addrB},
		}},
		{"bad credentials never change state", []step{
			{name: "wrong password", src: addrA, check: ck(checkOpts{pass: "wrong-password-0123456789", use: true}), code: 401, status: ICEChecking, refused: []netip.AddrPort{addrA}},
			{name: "wrong ufrag", src: addrA, check: ck(checkOpts{user: "other:cliu", use: true}), code: 401, status: ICEChecking},
			{name: "no remote ufrag", src: addrA, check: ck(checkOpts{user: "srvu:", use: true}), code: 401, status: ICEChecking},
			{name: "not authenticated (NoAuthenticate)", src: addrA, check: ck(checkOpts{noAuth: true, use: true}), code: 401, status: ICEChecking, refused: []netip.AddrPort{addrA}},
			{name: "nominate A", src: addrA, check: ck(checkOpts{use: true}), signal: true, status: ICENominated, selected: addrA},
			{name: "wrong password from B nominating", src: addrB, check: ck(checkOpts{pass: "wrong-password-0123456789", use: true}), code: 401, status: ICENominated, selected: addrA, refused: []netip.AddrPort{addrB}},
			{name: "29 s", advance: 29 * time.Second, status: ICENominated},
			{name: "wrong password from A does not refresh consent", src: addrA, check: ck(checkOpts{pass: "wrong-password-0123456789"}), code: 401, status: ICENominated},
			{name: "30 s", advance: time.Second, signal: true, status: ICEConsentExpired, refused: []netip.AddrPort{addrA}},
		}},
		{"close", []step{
			{name: "nominate A", src: addrA, check: ck(checkOpts{use: true}), signal: true, status: ICENominated, selected: addrA},
			{name: "close", close: true, signal: true, status: ICEClosed, refused: []netip.AddrPort{addrA}},
			{name: "an hour", advance: time.Hour, signal: true, status: ICEClosed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newLiteHarness(t)
			ev, err := h.lite.Event()
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := h.lite.Status(); st != ICEChecking {
				t.Fatalf("new agent: %v", st)
			}
			if _, ok, _ := h.lite.Selected(); ok {
				t.Fatal("a pair selected before any check")
			}
			for _, s := range tt.steps {
				switch {
				case s.check != nil:
					if code := h.check(s.src, *s.check); code != s.code {
						t.Fatalf("%s: response %d, want %d", s.name, code, s.code)
					}
				case s.close:
					h.lite.Close()
				default:
					h.clk.Advance(s.advance)
				}
				signalled := false
				select {
				case <-ev.C():
					signalled = true
				default:
				}
				if signalled != s.signal {
					t.Fatalf("%s: signalled %v, want %v", s.name, signalled, s.signal)
				}
				st, err := h.lite.Status()
				if err != nil || st != s.status {
					t.Fatalf("%s: status %v %v, want %v", s.name, st, err, s.status)
				}
				if st == ICEMoved {
					select {
					case <-ev.C(): // the status it leads to
					default:
						t.Fatalf("%s: not signalled again after Moved", s.name)
					}
					if st, _ := h.lite.Status(); st != s.then {
						t.Fatalf("%s: after Moved %v, want %v", s.name, st, s.then)
					}
				}
				if s.selected.IsValid() {
					p, ok, err := h.lite.Selected()
					if !ok || err != nil || p.Remote != s.selected {
						t.Fatalf("%s: selected %+v %v %v, want %v", s.name, p, ok, err, s.selected)
					}
					if p.Nominated != (st == ICENominated || st == ICEMoved) && st != ICEConsentExpired {
						t.Fatalf("%s: selected %+v in %v", s.name, p, st)
					}
				}
				for _, a := range s.consent {
					if !h.lite.HasConsent(a) {
						t.Fatalf("%s: %v has no consent", s.name, a)
					}
				}
				for _, a := range s.refused {
					if h.lite.HasConsent(a) {
						t.Fatalf("%s: %v has consent", s.name, a)
					}
				}
			}
		})
	}
}

// TestICELitePairs: Pairs lists every validated pair, the nominated one
// first, with its consent, last check and count.
func TestICELitePairs(t *testing.T) {
	h := newLiteHarness(t)
	h.check(addrB, checkOpts{})
	h.clk.Advance(10 * time.Second)
	h.check(addrA, checkOpts{})
	h.check(addrC, checkOpts{use: true})
	h.check(addrC, checkOpts{})
	h.clk.Advance(25 * time.Second)
	pairs, err := h.lite.Pairs()
	if err != nil || len(pairs) != 3 {
		t.Fatalf("pairs %+v %v", pairs, err)
	}
	t0 := time.Unix(1000, 0)
	want := []ICEPair{
		{Remote: addrC, Nominated: true, Consent: true, LastCheck: t0.Add(10 * time.Second), Checks: 2},
		{Remote: addrA, Consent: true, LastCheck: t0.Add(10 * time.Second), Checks: 1},
		{Remote: addrB, Consent: false, LastCheck: t0, Checks: 1},
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Fatalf("pair %d: %+v, want %+v", i, pairs[i], want[i])
		}
	}
	// More sources than the agent keeps: the oldest go, never the selected.
	for i := range 2 * maxPairs {
		h.check(netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(5000+i)), checkOpts{})
	}
	pairs, _ = h.lite.Pairs()
	if len(pairs) != maxPairs || pairs[0].Remote != addrC || !pairs[0].Nominated {
		t.Fatalf("%d pairs, first %+v", len(pairs), pairs[0])
	}
}

// TestICELiteMisuse: a nil or zero agent, and one closed.
func TestICELiteMisuse(t *testing.T) {
	for _, l := range []*ICELite{nil, {}} {
		if _, err := l.Status(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Fatalf("Status: %v", err)
		}
		if _, err := l.Event(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Fatalf("Event: %v", err)
		}
		if _, err := l.Pairs(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Fatalf("Pairs: %v", err)
		}
		if _, _, err := l.Selected(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Fatalf("Selected: %v", err)
		}
		if l.HasConsent(addrA) {
			t.Fatal("HasConsent on a nil agent")
		}
	}
	h := newLiteHarness(t)
	h.check(addrA, checkOpts{use: true})
	ev, _ := h.lite.Event()
	if err := h.lite.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.lite.Close(); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("second Close: %v", err)
	}
	if !ev.Permanent() {
		t.Fatal("event not signalled permanently after Close")
	}
	if _, ok, _ := h.lite.Selected(); ok {
		t.Fatal("a pair selected after Close")
	}
	if code := h.check(addrA, checkOpts{}); code != -1 {
		t.Fatalf("closed agent answered %d", code)
	}
}

// peerSocket is a UDP socket on loopback that answers the agent's checks
// (with peerPass), from itself or from another socket.
type peerSocket struct {
	conn *net.UDPConn
	from *net.UDPConn // answers leave from here
	wg   sync.WaitGroup
}

func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (p *peerSocket) serve(t *testing.T) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, src, err := p.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			if err := stun.NewShortTermIntegrity(peerPass).Check(req); err != nil {
				t.Errorf("check integrity: %v", err)
				continue
			}
			res := stun.MustBuild(req, stun.BindingSuccess,
				&stun.XORMappedAddress{IP: src.Addr().AsSlice(), Port: int(src.Port())},
				stun.NewShortTermIntegrity(peerPass), stun.Fingerprint)
			p.from.WriteToUDPAddrPort(res.Raw, src)
		}
	}()
	t.Cleanup(func() { p.conn.Close(); p.wg.Wait() })
}

// TestICELiteCheckSymmetric: Check succeeds when the peer answers from the
// address the check went to, and fails with ErrAsymmetric, at once, when
// an authentic success response comes from another address (RFC 8445
// §7.2.5.2.1). Real UDP sockets on loopback.
func TestICELiteCheckSymmetric(t *testing.T) {
	u, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	lite, err := NewICELite(ICELiteConfig{LocalUfrag: "srvu", LocalPassword: litePass,
		RemoteUfrag: "peer", RemotePassword: peerPass, OnSendMsg: u.Send})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	u.Serve(lite.Session())

	good := &peerSocket{conn: listenLoopback(t)}
	good.from = good.conn
	good.serve(t)
	other := listenLoopback(t)
	bad := &peerSocket{conn: listenLoopback(t), from: other}
	bad.serve(t)

	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	mapped, err := lite.Check(ctx, good.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil || mapped != u.LocalAddr() {
		t.Fatalf("symmetric check: %v %v, want %v", mapped, err, u.LocalAddr())
	}
	dst := bad.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := lite.Check(ctx, dst); !errors.Is(err, ErrAsymmetric) {
		t.Fatalf("check answered from %v instead of %v: %v, want ErrAsymmetric", other.LocalAddr(), dst, err)
	}
	if pairs, _ := lite.Pairs(); len(pairs) != 0 {
		t.Fatalf("outgoing checks made pairs: %+v", pairs)
	}
}

// recorder is a link.Follower that keeps the moves it is told.
type recorder struct {
	mu    sync.Mutex
	moves []netip.AddrPort
}

func (r *recorder) Follow(to netip.AddrPort) {
	r.mu.Lock()
	r.moves = append(r.moves, to)
	r.mu.Unlock()
}

// TestICELiteConcurrent: checks (some nominating) from several goroutines,
// the clock moving, and the application's reads and a follower coming and
// going, all at once (for -race); then the state is consistent: the
// selected pair is the last one nominated, the follower was told moves
// only to addresses that checked, a removed follower hears nothing, and
// consent follows the clock.
func TestICELiteConcurrent(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	lite, err := NewICELite(ICELiteConfig{Config: Config{Clock: clk}, LocalUfrag: "srvu", LocalPassword: litePass,
		OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	ctl := link.ICEControlOf(lite.Session())
	rec := &recorder{}
	remove := ctl.AddFollower(rec)
	build := func(use bool) []byte {
		s := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername("srvu:cliu")}
		if use {
			s = append(s, stun.RawAttribute{Type: stun.AttrUseCandidate})
		}
		return stun.MustBuild(append(s, stun.NewShortTermIntegrity(litePass), stun.Fingerprint)...).Raw
	}
	var checkers, others sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		checkers.Add(1)
		go func() {
			defer checkers.Done()
			for i := range 200 {
				src := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.9"), uint16(1000+g*10+i%5))
				lite.Session().OnRxPkt(build(i%7 == 0), IsDatagram, nil, src)
			}
		}()
	}
	others.Add(2)
	go func() { // the application
		defer others.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			lite.Status()
			lite.Pairs()
			if p, ok, _ := lite.Selected(); ok {
				ctl.Permits(p.Remote)
			}
		}
	}()
	go func() { // the clock
		defer others.Done()
		for range 50 {
			clk.Advance(time.Second)
		}
	}()
	checkers.Wait()
	close(stop)
	others.Wait()
	remove()
	rec.mu.Lock()
	if len(rec.moves) == 0 {
		t.Fatal("the follower was told no move")
	}
	for _, m := range rec.moves {
		if m.Addr() != netip.MustParseAddr("192.0.2.9") {
			t.Fatalf("move to %v, which never checked", m)
		}
	}
	rec.mu.Unlock()

	// A last nomination from a fresh address, after the follower left.
	last := netip.MustParseAddrPort("198.51.100.7:7000")
	lite.Session().OnRxPkt(build(true), IsDatagram, nil, last)
	sel, ok, _ := lite.Selected()
	if !ok || sel.Remote != last || !sel.Nominated || !lite.HasConsent(last) {
		t.Fatalf("selected %+v", sel)
	}
	rec.mu.Lock()
	for _, m := range rec.moves {
		if m == last {
			t.Fatal("a removed follower was told")
		}
	}
	rec.mu.Unlock()
	clk.Advance(DefaultConsentTimeout)
	if st, _ := lite.Status(); st != ICEMoved { // the last nomination moved it
		t.Fatalf("after the timeout: %v, want Moved first", st)
	}
	if st, _ := lite.Status(); st != ICEConsentExpired {
		t.Fatalf("after the timeout: %v", st)
	}
	if lite.HasConsent(last) {
		t.Fatal("consent outlived the timeout")
	}
}
