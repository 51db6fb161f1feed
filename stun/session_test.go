package stun

import (
	"bytes"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
)

var (
	cliAddr = netip.MustParseAddrPort("192.0.2.10:4000")
	srvAddr = netip.MustParseAddrPort("192.0.2.20:3478")
	epoch   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// sent is a packet a session handed to OnSendMsg.
type sent struct {
	token any
	pkt   []byte
	dst   netip.AddrPort
	at    time.Duration
}

// wire records what a session sends; err, when set, is returned by
// OnSendMsg.
type wire struct {
	mu   sync.Mutex
	clk  *clock.Fake
	pkts []sent
	err  func(n int) error
}

func (w *wire) send(_ *Session, token any, pkt []byte, dst netip.AddrPort) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pkts = append(w.pkts, sent{token, bytes.Clone(pkt), dst, w.clk.Now().Sub(epoch)})
	if w.err != nil {
		return w.err(len(w.pkts))
	}
	return nil
}

func (w *wire) take() []sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pkts
	w.pkts = nil
	return p
}

// completion records OnRequestComplete calls.
type completion struct {
	status error
	token  any
	res    *stun.Message
	at     time.Duration
}

type harness struct {
	clk   *clock.Fake
	cw    *wire // what the client sends
	sw    *wire // what the server sends
	cli   *Session
	srv   *Session
	done  []completion
	onReq func(s *Session, rdata *RxData, token any, src netip.AddrPort) error
}

