package association

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
)

// fakePair is a Listener's DTLS[rx] and DTLS[tx] for tests of its
// admission: it records what the sessions send, per destination.
type fakePair struct {
	mod  *core.Module
	mu   sync.Mutex
	sent map[netip.AddrPort][][]byte
}

func (f *fakePair) Check() error                                   { return nil }
func (f *fakePair) SetRecordSink(link.Sink) error                  { return nil }
func (f *fakePair) PushData([]byte, netip.AddrPort, udp.Meta) bool { return true }
func (f *fakePair) HandshakeDone()                                 {}
func (f *fakePair) Fail(error)                                     {}
func (f *fakePair) SetOnStop(func())                               {}
func (f *fakePair) Module() *core.Module                           { return f.mod }
func (f *fakePair) Sink() link.Sink                                { return nil }
func (f *fakePair) SetWriter(link.Writer) error                    { return nil }
func (f *fakePair) SendRaw([]byte) error                           { return nil }
func (f *fakePair) Destination() (netip.AddrPort, error)           { return netip.AddrPort{}, nil }
func (f *fakePair) SetDestination(netip.AddrPort) error            { return nil }
func (f *fakePair) CapacityChanged()                               {}
func (f *fakePair) LocalAddr() (netip.AddrPort, error) {
	return netip.MustParseAddrPort("127.0.0.1:1"), nil
}
func (f *fakePair) SendRawTo(p []byte, dst netip.AddrPort) error {
	f.mu.Lock()
	f.sent[dst] = append(f.sent[dst], bytes.Clone(p))
	f.mu.Unlock()
	return nil
}

// cookieSentTo returns the cookie of the HelloVerifyRequest sent to dst.
func (f *fakePair) cookieSentTo(dst netip.AddrPort) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.sent[dst] {
		if c, ok := helloVerifyCookie(p); ok {
			return c
		}
	}
	return nil
}

// admissionHarness is a Listener on a fake pair and clock.
type admissionHarness struct {
	clk *clock.Fake
	mod *core.Module
	f   *fakePair
	l   *Listener
}

func newAdmission(t *testing.T, maxS, maxHS, maxUP int) *admissionHarness {
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := core.NewModule(nil, coreFake{clk}, core.Limits{})
	t.Cleanup(func() { mod.Close() })
	if err := mod.Creds.Add(core.Credential{Tag: 1, Type: core.CredPSK, PSK: core.PSK{Identity: []byte("id"), Key: []byte("key")}}); err != nil {
		t.Fatal(err)
	}
	f := &fakePair{mod: mod, sent: map[netip.AddrPort][][]byte{}}
	l := &Listener{cfg: Config{Role: Server, Tags: []mediaport.CredTag{1}, MTU: 1200, HandshakeTimeout: time.Hour},
		mod: mod, rxc: f, txc: f, maxS: maxS, maxHS: maxHS, maxUP: maxUP, window: 2 * time.Second, grace: 250 * time.Millisecond,
		sessions: map[netip.AddrPort]*Session{}, ends: make(chan *Session, maxS)}
	l.src.Init()
	l.wg.Add(1)
	go l.closer()
	t.Cleanup(func() { l.Close() })
	return &admissionHarness{clk: clk, mod: mod, f: f, l: l}
}

func admSrc(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+i))
}

func (h *admissionHarness) send(from netip.AddrPort, b []byte) {
	p := h.mod.Packets.Get()
	p.N = copy(p.Buf, b)
	p.Src = from
	if !h.l.deliver(p) {
		h.mod.Packets.Put(p)
	}
}

// prove makes src return the cookie of the HelloVerifyRequest its session
// was sent.
func (h *admissionHarness) prove(t *testing.T, src netip.AddrPort) {
	t.Helper()
	var ck []byte
	testutil.Eventually(t, 30*time.Second, func() bool { ck = h.f.cookieSentTo(src); return ck != nil }, "no HelloVerifyRequest")
	h.send(src, helloRecord(t, ck, 1))
}

