package stun

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/testutil"
)

// spoofed returns the i-th of many source addresses.
func spoofed(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
}

// requestWithID is a Binding request (header only) with transaction ID i.
func requestWithID(i uint64) []byte {
	b := make([]byte, headerSize)
	binary.BigEndian.PutUint16(b[0:2], 0x0001)
	binary.BigEndian.PutUint32(b[4:8], MagicCookie)
	binary.BigEndian.PutUint64(b[12:20], i)
	return b
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestResponseCacheBounded: 200k requests with distinct transaction IDs,
// each answered with a cached response, leave at most MaxCachedResponses
// entries (the rest evicted, oldest first, and counted) and a heap that
// grew by a few MiB at most; the newest entries still answer
// retransmissions, the evicted ones reach OnRxRequest again, and every
// entry expires after ResCacheTime.
func TestResponseCacheBounded(t *testing.T) {
	const flood = 200_000
	clk := clock.NewFake(epoch)
	calls := 0
	var answers int
	srv, err := Create(Config{Clock: clk}, "server", Callbacks{
		OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { answers++; return nil },
		OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
			calls++
			res, err := s.CreateRes(rdata, 0, "")
			if err != nil {
				return err
			}
			res.AddXORMappedAddress(src)
			return s.SendMsg(token, true, false, src, res)
		},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Destroy()
	before := heapInUse()
	for i := range flood {
		if _, err := srv.OnRxPkt(requestWithID(uint64(i)), IsDatagram, nil, spoofed(i)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			clk.Advance(time.Millisecond) // 200 ms in all: nothing expires
		}
	}
	grown := int64(heapInUse()) - int64(before)
	_, cached := srv.Pending()
	st, _ := srv.Stats()
	t.Logf("%d requests: %d cached, %d evicted, heap grew %.1f MiB", flood, cached, st.CacheEvictions, float64(grown)/(1<<20))
	if cached != defaultCacheMax || st.CacheEvictions != flood-defaultCacheMax {
		t.Fatalf("%d cached, %d evicted; want %d and %d", cached, st.CacheEvictions, defaultCacheMax, flood-defaultCacheMax)
	}
	if grown > 16<<20 {
		t.Fatalf("heap grew by %d bytes for a cache of %d entries", grown, cached)
	}
	// The newest request, retransmitted: answered from the cache.
	calls, answers = 0, 0
	srv.OnRxPkt(requestWithID(flood-1), IsDatagram, nil, spoofed(0))
	if calls != 0 || answers != 1 {
		t.Fatalf("retransmission of the newest: %d OnRxRequest, %d answers", calls, answers)
	}
	// The oldest was evicted: it reaches OnRxRequest again.
	srv.OnRxPkt(requestWithID(0), IsDatagram, nil, spoofed(0))
	if calls != 1 {
		t.Fatalf("retransmission of an evicted one: %d OnRxRequest", calls)
	}
	clk.Advance(defaultCacheTime)
	if _, cached := srv.Pending(); cached != 0 {
		t.Fatalf("%d entries left after the cache time", cached)
	}
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers left with an empty cache", n)
	}
}

// TestResponseCacheLimit: a small MaxCachedResponses is honoured, a
// response cached again for the same request replaces its entry, and
// entries expire in order, each at its own ResCacheTime.
func TestResponseCacheLimit(t *testing.T) {
	clk := clock.NewFake(epoch)
	srv, _ := Create(Config{Clock: clk, MaxCachedResponses: 3, ResCacheTime: 10 * time.Second}, "server", Callbacks{
		OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { return nil },
		OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
			return s.Respond(rdata, 0, "", token, true, src)
		},
	}, false)
	defer srv.Destroy()
	for i := range 3 {
		srv.OnRxPkt(requestWithID(uint64(i)), IsDatagram, nil, cliAddr)
		clk.Advance(time.Second)
	}
	// Now 3 s; entries expire at 10, 11, 12 s. A fourth evicts the first.
	srv.OnRxPkt(requestWithID(3), IsDatagram, nil, cliAddr)
	if _, n := srv.Pending(); n != 3 {
		t.Fatalf("%d cached, want 3", n)
	}
	if st, _ := srv.Stats(); st.CacheEvictions != 1 {
		t.Fatalf("%d evictions, want 1", st.CacheEvictions)
	}
	clk.Advance(8 * time.Second) // 11 s: entry 1 (due at 11 s) expires, 2 and 3 stay
	if _, n := srv.Pending(); n != 2 {
		t.Fatalf("at 11 s: %d cached, want 2", n)
	}
	clk.Advance(2 * time.Second) // 13 s: 2 (12 s) gone, 3 (13 s) gone
	if _, n := srv.Pending(); n != 0 {
		t.Fatalf("at 13 s: %d cached, want 0", n)
	}
}

// errorAnswers counts what a server sends back to unauthenticated
// requests: how many answers, and how many larger than their request.
type errorAnswers struct {
	answers, larger int
	maxRatio        float64
	reqLen          int
}

func (e *errorAnswers) send(_ *Session, _ any, pkt []byte, _ netip.AddrPort) error {
	e.answers++
	if len(pkt) > e.reqLen {
		e.larger++
	}
	if r := float64(len(pkt)) / float64(e.reqLen); r > e.maxRatio {
		e.maxRatio = r
	}
	return nil
}