func newHarness(t *testing.T, fingerprint bool) *harness {
	t.Helper()
	h := &harness{clk: clock.NewFake(epoch)}
	h.cw, h.sw = &wire{clk: h.clk}, &wire{clk: h.clk}
	cfg := Config{Clock: h.clk}
	var err error
	h.cli, err = Create(cfg, "client", Callbacks{
		OnSendMsg: h.cw.send,
		OnRequestComplete: func(s *Session, status error, token any, _ *TxData, res *stun.Message, _ netip.AddrPort) {
			var c completion
			c.status, c.token, c.at = status, token, h.clk.Now().Sub(epoch)
			if res != nil {
				c.res = new(stun.Message)
				res.CloneTo(c.res)
			}
			h.done = append(h.done, c)
		},
	}, fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = Create(cfg, "server", Callbacks{
		OnSendMsg: h.sw.send,
		OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
			if h.onReq != nil {
				return h.onReq(s, rdata, token, src)
			}
			res, err := s.CreateRes(rdata, 0, "")
			if err != nil {
				return err
			}
			res.AddXORMappedAddress(src)
			return s.SendMsg(token, false, false, src, res)
		},
	}, fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request sends a Binding request from the client.
func (h *harness) request(t *testing.T, retransmit bool, token any) *TxData {
	t.Helper()
	td, err := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cli.SendMsg(token, false, retransmit, srvAddr, td); err != nil {
		t.Fatal(err)
	}
	return td
}

// deliver feeds what the client sent to the server and what the server
// sent back to the client.
func (h *harness) exchange(t *testing.T) {
	t.Helper()
	for _, p := range h.cw.take() {
		h.srv.OnRxPkt(p.pkt, IsDatagram, nil, cliAddr)
	}
	for _, p := range h.sw.take() {
		h.cli.OnRxPkt(p.pkt, IsDatagram, nil, srvAddr)
	}
}

func decode(t *testing.T, pkt []byte) *stun.Message {
	t.Helper()
	m := &stun.Message{Raw: bytes.Clone(pkt)}
	if err := m.Decode(); err != nil {
		t.Fatalf("decode % x: %v", pkt, err)
	}
	return m
}

func attrTypes(m *stun.Message) []stun.AttrType {
	var out []stun.AttrType
	for _, a := range m.Attributes {
		out = append(out, a.Type)
	}
	return out
}

func errorCode(t *testing.T, m *stun.Message) int {
	t.Helper()
	var ec stun.ErrorCodeAttribute
	if err := ec.GetFrom(m); err != nil {
		t.Fatalf("no ERROR-CODE in %v", m)
	}
	return int(ec.Code)
}

// docs/conformance.md, pjnath 1: sends at 0, 100, 300, 700, 1500, 3100, 6300 ms,
// timeout at 7900 ms, freed at once.
func TestRetransmitSchedule(t *testing.T) {
	h := newHarness(t, false)
	h.request(t, true, "tok")
	h.clk.Advance(10 * time.Second)
	var at []time.Duration
	for _, p := range h.cw.take() {
		at = append(at, p.at)
		if p.token != "tok" || p.dst != srvAddr {
			t.Fatalf("sent with token %v to %v", p.token, p.dst)
		}
	}
	want := []time.Duration{0, 100, 300, 700, 1500, 3100, 6300}
	if len(at) != len(want) {
		t.Fatalf("sends at %v, want %v ms", at, want)
	}
	for i := range want {
		if at[i] != want[i]*time.Millisecond {
			t.Fatalf("sends at %v, want %v ms", at, want)
		}
	}
	if len(h.done) != 1 || !errors.Is(h.done[0].status, ErrTimeout) || h.done[0].at != 7900*time.Millisecond || h.done[0].token != "tok" {
		t.Fatalf("completions %+v, want one timeout at 7900ms", h.done)
	}
	if tsx, _ := h.cli.Pending(); tsx != 0 {
		t.Fatalf("%d transactions left after the timeout", tsx)
	}
}

// docs/conformance.md, pjnath 1 with another RTO, and 2: reliable transport, one
// send and a timeout at 16×RTO.
func TestRTOAndReliable(t *testing.T) {
	h := newHarness(t, false)
	h.cli.cfg.RTO = 50 * time.Millisecond
	h.request(t, true, nil)
	h.clk.Advance(10 * time.Second)
	if p := h.cw.take(); len(p) != 7 || p[1].at != 50*time.Millisecond || p[6].at != 3150*time.Millisecond {
		t.Fatalf("RTO 50ms: %d sends, second at %v, last at %v", len(p), p[1].at, p[len(p)-1].at)
	}
	if h.done[0].at != 3950*time.Millisecond {
		t.Fatalf("RTO 50ms timeout at %v, want 3950ms", h.done[0].at)
	}
	h2 := newHarness(t, false)
	h2.request(t, false, nil)
	h2.clk.Advance(1599 * time.Millisecond)
	if len(h2.done) != 0 {
		t.Fatal("reliable request timed out early")
	}
	h2.clk.Advance(time.Millisecond)
	if p := h2.cw.take(); len(p) != 1 || len(h2.done) != 1 || !errors.Is(h2.done[0].status, ErrTimeout) {
		t.Fatalf("reliable: %d sends, completions %+v", len(p), h2.done)
	}
}

// docs/conformance.md, pjnath 3.
func TestSendErrors(t *testing.T) {
	h := newHarness(t, false)
	h.cw.err = func(int) error { return ErrSendPending }
	h.request(t, true, nil)
	if tsx, _ := h.cli.Pending(); tsx != 1 {
		t.Fatal("a pending send did not count as sent")
	}
	h.cli.Destroy()

	boom := errors.New("network down")
	h = newHarness(t, false)
	h.cw.err = func(int) error { return boom }
	td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err := h.cli.SendMsg(nil, false, true, srvAddr, td); !errors.Is(err, boom) {
		t.Fatalf("first send error: %v", err)
	}
	if tsx, _ := h.cli.Pending(); tsx != 0 || len(h.done) != 0 {
		t.Fatal("failed first send left a transaction or called back")
	}
	h.cw.err = func(n int) error {
		if n >= 3 {
			return boom
		}
		return nil
	}
	h.cw.take()
	h.request(t, true, nil)
	h.clk.Advance(time.Second)
	if len(h.done) != 1 || !errors.Is(h.done[0].status, boom) || h.done[0].at != 300*time.Millisecond {
		t.Fatalf("retransmission error: %+v", h.done)
	}
}

// docs/conformance.md, pjnath 4, 5, 6: matching by transaction ID (not source),
// unmatched dropped, linger 300 ms without a second callback, error codes
// reachable with errors.As.
func TestResponsesAndLinger(t *testing.T) {
	h := newHarness(t, false)
	h.request(t, true, "a")
	reqs := h.cw.take()
	// An unmatched response: dropped without a callback.
	stray := stun.MustBuild(stun.TransactionID, stun.BindingSuccess)
	h.cli.OnRxPkt(stray.Raw, IsDatagram, nil, srvAddr)
	if len(h.done) != 0 {
		t.Fatal("unmatched response completed a request")
	}
	h.srv.OnRxPkt(reqs[0].pkt, IsDatagram, nil, cliAddr)
	res := h.sw.take()[0].pkt
	other := netip.MustParseAddrPort("198.51.100.1:9") // source not checked
	h.cli.OnRxPkt(res, IsDatagram, nil, other)
	h.cli.OnRxPkt(res, IsDatagram, nil, srvAddr) // duplicate while lingering
	if len(h.done) != 1 || h.done[0].status != nil || h.done[0].res == nil {
		t.Fatalf("completions %+v", h.done)
	}
	if got, ok := XORAddress(h.done[0].res, stun.AttrXORMappedAddress); !ok || got != cliAddr {
		t.Fatalf("XOR-MAPPED-ADDRESS %v %v", got, ok)
	}
	if tsx, _ := h.cli.Pending(); tsx != 1 {
		t.Fatal("transaction not lingering after the response")
	}
	h.clk.Advance(299 * time.Millisecond)
	if tsx, _ := h.cli.Pending(); tsx != 1 {
		t.Fatal("linger ended early")
	}
	h.clk.Advance(time.Millisecond)
	if tsx, _ := h.cli.Pending(); tsx != 0 {
		t.Fatal("transaction not freed after 300ms linger")
	}
	if len(h.cw.take()) != 0 {
		t.Fatal("retransmitted after the response")
	}

	// An error response: a *StatusError with the code.
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		return s.Respond(rdata, 486, "", token, false, src)
	}
	h.request(t, true, "b")
	h.exchange(t)
	var se *StatusError
	if len(h.done) != 2 || !errors.As(h.done[1].status, &se) || se.Code != 486 || se.Reason != "Allocation Quota Reached" {
		t.Fatalf("error response: %+v", h.done[1:])
	}
}

// docs/conformance.md, pjnath 7.
func TestRetransmitReq(t *testing.T) {
	h := newHarness(t, false)
	td := h.request(t, true, nil)
	h.clk.Advance(50 * time.Millisecond)
	if err := h.cli.RetransmitReq(td, false); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(50 * time.Millisecond) // the schedule is untouched: second send at 100
	if p := h.cw.take(); len(p) != 3 || p[1].at != 50*time.Millisecond || p[2].at != 100*time.Millisecond {
		t.Fatalf("without modCount: sends at %v", p)
	}
	h.clk.Advance(10 * time.Millisecond) // at 110; next scheduled at 300
	if err := h.cli.RetransmitReq(td, true); err != nil {
		t.Fatal(err)
	}
	// Counted as the third transmission: the next waits 400 ms.
	h.clk.Advance(399 * time.Millisecond)
	if p := h.cw.take(); len(p) != 1 || p[0].at != 110*time.Millisecond {
		t.Fatalf("with modCount: %v", p)
	}
	h.clk.Advance(time.Millisecond)
	if p := h.cw.take(); len(p) != 1 || p[0].at != 510*time.Millisecond {
		t.Fatalf("rescheduled send: %v", p)
	}
	h.srv.OnRxPkt(h.lastReq(t, td), IsDatagram, nil, cliAddr)
	for _, p := range h.sw.take() {
		h.cli.OnRxPkt(p.pkt, IsDatagram, nil, srvAddr)
	}
	if err := h.cli.RetransmitReq(td, true); err != nil || len(h.cw.take()) != 0 {
		t.Fatalf("RetransmitReq after completion must do nothing: %v", err)
	}
}

func (h *harness) lastReq(t *testing.T, td *TxData) []byte { return td.Msg.Raw }

// docs/conformance.md, pjnath 8.
func TestCancelReq(t *testing.T) {
	h := newHarness(t, false)
	td := h.request(t, true, "tok")
	if err := h.cli.CancelReq(td, true, nil); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("notify with nil status: %v", err)
	}
	cancelled := errors.New("cancelled by the test")
	if err := h.cli.CancelReq(td, true, cancelled); err != nil {
		t.Fatal(err)
	}
	if len(h.done) != 1 || h.done[0].status != cancelled || h.done[0].token != "tok" || h.done[0].res != nil {
		t.Fatalf("cancel notification %+v", h.done)
	}
	h.exchange(t) // the server answers the first send; the response is dropped
	if len(h.done) != 1 {
		t.Fatal("response after cancel produced a callback")
	}
	h.clk.Advance(10 * time.Second)
	if len(h.done) != 1 || len(h.cw.take()) != 0 {
		t.Fatal("cancelled request still retransmitted or timed out")
	}
	if err := h.cli.CancelReq(td, false, nil); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("second cancel: %v", err)
	}
	td2 := h.request(t, true, nil)
	if err := h.cli.CancelReq(td2, false, nil); err != nil || len(h.done) != 1 {
		t.Fatalf("cancel without notify: %v, callbacks %d", err, len(h.done))
	}
}

