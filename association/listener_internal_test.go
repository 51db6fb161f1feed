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
)

// fakePair is a Listener's DTLS[rx] and DTLS[tx] for tests of its
// admission: it records what the sessions send, per destination.
type fakePair struct {
	mod  *core.Module
	mu   sync.Mutex
	sent map[netip.AddrPort][][]byte
}

func (f *fakePair) Check() error                         { return nil }
func (f *fakePair) SetRecordSink(link.Sink) error        { return nil }
func (f *fakePair) PushData([]byte, netip.AddrPort) bool { return true }
func (f *fakePair) HandshakeDone()                       {}
func (f *fakePair) Fail(error)                           {}
func (f *fakePair) SetOnStop(func())                     {}
func (f *fakePair) Module() *core.Module                 { return f.mod }
func (f *fakePair) Sink() link.Sink                      { return nil }
func (f *fakePair) SetWriter(link.Writer) error          { return nil }
func (f *fakePair) SendRaw([]byte) error                 { return nil }
func (f *fakePair) Destination() (netip.AddrPort, error) { return netip.AddrPort{}, nil }
func (f *fakePair) SetDestination(netip.AddrPort) error  { return nil }
func (f *fakePair) CapacityChanged()                     {}
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

// TestListenerAdmission: on the module's clock, a full handshaking table
// refuses a new source until its oldest unverified session is older than
// VerifyWindow, then evicts it; a session whose source returned its cookie
// is never evicted; a ClientHello with a cookie from an unknown source,
// a look-alike and a non-ClientHello create nothing. The refusal path
// does not allocate.
func TestListenerAdmission(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := core.NewModule(nil, coreFake{clk}, core.Limits{})
	defer mod.Close()
	if err := mod.Creds.Add(core.Credential{Tag: 1, Type: core.CredPSK, PSK: core.PSK{Identity: []byte("id"), Key: []byte("key")}}); err != nil {
		t.Fatal(err)
	}
	f := &fakePair{mod: mod, sent: map[netip.AddrPort][][]byte{}}
	l := &Listener{cfg: Config{Role: Server, Tags: []mediaport.CredTag{1}, MTU: 1200, HandshakeTimeout: time.Hour},
		mod: mod, rxc: f, txc: f, maxS: 3, maxHS: 2, window: 2 * time.Second,
		sessions: map[netip.AddrPort]*Session{}, ends: make(chan *Session, 3)}
	l.src.Init()
	l.wg.Add(1)
	go l.closer()
	defer l.Close()
	src := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+i))
	}
	hello := helloRecord(t, nil, 0)
	send := func(from netip.AddrPort, b []byte) {
		p := mod.Packets.Get()
		p.N = copy(p.Buf, b)
		p.Src = from
		if !l.deliver(p) {
			mod.Packets.Put(p)
		}
	}
	send(src(1), hello)
	send(src(2), hello)
	if st := l.Stats(); st.Created != 2 || st.Handshaking != 2 {
		t.Fatalf("%+v", st)
	}
	// Source 1 returns its cookie (pion's HelloVerifyRequest, sent to it).
	var ck []byte
	testutil.Eventually(t, 30*time.Second, func() bool { ck = f.cookieSentTo(src(1)); return ck != nil }, "no HelloVerifyRequest")
	send(src(1), helloRecord(t, ck, 1))
	if !l.sessions[src(1)].verified.Load() {
		t.Fatal("the returned cookie did not verify source 1")
	}
	// Full, and source 2 is young: refused, without an allocation.
	send(src(3), hello)
	if st := l.Stats(); st.Refused != 1 || st.Created != 2 {
		t.Fatalf("young: %+v", st)
	}
	refusals := l.Stats().Refused
	testutil.NoAllocs(t, "refusing a ClientHello", func() { send(src(4), hello) })
	if l.Stats().Refused <= refusals {
		t.Fatal("not refused")
	}
	// Past the window, the unverified session 2 goes, never the verified 1.
	clk.Advance(2 * time.Second)
	send(src(3), hello)
	st := l.Stats()
	if st.Evicted != 1 || st.Created != 3 || l.sessions[src(2)] != nil || l.sessions[src(1)] == nil || l.sessions[src(3)] == nil {
		t.Fatalf("after the window: %+v", st)
	}
	clk.Advance(2 * time.Second)
	send(src(5), hello) // evicts 3, the only unverified one
	if st := l.Stats(); st.Evicted != 2 || l.sessions[src(1)] == nil || l.sessions[src(5)] == nil {
		t.Fatalf("second eviction: %+v", st)
	}
	// What creates nothing.
	created := l.Stats().Created
	send(src(6), helloRecord(t, ck, 1)) // a cookie for no session
	look := make([]byte, 34)
	look[0], look[1], look[2], look[12], look[13] = 22, 0xfe, 0xfd, 21, 1
	send(src(7), look)
	send(src(8), []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0})
	send(src(9), []byte{22, 0xfe})
	if st := l.Stats(); st.Created != created || st.Foreign != 3 || st.Malformed != 1 {
		t.Fatalf("junk: %+v", st)
	}
}
