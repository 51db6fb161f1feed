package stun

// Tests for the pjnath points of docs/conformance.md that the
// tests in session_test.go cover only in part. Each one names its point.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
)

// rfc3489Magic is the "magic cookie" field of an RFC 3489 message: the
// first 32 bits of its 128-bit transaction ID.
const rfc3489Magic uint32 = 0x01020304

// withMagic returns a copy of pkt whose magic cookie field is magic.
func withMagic(pkt []byte, magic uint32) []byte {
	p := bytes.Clone(pkt)
	binary.BigEndian.PutUint32(p[4:8], magic)
	return p
}

// docs/conformance.md, pjnath 4: a response is matched by magic cookie AND
// transaction ID. A response with the request's transaction ID but another
// magic cookie (an RFC 3489 header for an RFC 5389 request, or the
// reverse) is dropped as unmatched: no callback, the request keeps
// retransmitting, and the genuine response still completes it.
func TestConformanceMatchByMagicCookie(t *testing.T) {
	t.Run("RFC 5389 request, RFC 3489 response", func(t *testing.T) {
		h := newHarness(t, false)
		td := h.request(t, true, "tok")
		req := h.cw.take()[0].pkt
		h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
		res := h.sw.take()[0].pkt
		if _, err := h.cli.OnRxPkt(withMagic(res, rfc3489Magic), IsDatagram, nil, srvAddr); err != nil {
			t.Fatalf("unmatched response must be dropped silently, got %v", err)
		}
		if len(h.done) != 0 {
			t.Fatalf("a response without the request's magic cookie completed it: %+v", h.done)
		}
		if tsx, _ := h.cli.Pending(); tsx != 1 {
			t.Fatalf("%d transactions after the mismatched response, want 1 pending", tsx)
		}
		h.clk.Advance(100 * time.Millisecond)
		if p := h.cw.take(); len(p) != 1 || !bytes.Equal(p[0].pkt, td.Msg.Raw) {
			t.Fatalf("request not retransmitted after a mismatched response: %d sends", len(p))
		}
		// The response with the right cookie completes it.
		h.cli.OnRxPkt(res, IsDatagram, nil, srvAddr)
		if len(h.done) != 1 || h.done[0].status != nil || h.done[0].token != "tok" {
			t.Fatalf("genuine response: %+v", h.done)
		}
	})

	t.Run("RFC 3489 request, RFC 5389 response", func(t *testing.T) {
		h := newHarness(t, false)
		id := [12]byte{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2}
		td, err := h.cli.CreateReq(stun.MethodBinding, rfc3489Magic, &id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.cli.SendMsg("tok", false, true, srvAddr, td); err != nil {
			t.Fatal(err)
		}
		h.cw.take()
		// Same method, same transaction ID, RFC 5389 cookie.
		res := stun.MustBuild(stun.NewTransactionIDSetter(id), stun.BindingSuccess)
		if _, err := h.cli.OnRxPkt(res.Raw, IsDatagram, nil, srvAddr); err != nil {
			t.Fatalf("unmatched response must be dropped silently, got %v", err)
		}
		if len(h.done) != 0 {
			t.Fatalf("a response with another magic cookie completed the request: %+v", h.done)
		}
		h.clk.Advance(100 * time.Millisecond)
		if p := h.cw.take(); len(p) != 1 {
			t.Fatalf("request not retransmitted after a mismatched response: %d sends", len(p))
		}
		// The same response with the request's (RFC 3489) cookie matches.
		if _, err := h.cli.OnRxPkt(withMagic(res.Raw, rfc3489Magic), IsDatagram, nil, srvAddr); err != nil {
			t.Fatalf("RFC 3489 response: %v", err)
		}
		if len(h.done) != 1 || h.done[0].status != nil || h.done[0].token != "tok" || h.done[0].res == nil {
			t.Fatalf("RFC 3489 response to an RFC 3489 request: %+v", h.done)
		}
		if got := binary.BigEndian.Uint32(h.done[0].res.Raw[4:8]); got != rfc3489Magic {
			t.Fatalf("response given to the user has cookie %#x, want %#x", got, rfc3489Magic)
		}
	})

	t.Run("RFC 3489 round trip", func(t *testing.T) {
		// A server answers an RFC 3489 request with the request's header
		// (CreateRes keeps the magic), and that answer completes it.
		h := newHarness(t, false)
		td, err := h.cli.CreateReq(stun.MethodBinding, rfc3489Magic, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.cli.SendMsg(nil, false, true, srvAddr, td); err != nil {
			t.Fatal(err)
		}
		h.exchange(t)
		if len(h.done) != 1 || h.done[0].status != nil || h.done[0].res == nil {
			t.Fatalf("RFC 3489 exchange: %+v", h.done)
		}
		if got := binary.BigEndian.Uint32(h.done[0].res.Raw[4:8]); got != rfc3489Magic {
			t.Fatalf("server answered with cookie %#x, want %#x", got, rfc3489Magic)
		}
	})
}

// docs/conformance.md, pjnath 5: after a timeout the transaction is freed at once —
// at the timeout instant itself (inside OnRequestComplete already), with no
// linger timer left on the clock; a late response produces no callback.
func TestConformanceTimeoutFreesAtOnce(t *testing.T) {
	for _, c := range []struct {
		name       string
		retransmit bool
		timeout    time.Duration
	}{
		{"udp", true, 7900 * time.Millisecond},
		{"reliable", false, 1600 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			inside := -1
			record := h.cli.cb.OnRequestComplete
			h.cli.cb.OnRequestComplete = func(s *Session, status error, token any, td *TxData, res *stun.Message, src netip.AddrPort) {
				inside, _ = s.Pending()
				record(s, status, token, td, res, src)
			}
			h.request(t, c.retransmit, nil)
			req := h.cw.pkts[0].pkt
			h.srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
			late := h.sw.take()[0].pkt

			h.clk.Advance(c.timeout - time.Millisecond)
			if tsx, _ := h.cli.Pending(); tsx != 1 || len(h.done) != 0 {
				t.Fatalf("1 ms before the timeout: %d transactions, %d completions", tsx, len(h.done))
			}
			h.clk.Advance(time.Millisecond)
			if len(h.done) != 1 || !errors.Is(h.done[0].status, ErrTimeout) || h.done[0].at != c.timeout {
				t.Fatalf("completions %+v, want a timeout at %v", h.done, c.timeout)
			}
			if inside != 0 {
				t.Fatalf("Pending() inside the timeout callback = %d, want 0", inside)
			}
			if tsx, _ := h.cli.Pending(); tsx != 0 {
				t.Fatalf("%d transactions at the timeout instant, want 0", tsx)
			}
			if n := h.clk.Pending(); n != 0 {
				t.Fatalf("%d timers left on the clock after the timeout (lingering?)", n)
			}
			h.cli.OnRxPkt(late, IsDatagram, nil, srvAddr)
			if len(h.done) != 1 {
				t.Fatalf("a response after the timeout produced a callback: %+v", h.done)
			}
		})
	}
}

// shortTermPair is a harness whose client and server share a short-term
// credential, so every request carries MESSAGE-INTEGRITY.
func shortTermPair(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, false)
	cred := &Credential{Username: "u", Password: []byte("right")}
	if err := h.cli.SetCredential(AuthShortTerm, cred); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.SetCredential(AuthShortTerm, cred); err != nil {
		t.Fatal(err)
	}
	return h
}