// TestListenerAdmission: on the module's clock, a full table of unproved
// sessions refuses a new source while its oldest is younger than
// VerifyGrace, then evicts the oldest first; a session whose source
// returned its cookie is proved and never evicted, however many
// ClientHellos follow; a ClientHello with a wrong cookie proves nothing;
// a ClientHello with a cookie from an unknown source, a look-alike and a
// non-ClientHello create nothing. The refusal path does not allocate.
func TestListenerAdmission(t *testing.T) {
	h := newAdmission(t, 8, 2, 2)
	l, send := h.l, h.send
	hello := helloRecord(t, nil, 0)
	send(admSrc(1), hello)
	send(admSrc(2), hello)
	if st := l.Stats(); st.Created != 2 || st.Handshaking != 2 || st.Unproved != 2 {
		t.Fatalf("%+v", st)
	}
	// A wrong cookie proves nothing; source 1's own does.
	send(admSrc(1), helloRecord(t, []byte("not the cookie, twenty"), 1))
	if l.sessions[admSrc(1)].verified.Load() {
		t.Fatal("a wrong cookie proved source 1")
	}
	h.prove(t, admSrc(1))
	if !l.sessions[admSrc(1)].verified.Load() {
		t.Fatal("the returned cookie did not prove source 1")
	}
	if st := l.Stats(); st.Proved != 1 || st.Unproved != 1 || st.Handshaking != 2 {
		t.Fatalf("proved: %+v", st)
	}
	// Two unproved slots: 3 fills them; 4 is refused while 2 is in its
	// grace, without an allocation.
	send(admSrc(3), hello)
	send(admSrc(4), hello)
	if st := l.Stats(); st.Refused != 1 || st.Created != 3 {
		t.Fatalf("young: %+v", st)
	}
	refusals := l.Stats().Refused
	testutil.NoAllocs(t, "refusing a ClientHello", func() { send(admSrc(4), hello) })
	if l.Stats().Refused <= refusals {
		t.Fatal("not refused")
	}
	// Past the grace, the oldest unproved goes (2, then 3), never 1.
	h.clk.Advance(250 * time.Millisecond)
	send(admSrc(5), hello)
	send(admSrc(6), hello)
	st := l.Stats()
	if st.Evicted != 2 || st.Created != 5 || l.sessions[admSrc(2)] != nil || l.sessions[admSrc(3)] != nil ||
		l.sessions[admSrc(1)] == nil || l.sessions[admSrc(5)] == nil || l.sessions[admSrc(6)] == nil {
		t.Fatalf("after the grace: %+v", st)
	}
	// A flood of new sources past every grace: 1 stays.
	for i := range 50 {
		h.clk.Advance(250 * time.Millisecond)
		send(admSrc(100+i), hello)
	}
	if l.sessions[admSrc(1)] == nil || l.Stats().Unproved != 2 {
		t.Fatalf("a proved handshake was evicted: %+v", l.Stats())
	}
	// MaxHandshaking proved at once: a third proof waits (refused, its
	// client retransmits).
	h.prove(t, admSrc(149))
	h.prove(t, admSrc(148))
	if st := l.Stats(); st.Proved != 2 || l.sessions[admSrc(148)].verified.Load() {
		t.Fatalf("proofs beyond MaxHandshaking: %+v", st)
	}
	// What creates nothing.
	created := l.Stats().Created
	foreign := l.Stats().Foreign
	send(admSrc(6000), helloRecord(t, []byte("cookie"), 1)) // a cookie for no session
	look := make([]byte, 34)
	look[0], look[1], look[2], look[12], look[13] = 22, 0xfe, 0xfd, 21, 1
	send(admSrc(7000), look)
	send(admSrc(8000), []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0})
	send(admSrc(9000), []byte{22, 0xfe})
	if st := l.Stats(); st.Created != created || st.Foreign != foreign+3 || st.Malformed != 1 {
		t.Fatalf("junk: %+v", st)
	}
}

// TestListenerUnprovedExpire: on the module's clock, unproved sessions
// end VerifyWindow after their ClientHello, each at its time, while a
// proved one stays; MaxSessions counts them all.
func TestListenerUnprovedExpire(t *testing.T) {
	h := newAdmission(t, 3, 2, 3)
	l := h.l
	hello := helloRecord(t, nil, 0)
	h.send(admSrc(1), hello)
	h.clk.Advance(100 * time.Millisecond)
	h.send(admSrc(2), hello)
	h.send(admSrc(3), hello)
	h.prove(t, admSrc(3))
	h.send(admSrc(4), hello) // MaxSessions, 1 and 2 in their grace
	if st := l.Stats(); st.Sessions != 3 || st.Refused != 1 {
		t.Fatalf("full: %+v", st)
	}
	h.clk.Advance(1900 * time.Millisecond)
	if st := l.Stats(); st.Expired != 1 || l.sessions[admSrc(1)] != nil || l.sessions[admSrc(2)] == nil {
		t.Fatalf("at 2 s: %+v", st)
	}
	h.clk.Advance(100 * time.Millisecond)
	if st := l.Stats(); st.Expired != 2 || st.Sessions != 1 || st.Unproved != 0 || l.sessions[admSrc(3)] == nil {
		t.Fatalf("at 2.1 s: %+v", st)
	}
	armed := func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.expiry != nil }
	if armed() {
		t.Fatal("expiry armed with no unproved session")
	}
	h.send(admSrc(5), hello)
	if !armed() {
		t.Fatal("no expiry armed for a new unproved session")
	}
	l.Close()
	if armed() {
		t.Fatal("Close left the expiry armed")
	}
}