// docs/conformance.md, pjnath 9, 10: a cached response answers the retransmitted
// request without OnRxRequest, for ResCacheTime.
func TestResponseCache(t *testing.T) {
	h := newHarness(t, false)
	calls := 0
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		calls++
		res, _ := s.CreateRes(rdata, 0, "")
		res.AddXORMappedAddress(src)
		return s.SendMsg(token, true, false, src, res)
	}
	h.request(t, true, nil)
	req := h.cw.take()[0].pkt
	h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	first := h.sw.take()[0].pkt
	h.clk.Advance(9 * time.Second)
	h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	if calls != 1 {
		t.Fatalf("OnRxRequest called %d times for a retransmission", calls)
	}
	if again := h.sw.take(); len(again) != 1 || !bytes.Equal(again[0].pkt, first) || again[0].dst != cliAddr {
		t.Fatal("retransmission not answered with the cached response")
	}
	if _, c := h.srv.Pending(); c != 1 {
		t.Fatalf("cache holds %d", c)
	}
	h.clk.Advance(time.Second) // 10 s: expired
	if _, c := h.srv.Pending(); c != 0 {
		t.Fatal("cache entry not expired after 10s")
	}
	h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	if calls != 2 {
		t.Fatal("after expiry the request must reach OnRxRequest again")
	}
}