func errorResponse(id [12]byte, code int, extra ...stun.Setter) *stun.Message {
	setters := []stun.Setter{stun.NewTransactionIDSetter(id), stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
		stun.ErrorCodeAttribute{Code: stun.ErrorCode(code), Reason: []byte(Reason(code))}}
	return stun.MustBuild(append(setters, extra...)...)
}

// docs/conformance.md, pjnath 16: 400 and 420 (like 401 and 438) complete a request
// sent with a key without valid MESSAGE-INTEGRITY; any other error code
// (500) without valid integrity is dropped and the request keeps
// retransmitting, and is accepted once it is signed.
func TestConformanceResponseIntegrityExceptions(t *testing.T) {
	for _, code := range []int{400, 420} {
		// Crafted, without MESSAGE-INTEGRITY.
		h := shortTermPair(t)
		td := h.request(t, true, nil)
		h.cw.take()
		var extra []stun.Setter
		if code == 420 {
			extra = append(extra, stun.RawAttribute{Type: stun.AttrUnknownAttributes, Value: []byte{0x07, 0x77}})
		}
		res := errorResponse(td.Msg.TransactionID, code, extra...)
		if _, err := h.cli.OnRxPkt(res.Raw, IsDatagram, nil, srvAddr); err != nil {
			t.Fatalf("%d without integrity: %v", code, err)
		}
		var se *StatusError
		if len(h.done) != 1 || !errors.As(h.done[0].status, &se) || se.Code != code {
			t.Fatalf("%d without integrity not accepted: %+v", code, h.done)
		}
	}

	// The same through a real server: its 400 and 420 carry no
	// MESSAGE-INTEGRITY, and the client accepts them.
	h := shortTermPair(t)
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		return s.Respond(rdata, 400, "", token, false, src)
	}
	h.request(t, true, nil)
	h.exchange(t)
	var se *StatusError
	if len(h.done) != 1 || !errors.As(h.done[0].status, &se) || se.Code != 400 || h.done[0].res.Contains(stun.AttrMessageIntegrity) {
		t.Fatalf("server's 400: %+v", h.done)
	}
	td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	td.Add(0x0777, []byte{1, 2, 3, 4}) // unknown comprehension-required: 420
	if err := h.cli.SendMsg(nil, false, true, srvAddr, td); err != nil {
		t.Fatal(err)
	}
	h.exchange(t)
	if len(h.done) != 2 || !errors.As(h.done[1].status, &se) || se.Code != 420 || h.done[1].res.Contains(stun.AttrMessageIntegrity) {
		t.Fatalf("server's 420: %+v", h.done[1:])
	}

	// 500: integrity required.
	h = shortTermPair(t)
	td = h.request(t, true, "tok")
	h.cw.take()
	id := td.Msg.TransactionID
	plain := errorResponse(id, 500)
	if _, err := h.cli.OnRxPkt(plain.Raw, IsDatagram, nil, srvAddr); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("500 without integrity: %v, want ErrIntegrity", err)
	}
	forged := errorResponse(id, 500)
	addIntegrity(forged, []byte("wrong"))
	if _, err := h.cli.OnRxPkt(forged.Raw, IsDatagram, nil, srvAddr); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("500 with a wrong key: %v, want ErrIntegrity", err)
	}
	if len(h.done) != 0 {
		t.Fatalf("unauthentic 500 completed the request: %+v", h.done)
	}
	h.clk.Advance(100 * time.Millisecond)
	if p := h.cw.take(); len(p) != 1 {
		t.Fatalf("request stopped retransmitting after an unauthentic 500: %d sends", len(p))
	}
	signed := errorResponse(id, 500)
	addIntegrity(signed, []byte("right"))
	if _, err := h.cli.OnRxPkt(signed.Raw, IsDatagram, nil, srvAddr); err != nil {
		t.Fatal(err)
	}
	if len(h.done) != 1 || !errors.As(h.done[0].status, &se) || se.Code != 500 || h.done[0].token != "tok" {
		t.Fatalf("signed 500: %+v", h.done)
	}
	// And a server's 500 is signed, so it is accepted end to end.
	h.onReq = func(s *Session, rdata *RxData, token any, src netip.AddrPort) error {
		return s.Respond(rdata, 500, "", token, false, src)
	}
	h.request(t, true, nil)
	h.exchange(t)
	if len(h.done) != 2 || !errors.As(h.done[1].status, &se) || se.Code != 500 || !h.done[1].res.Contains(stun.AttrMessageIntegrity) {
		t.Fatalf("server's 500: %+v", h.done[1:])
	}
}