// unauthenticated are requests a server answers with an error without
// authenticating their sender: malformed (400), without
// MESSAGE-INTEGRITY (short-term: 400; long-term: 401 with REALM and
// NONCE), with a wrong key (401), with an unknown comprehension-required
// attribute (420).
func unauthenticated() map[string][]byte {
	overrun := requestWithID(1)
	overrun = append(overrun, 0x00, 0x06, 0x00, 0x40, 'u', 's', 'e', 'r')
	binary.BigEndian.PutUint16(overrun[2:4], 8)
	return map[string][]byte{
		"header only":       requestWithID(2),
		"attribute overrun": overrun,
		"bad fingerprint": func() []byte {
			m := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
			m.Raw[len(m.Raw)-1] ^= 1
			return m.Raw
		}(),
		"wrong key": stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("srvu:cliu"),
			stun.NewShortTermIntegrity("not-the-password"), stun.Fingerprint).Raw,
		"unknown attribute": stun.MustBuild(stun.TransactionID, stun.BindingRequest,
			stun.RawAttribute{Type: 0x7777, Value: []byte{1, 2, 3, 4}}).Raw,
	}
}

// TestNoAmplification: the error answers a module's sessions send to
// unauthenticated or malformed requests are never larger than the request
// beyond the module's budget (AnswerBurst at once, AnswerRate a second,
// shared by every session made with ModuleConfig); the rest are
// suppressed and counted.
func TestNoAmplification(t *testing.T) {
	clk := clock.NewFake(epoch)
	mod, err := mediaport.OpenModule(mediaport.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	for name, req := range unauthenticated() {
		for _, auth := range []AuthType{AuthShortTerm, AuthLongTerm} {
			ea := &errorAnswers{reqLen: len(req)}
			sessions := make([]*Session, 2) // two sessions on the module share its budget
			for i := range sessions {
				s, err := Create(ModuleConfig(mod), "server", Callbacks{OnSendMsg: ea.send,
					OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
						t.Fatalf("%s: OnRxRequest called", name)
						return nil
					}}, true)
				if err != nil {
					t.Fatal(err)
				}
				s.SetCredential(auth, &Credential{Username: "srvu:cliu", Password: []byte("server-password-0123456789"), Realm: "example.org"})
				defer s.Destroy()
				sessions[i] = s
			}
			clk.Advance(time.Hour) // a full bucket
			const flood = 5000
			for i := range flood {
				sessions[i%2].OnRxPkt(req, IsDatagram, nil, spoofed(i))
			}
			var suppressed uint64
			for _, s := range sessions {
				st, _ := s.Stats()
				suppressed += st.Suppressed
			}
			t.Logf("%s, %v: %d-byte request, %d answers (%d larger, up to %.1f×), %d suppressed",
				name, auth, len(req), ea.answers, ea.larger, ea.maxRatio, suppressed)
			if ea.larger > core.AnswerBurst {
				t.Errorf("%s, %v: %d answers larger than the request at once, budget %d", name, auth, ea.larger, core.AnswerBurst)
			}
			if ea.answers+int(suppressed) != flood || (ea.larger == core.AnswerBurst) != (suppressed == flood-core.AnswerBurst) {
				t.Errorf("%s, %v: %d answers + %d suppressed of %d", name, auth, ea.answers, suppressed, flood)
			}
			// A second later the budget allows AnswerRate more.
			clk.Advance(time.Second)
			before := ea.larger
			for i := range flood {
				sessions[i%2].OnRxPkt(req, IsDatagram, nil, spoofed(i))
			}
			if n := ea.larger - before; n > core.AnswerRate {
				t.Errorf("%s, %v: %d larger answers in the next second, rate %d", name, auth, n, core.AnswerRate)
			}
		}
	}
}

// TestMalformedNoAllocs: refusing or answering a malformed or
// unauthenticated request allocates nothing, whether the answer is sent
// or suppressed.
func TestMalformedNoAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	bad := unauthenticated()
	bad["short"] = []byte{0, 1, 0, 0, 0x21}
	bad["not STUN"] = append([]byte{0xc0}, requestWithID(3)[1:]...)
	bad["length mismatch"] = append(requestWithID(4), 0, 0, 0, 0)
	bad["indication overrun"] = func() []byte {
		b := unauthenticated()["attribute overrun"]
		b[1] = 0x11
		return b
	}()
	clk := clock.NewFake(epoch)
	s, _ := Create(Config{Clock: clk}, "server", Callbacks{
		OnSendMsg:   func(*Session, any, []byte, netip.AddrPort) error { return nil },
		OnRxRequest: func(*Session, []byte, *RxData, any, netip.AddrPort) error { return errors.New("not reached") },
	}, true)
	defer s.Destroy()
	s.SetCredential(AuthShortTerm, &Credential{Username: "srvu:cliu", Password: []byte("server-password-0123456789")})
	for name, pkt := range bad {
		for _, spent := range []bool{false, true} {
			if !spent {
				clk.Advance(time.Hour) // the bucket refilled: answers are sent
			}
			s.OnRxPkt(pkt, IsDatagram, nil, cliAddr) // warm the pools
			allocs := testing.AllocsPerRun(200, func() {
				s.OnRxPkt(pkt, IsDatagram, nil, cliAddr)
			})
			if allocs != 0 {
				t.Errorf("%s (budget spent %v): %.1f allocations per packet", name, spent, allocs)
			}
		}
	}
}