// docs/conformance.md, pjnath 11.
func TestDestroyInCallback(t *testing.T) {
	h := newHarness(t, false)
	var inner error
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		inner = s.Destroy()
		return nil
	}
	h.request(t, true, nil)
	_, err := h.srv.OnRxPkt(h.cw.take()[0].pkt, IsDatagram, nil, cliAddr)
	if !errors.Is(inner, ErrPending) || !errors.Is(err, ErrSessionDestroyed) {
		t.Fatalf("Destroy in callback %v, enclosing OnRxPkt %v", inner, err)
	}
	if _, err := h.srv.CreateInd(stun.MethodBinding); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("call after destroy: %v", err)
	}
	if err := h.srv.Destroy(); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("second destroy: %v", err)
	}
	// Destroy from OnSendMsg: SendMsg reports it.
	h2 := newHarness(t, false)
	h2.cw.err = func(int) error { h2.cli.Destroy(); return nil }
	td, _ := h2.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err := h2.cli.SendMsg(nil, false, true, srvAddr, td); !errors.Is(err, ErrSessionDestroyed) {
		t.Fatalf("SendMsg whose OnSendMsg destroyed the session: %v", err)
	}
	h2.clk.Advance(10 * time.Second)
	if len(h2.done) != 0 {
		t.Fatal("destroyed session timed out a request")
	}
	// Destroy from OnRequestComplete.
	h3 := newHarness(t, false)
	h3.cli.cb.OnRequestComplete = func(s *Session, _ error, _ any, _ *TxData, _ *stun.Message, _ netip.AddrPort) {
		inner = s.Destroy()
	}
	h3.request(t, true, nil)
	h3.srv.OnRxPkt(h3.cw.take()[0].pkt, IsDatagram, nil, cliAddr)
	_, err = h3.cli.OnRxPkt(h3.sw.take()[0].pkt, IsDatagram, nil, srvAddr)
	if !errors.Is(inner, ErrPending) || !errors.Is(err, ErrSessionDestroyed) {
		t.Fatalf("destroy in OnRequestComplete: %v / %v", inner, err)
	}
	var nilS *Session
	if err := nilS.Destroy(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("nil session: %v", err)
	}
}