// longTermPair is a harness with a long-term client and server (one fixed
// nonce), so the client's first request is challenged with a 401.
func longTermPair(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, false)
	if err := h.cli.SetCredential(AuthLongTerm, &Credential{Username: "alice", Password: []byte("secret")}); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.SetCredential(AuthLongTerm, &Credential{Realm: "example.org", Username: "alice", Password: []byte("secret"), Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	return h
}

// docs/conformance.md, pjnath 14: the request resent after a 401 keeps the
// retransmit flag of the original — a retransmitted (UDP) request's retry
// is retransmitted on the RTO schedule counted from the retry; a reliable
// one's retry is sent once and times out after 16×RTO.
func TestConformanceAuthRetryKeepsRetransmit(t *testing.T) {
	const retryAt = 50 * time.Millisecond
	for _, c := range []struct {
		name       string
		retransmit bool
		sends      []time.Duration // after the retry, relative to it
		timeout    time.Duration   // relative to the retry
	}{
		{"retransmit", true, []time.Duration{0, 100, 300, 700, 1500, 3100, 6300}, 7900},
		{"reliable", false, []time.Duration{0}, 1600},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := longTermPair(t)
			h.request(t, c.retransmit, "tok")
			first := decode(t, h.cw.take()[0].pkt)
			h.clk.Advance(retryAt)
			// The server challenges the first request; the client retries.
			h.srv.OnRxPkt(first.Raw, IsDatagram, nil, cliAddr)
			challenge := h.sw.take()
			if len(challenge) != 1 || errorCode(t, decode(t, challenge[0].pkt)) != 401 {
				t.Fatalf("server did not challenge: %v", challenge)
			}
			h.cli.OnRxPkt(challenge[0].pkt, IsDatagram, nil, srvAddr)
			if len(h.done) != 0 {
				t.Fatalf("401 reached the user: %+v", h.done)
			}
			h.clk.Advance(20 * time.Second)
			pkts := h.cw.take()
			if len(pkts) != len(c.sends) {
				var at, want []time.Duration
				for _, p := range pkts {
					at = append(at, p.at-retryAt)
				}
				for _, d := range c.sends {
					want = append(want, d*time.Millisecond)
				}
				t.Fatalf("retried request sent at %v after the retry, want %v", at, want)
			}
			retryID := decode(t, pkts[0].pkt).TransactionID
			if retryID == first.TransactionID {
				t.Fatal("retry kept the original transaction ID")
			}
			for i, p := range pkts {
				m := decode(t, p.pkt)
				if p.at-retryAt != c.sends[i]*time.Millisecond || m.TransactionID != retryID || !m.Contains(stun.AttrMessageIntegrity) ||
					p.token != "tok" || p.dst != srvAddr {
					t.Fatalf("send %d: at %v after the retry (want %v), tsx %x, token %v, dst %v", i, p.at-retryAt, c.sends[i]*time.Millisecond, m.TransactionID, p.token, p.dst)
				}
			}
			if len(h.done) != 1 || !errors.Is(h.done[0].status, ErrTimeout) || h.done[0].at != retryAt+c.timeout*time.Millisecond {
				t.Fatalf("completions %+v, want a timeout %v ms after the retry", h.done, c.timeout)
			}
		})
	}
}

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// logKind maps a message log to its flag; 0 for other logs.
func logKind(msg string) LogFlags {
	for _, k := range []struct {
		prefix string
		flag   LogFlags
	}{
		{"tx request", LogTxReq}, {"tx response", LogTxRes}, {"tx indication", LogTxInd},
		{"rx request", LogRxReq}, {"rx response", LogRxRes}, {"rx indication", LogRxInd},
	} {
		if strings.HasPrefix(msg, k.prefix) {
			return k.flag
		}
	}
	return 0
}

// logScenario makes h.cli send and receive one message of each kind
// (with a request retransmission) and returns the kinds it logged, and
// its other logs.
func logScenario(t *testing.T, h *harness, rec *logRecorder) (LogFlags, []string) {
	t.Helper()
	rec.take()
	h.request(t, true, nil) // tx request
	h.clk.Advance(100 * time.Millisecond)
	h.exchange(t) // rx response
	ind, err := h.cli.CreateInd(stun.MethodBinding)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cli.SendMsg(nil, false, false, srvAddr, ind); err != nil { // tx indication
		t.Fatal(err)
	}
	h.cw.take()
	// The server sends h.cli a request (rx request; no OnRxRequest: a 400
	// goes back, tx response) and an indication (rx indication).
	req, _ := h.srv.CreateReq(stun.MethodBinding, MagicCookie, nil)
	h.srv.SendMsg(nil, false, false, cliAddr, req)
	sind, _ := h.srv.CreateInd(stun.MethodBinding)
	h.srv.SendMsg(nil, false, false, cliAddr, sind)
	for _, p := range h.sw.take() {
		h.cli.OnRxPkt(p.pkt, IsDatagram, nil, srvAddr)
	}
	if out := h.cw.take(); len(out) != 1 || errorCode(t, decode(t, out[0].pkt)) != 400 {
		t.Fatalf("scenario: the client did not answer the request with 400: %v", out)
	}
	h.srv.CancelReq(req, false, nil)
	var kinds LogFlags
	var other []string
	for _, m := range rec.take() {
		if k := logKind(m); k != 0 {
			kinds |= k
		} else {
			other = append(other, m)
		}
	}
	return kinds, other
}