// docs/conformance.md, pjnath 12, 17, 18: short-term credentials, SOFTWARE, the
// order of the attributes.
func TestShortTermAndAttributes(t *testing.T) {
	h := newHarness(t, true)
	cred := &Credential{Username: "alice:bob", Password: []byte("pass")}
	h.cli.SetCredential(AuthShortTerm, cred)
	h.srv.SetCredential(AuthShortTerm, cred)
	h.cli.SetServerName("mediaport client")
	h.srv.SetServerName("mediaport server")
	h.request(t, true, nil)
	req := h.cw.take()[0].pkt
	m := decode(t, req)
	want := []stun.AttrType{stun.AttrSoftware, stun.AttrUsername, stun.AttrMessageIntegrity, stun.AttrFingerprint}
	if got := attrTypes(m); !equalTypes(got, want) {
		t.Fatalf("request attributes %v, want %v", got, want)
	}
	if !checkIntegrity(m.Raw, []byte("pass")) || !checkFingerprint(m.Raw) {
		t.Fatal("request integrity or fingerprint does not verify")
	}
	h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	res := h.sw.take()[0].pkt
	rm := decode(t, res)
	want = []stun.AttrType{stun.AttrXORMappedAddress, stun.AttrSoftware, stun.AttrMessageIntegrity, stun.AttrFingerprint}
	if got := attrTypes(rm); !equalTypes(got, want) {
		t.Fatalf("response attributes %v, want %v", got, want)
	}
	h.cli.OnRxPkt(res, IsDatagram, nil, srvAddr)
	if len(h.done) != 1 || h.done[0].status != nil {
		t.Fatalf("completion %+v", h.done)
	}
	// An indication: no SOFTWARE, no USERNAME, FINGERPRINT.
	ind, _ := h.cli.CreateInd(stun.MethodBinding)
	h.cli.SendMsg(nil, false, false, srvAddr, ind)
	if got := attrTypes(decode(t, h.cw.take()[0].pkt)); !equalTypes(got, []stun.AttrType{stun.AttrFingerprint}) {
		t.Fatalf("indication attributes %v", got)
	}
	// SOFTWARE never twice: the user's own is kept.
	td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	td.Add(stun.AttrSoftware, []byte("mine"))
	h.cli.SendMsg(nil, false, true, srvAddr, td)
	n := 0
	for _, a := range decode(t, h.cw.take()[0].pkt).Attributes {
		if a.Type == stun.AttrSoftware {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d SOFTWARE attributes", n)
	}
	// Dynamic short-term credentials.
	h2 := newHarness(t, false)
	h2.cli.SetCredential(AuthShortTerm, &Credential{GetCred: func() (string, []byte, error) { return "dyn", []byte("dynpass"), nil }})
	h2.srv.SetCredential(AuthShortTerm, &Credential{GetPassword: func(_ *stun.Message, _, user []byte) ([]byte, error) {
		if string(user) == "dyn" {
			return []byte("dynpass"), nil
		}
		return nil, errors.New("unknown")
	}})
	h2.request(t, true, nil)
	h2.exchange(t)
	if len(h2.done) != 1 || h2.done[0].status != nil {
		t.Fatalf("dynamic short-term: %+v", h2.done)
	}
}

func equalTypes(a, b []stun.AttrType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// docs/conformance.md, pjnath 15: the server's answers to bad credentials.
func TestServerAuthentication(t *testing.T) {
	type tc struct {
		name     string
		lt       bool
		build    func(*stun.Message)
		key      []byte
		wantCode int
		wantRN   bool // REALM and NONCE in the answer
	}
	ltKey := LongTermKey("alice", "example.org", "secret")
	cases := []tc{
		{"short: no integrity", false, func(m *stun.Message) {}, nil, 400, false},
		{"short: integrity without username", false, func(m *stun.Message) {}, []byte("pass"), 400, false},
		{"short: unknown user", false, func(m *stun.Message) { m.Add(stun.AttrUsername, []byte("eve")) }, []byte("pass"), 401, false},
		{"short: wrong password", false, func(m *stun.Message) { m.Add(stun.AttrUsername, []byte("alice")) }, []byte("nope"), 401, false},
		{"short: ok", false, func(m *stun.Message) { m.Add(stun.AttrUsername, []byte("alice")) }, []byte("pass"), 0, false},
		{"long: no integrity", true, func(m *stun.Message) {}, nil, 401, true},
		{"long: integrity without username", true, func(m *stun.Message) {
			m.Add(stun.AttrRealm, []byte("example.org"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, ltKey, 400, false},
		{"long: wrong user", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("eve"))
			m.Add(stun.AttrRealm, []byte("example.org"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, LongTermKey("eve", "example.org", "secret"), 401, true},
		{"long: no realm", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("alice"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, ltKey, 400, false},
		{"long: wrong realm", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("alice"))
			m.Add(stun.AttrRealm, []byte("other.org"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, ltKey, 401, true},
		{"long: stale nonce", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("alice"))
			m.Add(stun.AttrRealm, []byte("example.org"))
			m.Add(stun.AttrNonce, []byte("old"))
		}, ltKey, 438, true},
		{"long: wrong password", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("alice"))
			m.Add(stun.AttrRealm, []byte("example.org"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, LongTermKey("alice", "example.org", "wrong"), 401, true},
		{"long: ok", true, func(m *stun.Message) {
			m.Add(stun.AttrUsername, []byte("alice"))
			m.Add(stun.AttrRealm, []byte("example.org"))
			m.Add(stun.AttrNonce, []byte("n1"))
		}, ltKey, 0, false},
	}
	for _, c := range cases {
		h := newHarness(t, false)
		if c.lt {
			h.srv.SetCredential(AuthLongTerm, &Credential{Realm: "example.org", Username: "alice", Password: []byte("secret"), Nonce: "n1"})
		} else {
			h.srv.SetCredential(AuthShortTerm, &Credential{Username: "alice", Password: []byte("pass")})
		}
		m := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
		c.build(m)
		if c.key != nil {
			addIntegrity(m, c.key)
		}
		h.srv.OnRxPkt(m.Raw, IsDatagram, nil, cliAddr)
		res := decode(t, h.sw.take()[0].pkt)
		code := 0
		if res.Type.Class == stun.ClassErrorResponse {
			code = errorCode(t, res)
		}
		rn := res.Contains(stun.AttrRealm) && res.Contains(stun.AttrNonce)
		if code != c.wantCode || rn != c.wantRN {
			t.Errorf("%s: code %d (realm+nonce %v), want %d (%v)", c.name, code, rn, c.wantCode, c.wantRN)
		}
		if c.wantCode == 0 && !checkIntegrity(res.Raw, c.key) {
			t.Errorf("%s: success response not signed with the request's key", c.name)
		}
		if c.wantCode != 0 && res.Contains(stun.AttrMessageIntegrity) {
			t.Errorf("%s: %d response carries MESSAGE-INTEGRITY", c.name, c.wantCode)
		}
	}
}

// docs/conformance.md, pjnath 13, 14: the long-term client authenticates after the
// first 401, retries on 438 with the new nonce, gives up on the same nonce
// or after three retries.
func TestLongTermClientRetry(t *testing.T) {
	h := newHarness(t, true)
	nonce := "n1"
	h.cli.SetCredential(AuthLongTerm, &Credential{Username: "alice", Password: []byte("secret")})
	h.srv.SetCredential(AuthLongTerm, &Credential{Realm: "example.org", Username: "alice", Password: []byte("secret"),
		GetAuth:     func() (string, string) { return "example.org", nonce },
		VerifyNonce: func(_ *stun.Message, _, _, n []byte) bool { return string(n) == nonce }})
	td := h.request(t, true, "tok")
	first := decode(t, h.cw.pkts[0].pkt)
	if first.Contains(stun.AttrUsername) || first.Contains(stun.AttrMessageIntegrity) {
		t.Fatal("long-term request carries credentials before any challenge")
	}
	h.exchange(t) // 401 → retry, unseen by the user
	if len(h.done) != 0 {
		t.Fatalf("401 reached the user: %+v", h.done)
	}
	retry := h.cw.pkts[0].pkt
	rm := decode(t, retry)
	want := []stun.AttrType{stun.AttrUsername, stun.AttrRealm, stun.AttrNonce, stun.AttrMessageIntegrity, stun.AttrFingerprint}
	if !equalTypes(attrTypes(rm), want) || rm.TransactionID == first.TransactionID || h.cw.pkts[0].token != "tok" || h.cw.pkts[0].dst != srvAddr {
		t.Fatalf("retry %v (new tsx id: %v)", attrTypes(rm), rm.TransactionID != first.TransactionID)
	}
	if !checkIntegrity(rm.Raw, LongTermKey("alice", "example.org", "secret")) {
		t.Fatal("retry not signed with MD5(user:realm:pass)")
	}
	h.exchange(t)
	if len(h.done) != 1 || h.done[0].status != nil || td.Msg.TransactionID != rm.TransactionID {
		t.Fatalf("after retry: %+v", h.done)
	}
	// The nonce goes stale: 438 → retry with the new nonce → success.
	nonce = "n2"
	h.request(t, true, nil)
	h.exchange(t)
	h.exchange(t)
	if len(h.done) != 2 || h.done[1].status != nil {
		t.Fatalf("438 retry: %+v", h.done)
	}
	// A server that keeps challenging with new nonces: the 4th challenge
	// goes to the user.
	h.srv.cred.VerifyNonce = func(*stun.Message, []byte, []byte, []byte) bool { return false }
	counter := 0
	h.srv.cred.GetAuth = func() (string, string) { counter++; return "example.org", "x" + string(rune('a'+counter)) }
	h.request(t, true, nil)
	requests := 0
	for i := 0; i < 6; i++ {
		requests += len(h.cw.pkts)
		h.exchange(t)
	}
	var se *StatusError
	if len(h.done) != 3 || !errors.As(h.done[2].status, &se) || se.Code != 438 || requests != 4 {
		t.Fatalf("endless challenges: %+v after %d requests, want the 438 reported after the 4th", h.done[2:], requests)
	}
	// The same nonce as sent: to the user at once.
	h.srv.cred.GetAuth = func() (string, string) { return "example.org", h.cli.nonce }
	h.request(t, true, nil)
	h.exchange(t)
	if len(h.done) != 4 || !errors.As(h.done[3].status, &se) {
		t.Fatalf("same nonce: %+v", h.done[3:])
	}
	// A 401 without NONCE: to the user.
	h.onReq = nil
	h2 := newHarness(t, false)
	h2.cli.SetCredential(AuthLongTerm, &Credential{Username: "alice", Password: []byte("secret")})
	h2.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		return s.Respond(rdata, 401, "", token, false, src)
	}
	h2.request(t, true, nil)
	h2.exchange(t)
	if len(h2.done) != 1 || !errors.As(h2.done[0].status, &se) || se.Code != 401 {
		t.Fatalf("401 without nonce: %+v", h2.done)
	}
}

// docs/conformance.md, pjnath 16: an unauthentic response is dropped and the
// request keeps retransmitting.
func TestResponseIntegrity(t *testing.T) {
	h := newHarness(t, false)
	h.cli.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: []byte("right")})
	h.srv.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: []byte("right")})
	h.request(t, true, nil)
	req := h.cw.take()[0].pkt
	// A forged success response signed with another key.
	rq := decode(t, req)
	forged := stun.MustBuild(stun.NewTransactionIDSetter(rq.TransactionID), stun.BindingSuccess)
	addIntegrity(forged, []byte("wrong"))
	if _, err := h.cli.OnRxPkt(forged.Raw, IsDatagram, nil, srvAddr); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("forged response: %v", err)
	}
	h.clk.Advance(100 * time.Millisecond)
	if len(h.done) != 0 || len(h.cw.take()) != 1 {
		t.Fatal("forged response stopped the retransmissions")
	}
	// A 401 cannot carry integrity: accepted.
	unauth := stun.MustBuild(stun.NewTransactionIDSetter(rq.TransactionID), stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
		stun.ErrorCodeAttribute{Code: 401, Reason: []byte("Unauthorized")})
	h.cli.OnRxPkt(unauth.Raw, IsDatagram, nil, srvAddr)
	var se *StatusError
	if len(h.done) != 1 || !errors.As(h.done[0].status, &se) || se.Code != 401 {
		t.Fatalf("401 without integrity: %+v", h.done)
	}
}

// docs/conformance.md, pjnath 19, 20.
func TestReceiveErrors(t *testing.T) {
	h := newHarness(t, false)
	reqWith := func(extra func(m *stun.Message)) []byte {
		m := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
		extra(m)
		return m.Raw
	}
	// Unknown comprehension-required attribute: 420 + UNKNOWN-ATTRIBUTES.
	h.srv.OnRxPkt(reqWith(func(m *stun.Message) { m.Add(0x0777, []byte{1, 2, 3, 4}) }), IsDatagram, nil, cliAddr)
	res := decode(t, h.sw.take()[0].pkt)
	ua, _ := res.Get(stun.AttrUnknownAttributes)
	if errorCode(t, res) != 420 || !bytes.Equal(ua, []byte{0x07, 0x77}) {
		t.Fatalf("unknown attribute: %d % x", errorCode(t, res), ua)
	}
	// Unknown comprehension-optional attribute: kept, request handled.
	h.srv.OnRxPkt(reqWith(func(m *stun.Message) { m.Add(0x8777, []byte{1}) }), IsDatagram, nil, cliAddr)
	if res := decode(t, h.sw.take()[0].pkt); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatal("optional unknown attribute refused")
	}
	// Duplicate MESSAGE-INTEGRITY, attribute after FINGERPRINT, bad
	// FINGERPRINT: 400.
	bad := [][]byte{
		reqWith(func(m *stun.Message) { addIntegrity(m, []byte("k")); addIntegrity(m, []byte("k")) }),
		reqWith(func(m *stun.Message) { addFingerprint(m); m.Add(stun.AttrUsername, []byte("x")) }),
		reqWith(func(m *stun.Message) { addFingerprint(m); m.Raw[len(m.Raw)-1] ^= 1 }),
		reqWith(func(m *stun.Message) { m.Add(stun.AttrUsername, []byte("abcd")); m.Raw[len(m.Raw)-5] = 40 }), // attribute longer than the message
	}
	for i, p := range bad {
		h.srv.OnRxPkt(p, IsDatagram, nil, cliAddr)
		out := h.sw.take()
		if len(out) != 1 || errorCode(t, decode(t, out[0].pkt)) != 400 {
			t.Fatalf("malformed request %d: answered %v", i, out)
		}
	}
	// Invalid non-requests are dropped; a datagram whose length field lies
	// is refused before decoding.
	ind := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	addFingerprint(ind)
	ind.Raw[len(ind.Raw)-1] ^= 1
	if _, err := h.srv.OnRxPkt(ind.Raw, IsDatagram, nil, cliAddr); err == nil || len(h.sw.take()) != 0 {
		t.Fatal("invalid indication not dropped")
	}
	if _, err := h.srv.OnRxPkt(append(reqWith(func(*stun.Message) {}), 0, 0, 0, 0), IsDatagram, nil, cliAddr); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("datagram longer than its message: %v", err)
	}
	// No OnRxRequest: 400. An indication without a handler: ignored.
	h.srv.cb.OnRxRequest = nil
	h.srv.OnRxPkt(reqWith(func(*stun.Message) {}), IsDatagram, nil, cliAddr)
	if res := decode(t, h.sw.take()[0].pkt); errorCode(t, res) != 400 {
		t.Fatal("request without a handler not answered 400")
	}
	good := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	if _, err := h.srv.OnRxPkt(good.Raw, IsDatagram, nil, cliAddr); err != nil || len(h.sw.take()) != 0 {
		t.Fatalf("indication without handler: %v", err)
	}
	if tsx, cache := h.srv.Pending(); tsx != 0 || cache != 0 {
		t.Fatal("bad input left state behind")
	}
}