// docs/conformance.md, pjnath 21: the flag values, the default (log all), and each
// flag gating its own kind of message log and nothing else.
func TestConformanceLogFlags(t *testing.T) {
	for _, c := range []struct {
		flag LogFlags
		want uint
	}{{LogTxReq, 1}, {LogTxRes, 2}, {LogTxInd, 4}, {LogRxReq, 8}, {LogRxRes, 16}, {LogRxInd, 32}, {LogAll, 63}} {
		if uint(c.flag) != c.want {
			t.Fatalf("log flag %d, want %d", c.flag, c.want)
		}
	}

	newLogged := func() (*harness, *logRecorder) {
		h := newHarness(t, false)
		rec := &logRecorder{}
		h.cli.cfg.Logger = slog.New(rec)
		return h, rec
	}

	// Default: every kind is logged.
	h, rec := newLogged()
	if got, _ := logScenario(t, h, rec); got != LogAll {
		t.Fatalf("default logs kinds %06b, want all (%06b)", got, LogAll)
	}
	for _, flags := range []LogFlags{0, LogTxReq, LogTxRes, LogTxInd, LogRxReq, LogRxRes, LogRxInd, LogTxReq | LogRxInd, LogAll} {
		h, rec := newLogged()
		h.cli.SetLog(flags)
		if got, _ := logScenario(t, h, rec); got != flags {
			t.Errorf("SetLog(%06b) logged kinds %06b", flags, got)
		}
	}

	// The flags gate message logs only: a dropped response is still
	// reported with every flag off.
	h, rec = newLogged()
	h.cli.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: []byte("right")})
	h.cli.SetLog(0)
	td := h.request(t, true, nil)
	forged := stun.MustBuild(stun.NewTransactionIDSetter(td.Msg.TransactionID), stun.BindingSuccess)
	addIntegrity(forged, []byte("wrong"))
	h.cli.OnRxPkt(forged.Raw, IsDatagram, nil, srvAddr)
	msgs := rec.take()
	if len(msgs) != 1 || logKind(msgs[0]) != 0 || !strings.Contains(msgs[0], "integrity") {
		t.Fatalf("with SetLog(0), logs %q; want only the integrity failure", msgs)
	}
}

// docs/conformance.md, pjnath 3: after a failed first send the TxData is freed — it
// cannot be sent again, cancelled or retransmitted, and no callback ever
// comes for it.
func TestConformanceFailedSendFreesTData(t *testing.T) {
	boom := errors.New("network down")
	h := newHarness(t, false)
	h.cw.err = func(int) error { return boom }
	td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err := h.cli.SendMsg(nil, false, true, srvAddr, td); !errors.Is(err, boom) {
		t.Fatalf("first send: %v", err)
	}
	h.cw.take()
	h.cw.err = nil
	if err := h.cli.SendMsg(nil, false, true, srvAddr, td); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("sending a freed TxData again: %v, want ErrInvalidArgument", err)
	}
	if err := h.cli.RetransmitReq(td, true); err != nil && !errors.Is(err, ErrNotRequest) {
		t.Fatalf("RetransmitReq of a freed TxData: %v", err)
	}
	if err := h.cli.CancelReq(td, true, errors.New("x")); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("CancelReq of a freed TxData: %v, want ErrNotRequest", err)
	}
	if p := h.cw.take(); len(p) != 0 {
		t.Fatalf("a freed TxData was sent %d times", len(p))
	}
	h.clk.Advance(20 * time.Second)
	if tsx, _ := h.cli.Pending(); tsx != 0 || len(h.done) != 0 || len(h.cw.take()) != 0 {
		t.Fatalf("a failed send left a transaction (%d) or called back (%+v)", tsx, h.done)
	}

	// The same for an indication.
	h.cw.err = func(int) error { return boom }
	ind, _ := h.cli.CreateInd(stun.MethodBinding)
	if err := h.cli.SendMsg(nil, false, false, srvAddr, ind); !errors.Is(err, boom) {
		t.Fatalf("indication send: %v", err)
	}
	h.cw.err = nil
	h.cw.take()
	if err := h.cli.SendMsg(nil, false, false, srvAddr, ind); !errors.Is(err, mediaport.ErrInvalidArgument) || len(h.cw.take()) != 0 {
		t.Fatalf("sending a failed indication again: %v", err)
	}
}