// Stream framing: the parsed length, and an incomplete message.
func TestStreamParsedLength(t *testing.T) {
	h := newHarness(t, false)
	m := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	stream := append(bytes.Clone(m.Raw), 0xde, 0xad)
	n, err := h.srv.OnRxPkt(stream, 0, nil, cliAddr)
	if err != nil || n != len(m.Raw) {
		t.Fatalf("parsed %d of %d: %v", n, len(m.Raw), err)
	}
	if _, err := h.srv.OnRxPkt(m.Raw[:len(m.Raw)-1], 0, nil, cliAddr); !errors.Is(err, ErrIncomplete) && len(m.Raw) > 20 {
		t.Fatalf("short stream: %v", err)
	}
	if _, err := h.srv.OnRxPkt(m.Raw[:10], 0, nil, cliAddr); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("short header: %v", err)
	}
}

// docs/conformance.md, pjnath 21: the flags gate message logging.
func TestLogFlags(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := newHarness(t, false)
	h.cli.cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.cli.SetLog(LogRxRes)
	h.request(t, true, nil)
	h.exchange(t)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, "tx request") || !strings.Contains(out, "rx response") {
		t.Fatalf("log with only LogRxRes:\n%s", out)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestUserDataLockServerName(t *testing.T) {
	h := newHarness(t, false)
	h.cli.SetUserData(42)
	if h.cli.UserData() != 42 {
		t.Fatal("user data lost")
	}
	var l sync.Mutex
	if err := h.cli.SetLock(&l); err != nil {
		t.Fatal(err)
	}
	h.request(t, true, nil)
	h.exchange(t)
	if len(h.done) != 1 {
		t.Fatal("session does not work with a replaced lock")
	}
	if err := h.cli.SetLock(nil); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("nil lock: %v", err)
	}
	if _, err := Create(Config{}, "x", Callbacks{}, false); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("no OnSendMsg: %v", err)
	}
	// A request with another magic cookie: the header carries it, no SOFTWARE.
	h.cli.SetServerName("sw")
	td, _ := h.cli.CreateReq(stun.MethodBinding, 0x01020304, nil)
	h.cli.SendMsg(nil, false, true, srvAddr, td)
	p := h.cw.take()[0].pkt
	if !bytes.Equal(p[4:8], []byte{1, 2, 3, 4}) || bytes.Contains(p, []byte("sw")) {
		t.Fatalf("RFC 3489 request % x", p)
	}
	// An explicit transaction ID.
	id := [12]byte{1, 2, 3}
	td, _ = h.cli.CreateReq(stun.MethodBinding, MagicCookie, &id)
	if td.Msg.TransactionID != id {
		t.Fatal("transaction ID not used")
	}
	if err := h.cli.DestroyTData(td); err != nil {
		t.Fatal(err)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 5769 test vectors, through the session.
var (
	rfc5769Request = unhex(`000100582112a442b7e7a701bc34d686fa87dfae
		802200105354554e207465737420636c69656e74 002400046e0001ff 80290008932ff9b151263b36
		000600096576746a3a68367659202020 00080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2 80280004e57a3bcf`)
	rfc5769IPv4 = unhex(`010100 3c2112a442b7e7a701bc34d686fa87dfae 8022000b7465737420766563746f7220
		0020000800 01a147e112a643 00080014 2b91f599fd9e90c38c7489f92af9ba53f06be7d7 80280004c07d4c96`)
	rfc5769IPv6 = unhex(`010100482112a442b7e7a701bc34d686fa87dfae 8022000b7465737420766563746f7220
		002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9 00080014 a382954e4be67bf11784c97c8292c275bfe3ed41 80280004c8fb0b4c`)
	rfc5769LongTerm = unhex(`000100602112a44278ad3433c6ad72c029da412e
		00060012e3839ee38388e383aae38383e382afe382b90000
		0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341
		0014000b6578616d706c652e6f726700
		00080014f67024656dd64a3e02b8e0712e85c9a28ca89666`)
)

func TestRFC5769(t *testing.T) {
	// The sample request authenticates against a short-term server.
	h := newHarness(t, false)
	h.srv.SetCredential(AuthShortTerm, &Credential{Username: "evtj:h6vY", Password: []byte("VOkJxbRl1RmTxUk/WvJxBt")})
	var got *RxData
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error { got = rdata; return nil }
	if _, err := h.srv.OnRxPkt(rfc5769Request, IsDatagram, nil, cliAddr); err != nil || got == nil {
		t.Fatalf("RFC 5769 request: %v (handled: %v)", err, got != nil)
	}
	// The responses complete a request with the same transaction ID,
	// verified with the same key; the mapped addresses decode.
	for _, c := range []struct {
		raw  []byte
		addr string
	}{{rfc5769IPv4, "192.0.2.1:32853"}, {rfc5769IPv6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"}} {
		h := newHarness(t, false)
		h.cli.SetCredential(AuthShortTerm, &Credential{Username: "evtj:h6vY", Password: []byte("VOkJxbRl1RmTxUk/WvJxBt")})
		id := [12]byte(rfc5769Request[8:20])
		td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, &id)
		h.cli.SendMsg(nil, false, true, srvAddr, td)
		if _, err := h.cli.OnRxPkt(c.raw, IsDatagram, nil, srvAddr); err != nil {
			t.Fatalf("RFC 5769 response %s: %v", c.addr, err)
		}
		if len(h.done) != 1 || h.done[0].status != nil {
			t.Fatalf("RFC 5769 response %s: %+v", c.addr, h.done)
		}
		if a, ok := XORAddress(h.done[0].res, stun.AttrXORMappedAddress); !ok || a.String() != c.addr {
			t.Fatalf("mapped address %v, want %s", a, c.addr)
		}
	}
	// The long-term request authenticates against a long-term server.
	h = newHarness(t, false)
	h.srv.SetCredential(AuthLongTerm, &Credential{Realm: "example.org", Username: "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9",
		Password: []byte("TheMatrIX"), Nonce: "f//499k954d6OL34oL9FSTvy64sA"})
	got = nil
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error { got = rdata; return nil }
	if _, err := h.srv.OnRxPkt(rfc5769LongTerm, IsDatagram, nil, cliAddr); err != nil || got == nil {
		out := h.sw.take()
		t.Fatalf("RFC 5769 long-term request: %v, answered %d packets", err, len(out))
	}
}

// TestStats: the counters follow what the sessions send and receive: a
// request that times out after 6 retransmissions, one answered, an
// indication, and an invalid datagram.
func TestStats(t *testing.T) {
	h := newHarness(t, false)
	h.request(t, true, "lost")
	h.clk.Advance(10 * time.Second) // 7 sends, then the timeout
	h.cw.take()
	h.request(t, true, "answered")
	h.exchange(t)
	ind, err := h.cli.CreateInd(stun.MethodBinding)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cli.SendMsg(nil, false, false, srvAddr, ind); err != nil {
		t.Fatal(err)
	}
	h.exchange(t)
	if _, err := h.srv.OnRxPkt([]byte{0, 1, 0, 3, 1, 2, 3}, IsDatagram, nil, cliAddr); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("OnRxPkt of garbage: %v", err)
	}
	cli, err := h.cli.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Requests: 2, Retransmissions: 6, Timeouts: 1, Indications: 1, Received: 1}); cli != want {
		t.Errorf("client stats %+v, want %+v", cli, want)
	}
	srv, _ := h.srv.Stats()
	if want := (Stats{Responses: 1, Received: 3, Invalid: 1}); srv != want {
		t.Errorf("server stats %+v, want %+v", srv, want)
	}
	h.cli.Destroy()
	if _, err := h.cli.Stats(); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Errorf("Stats after Destroy: %v", err)
	}
}