// docs/conformance.md, pjnath 9: a non-default ResCacheTime given to Create is
// honoured.
func TestConformanceResponseCacheTime(t *testing.T) {
	h := newHarness(t, false)
	calls := 0
	srv, err := Create(Config{Clock: h.clk, ResCacheTime: 3 * time.Second}, "server", Callbacks{
		OnSendMsg: h.sw.send,
		OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
			calls++
			return s.Respond(rdata, 0, "", token, true, src)
		},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	h.request(t, true, nil)
	req := h.cw.take()[0].pkt
	srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	first := h.sw.take()
	h.clk.Advance(3*time.Second - time.Millisecond)
	srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	if again := h.sw.take(); calls != 1 || len(again) != 1 || !bytes.Equal(again[0].pkt, first[0].pkt) {
		t.Fatalf("1 ms before ResCacheTime: %d OnRxRequest calls, %d answers", calls, len(again))
	}
	h.clk.Advance(time.Millisecond)
	if _, cached := srv.Pending(); cached != 0 {
		t.Fatalf("%d cache entries at ResCacheTime (3 s), want 0", cached)
	}
	srv.OnRxPkt(req, IsDatagram, nil, cliAddr)
	if calls != 2 {
		t.Fatalf("after ResCacheTime the request must reach OnRxRequest again (%d calls)", calls)
	}
	srv.Destroy()
}

// docs/conformance.md, pjnath 11: after Destroy every call returns an error
// matching mediaport.ErrDestroyed, and nothing more happens.
func TestConformanceCallsAfterDestroy(t *testing.T) {
	h := newHarness(t, false)
	td := h.request(t, true, nil)
	idle, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	reqMsg := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	rdata := &RxData{Msg: reqMsg, Src: srvAddr, magic: MagicCookie}
	h.cli.SetUserData("x")
	if err := h.cli.Destroy(); err != nil {
		t.Fatal(err)
	}
	h.cw.take()
	calls := map[string]func() error{
		"Destroy":       h.cli.Destroy,
		"SetUserData":   func() error { return h.cli.SetUserData(1) },
		"SetLock":       func() error { return h.cli.SetLock(&sync.Mutex{}) },
		"SetServerName": func() error { return h.cli.SetServerName("x") },
		"SetCredential": func() error {
			return h.cli.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: []byte("p")})
		},
		"CreateReq":     func() error { _, err := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil); return err },
		"CreateInd":     func() error { _, err := h.cli.CreateInd(stun.MethodBinding); return err },
		"CreateRes":     func() error { _, err := h.cli.CreateRes(rdata, 0, ""); return err },
		"SendMsg":       func() error { return h.cli.SendMsg(nil, false, true, srvAddr, idle) },
		"Respond":       func() error { return h.cli.Respond(rdata, 0, "", nil, false, srvAddr) },
		"CancelReq":     func() error { return h.cli.CancelReq(td, true, errors.New("x")) },
		"RetransmitReq": func() error { return h.cli.RetransmitReq(td, true) },
		"DestroyTData":  func() error { return h.cli.DestroyTData(idle) },
		"OnRxPkt":       func() error { _, err := h.cli.OnRxPkt(reqMsg.Raw, IsDatagram, nil, srvAddr); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("%s after Destroy: %v, want an error matching mediaport.ErrDestroyed", name, err)
		}
	}
	h.cli.SetLog(0) // no error to return; must not panic
	if h.cli.UserData() != nil {
		t.Error("UserData after Destroy is not nil")
	}
	if tsx, cached := h.cli.Pending(); tsx != 0 || cached != 0 {
		t.Errorf("Pending after Destroy: %d, %d", tsx, cached)
	}
	h.clk.Advance(20 * time.Second)
	if p := h.cw.take(); len(p) != 0 || len(h.done) != 0 {
		t.Fatalf("destroyed session sent %d packets, called back %d times", len(p), len(h.done))
	}
}

// docs/conformance.md, pjnath 19: an unknown comprehension-optional attribute is
// kept — it reaches OnRxRequest in the decoded message and the raw packet,
// with its value, and the request is answered normally.
func TestConformanceOptionalAttributeKept(t *testing.T) {
	h := newHarness(t, true)
	cred := &Credential{Username: "u", Password: []byte("p")}
	h.cli.SetCredential(AuthShortTerm, cred)
	h.srv.SetCredential(AuthShortTerm, cred)
	const optional stun.AttrType = 0x8777
	value := []byte{0xde, 0xad, 0xbe, 0xef, 0x01}
	var got []byte
	var inRaw bool
	h.srv.cb.OnRxRequest = func(s *Session, pkt []byte, rdata *RxData, token any, src netip.AddrPort) error {
		v, err := rdata.Msg.Get(optional)
		if err == nil {
			got = bytes.Clone(v)
		}
		inRaw = attrOffset(pkt, optional) >= 0
		return s.Respond(rdata, 0, "", token, false, src)
	}
	td, _ := h.cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	td.Add(optional, value)
	if err := h.cli.SendMsg(nil, false, true, srvAddr, td); err != nil {
		t.Fatal(err)
	}
	h.exchange(t)
	if !bytes.Equal(got, value) || !inRaw {
		t.Fatalf("OnRxRequest saw attribute 0x8777 = % x (in raw packet: %v), want % x", got, inRaw, value)
	}
	if len(h.done) != 1 || h.done[0].status != nil {
		t.Fatalf("request with an optional unknown attribute: %+v", h.done)
	}
}
