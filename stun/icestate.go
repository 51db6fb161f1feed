package stun

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/link"
)

// The pair state of an ICE-lite agent (RFC 8445 §2.5, §7.3 as a lite
// agent; RFC 7675 consent freshness), kept by ICELite.

// ICEStatus is what ICELite.Status reports.
type ICEStatus int

const (
	// ICEChecking: no connectivity check has succeeded yet.
	ICEChecking ICEStatus = iota
	// ICEConnected: a check succeeded and the selected pair has consent,
	// but the peer has nominated nothing yet (Selected returns the pair
	// checked last). DTLS may already flow: Chrome sends its ClientHello
	// right after its first successful check.
	ICEConnected
	// ICENominated: the peer nominated a pair (USE-CANDIDATE) and it has
	// consent; Selected returns it.
	ICENominated
	// ICEMoved: the nomination moved to another validated address;
	// Selected returns the new pair. Reported once per move, before the
	// status it leads to; the associations on a VMP[rx] that runs the
	// agent (AttachSTUN) have followed it already.
	ICEMoved
	// ICEConsentExpired: no check from the selected pair has succeeded for
	// ConsentTimeout (RFC 7675 §5.1): stop sending to it. A later
	// successful check from it restores consent (the peer proves again it
	// wants the traffic) and the status it had.
	ICEConsentExpired
	// ICEClosed: Close was called (final); the event is signalled
	// permanently.
	ICEClosed
)

var iceStatusNames = [...]string{"Checking", "Connected", "Nominated", "Moved", "ConsentExpired", "Closed"}

func (s ICEStatus) String() string {
	if s >= 0 && int(s) < len(iceStatusNames) {
		return iceStatusNames[s]
	}
	return fmt.Sprintf("ICEStatus(%d)", int(s))
}

// ICEPair is a candidate pair of an ICE-lite agent as the agent sees it:
// its remote side is the source address of authenticated checks (a lite
// agent has one host candidate per port and learns the peer's candidates,
// peer-reflexive ones included, from its checks).
type ICEPair struct {
	// Remote is the source of the checks.
	Remote netip.AddrPort
	// Nominated: the peer nominated this pair (USE-CANDIDATE); it is the
	// selected pair.
	Nominated bool
	// Consent: a check from Remote succeeded within ConsentTimeout.
	Consent bool
	// LastCheck is when the last successful check arrived (module clock).
	LastCheck time.Time
	// Checks counts the successful checks from Remote.
	Checks uint64
	// Ufrag is the local ufrag of the credential set its checks were
	// answered with (ICELite.AddPeer); empty for LocalUfrag.
	Ufrag string
}

// DefaultConsentTimeout is how long consent lasts after a successful check
// (RFC 7675 §5.1: 30 s).
const DefaultConsentTimeout = 30 * time.Second

// maxPairs bounds the pairs an agent remembers per credential set (its
// own and each of AddPeer): an authenticated peer checking from more
// addresses evicts the pair checked least recently (never the selected
// pair).
const maxPairs = 32

// icePair is a pair under ICELite.mu.
type icePair struct {
	remote  netip.AddrPort
	last    time.Time
	checks  uint64
	expired bool
	ufrag   string // the credential set ("": LocalUfrag)
	nom     bool   // a check of an AddPeer set nominated it
}

// iceState is the pair state of an ICELite.
type iceState struct {
	clk     mediaport.Clock
	timeout time.Duration
	ev      event.Source

	mu        sync.Mutex
	pairs     map[netip.AddrPort]*icePair
	nominated *icePair
	latest    *icePair // the pair checked last
	moved     bool     // ICEMoved to report
	closed    bool
	timer     mediaport.Timer // the consent sweep, while a pair has consent
	followers []*follower
	peers     int // credential sets added (AddPeer)

	// permit is the remote addresses with consent, copied on change, so
	// that Permits (once per DTLS datagram) takes no lock.
	permit atomic.Pointer[[]netip.AddrPort]
}

type follower struct{ f link.Follower }

func (st *iceState) init(clk mediaport.Clock, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultConsentTimeout
	}
	st.clk, st.timeout = clk, timeout
	st.pairs = map[netip.AddrPort]*icePair{}
	st.ev.Init()
}

// selectedLocked is the nominated pair, else the one checked last.
func (st *iceState) selectedLocked() *icePair {
	if st.nominated != nil {
		return st.nominated
	}
	return st.latest
}

// levelLocked is the status without the one-shot ICEMoved.
func (st *iceState) levelLocked() ICEStatus {
	sel := st.selectedLocked()
	switch {
	case st.closed:
		return ICEClosed
	case sel == nil:
		return ICEChecking
	case sel.expired:
		return ICEConsentExpired
	case st.nominated != nil:
		return ICENominated
	}
	return ICEConnected
}

// checked records a successful check from src (use: it carried
// USE-CANDIDATE) and returns the address the selected pair moved to, if
// the nomination changed.
//
// A check of an AddPeer set (ufrag not empty) gives its source a pair with
// consent and nothing more: it never selects or moves the agent's pair.
func (st *iceState) checked(src netip.AddrPort, use bool, ufrag string) (moveTo netip.AddrPort, fs []*follower) {
	src = unmapped(src)
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return moveTo, nil
	}
	before := st.levelLocked()
	now := st.clk.Now()
	p := st.pairs[src]
	permitChanged := false
	if p == nil {
		st.evictLocked()
		p = &icePair{remote: src}
		st.pairs[src] = p
		permitChanged = true
	}
	if p.expired {
		p.expired = false
		permitChanged = true
	}
	p.last = now
	p.checks++
	if p.ufrag != ufrag {
		// Another peer's set now checks from src (a NAT binding reused):
		// the pair is that peer's.
		if p == st.nominated || p == st.latest {
			p = &icePair{remote: src, last: now, checks: 1}
			st.pairs[src] = p
			if st.nominated != nil && st.nominated.remote == src {
				st.nominated = nil
			}
			if st.latest != nil && st.latest.remote == src {
				st.latest = nil
			}
		}
		p.ufrag, p.nom = ufrag, false
	}
	if ufrag != "" {
		p.nom = p.nom || use
		if st.timer == nil {
			st.timer = st.clk.AfterFunc(st.timeout, st.sweep)
		}
		if permitChanged {
			st.publishLocked()
		}
		signal := st.levelLocked() != before
		st.mu.Unlock()
		if signal {
			st.ev.Signal()
		}
		return moveTo, nil
	}
	st.latest = p
	if use && st.nominated != p {
		if st.nominated != nil {
			st.moved = true
		}
		st.nominated = p
		moveTo = p.remote
		fs = st.followers
	}
	if st.timer == nil {
		st.timer = st.clk.AfterFunc(st.timeout, st.sweep)
	}
	if permitChanged {
		st.publishLocked()
	}
	signal := st.levelLocked() != before || moveTo.IsValid()
	st.mu.Unlock()
	if signal {
		st.ev.Signal()
	}
	return moveTo, fs
}

// evictLocked makes room for a new pair: it drops the pair checked least
// recently, never the selected one.
func (st *iceState) evictLocked() {
	if len(st.pairs) < maxPairs*(1+st.peers) {
		return
	}
	sel := st.selectedLocked()
	var old *icePair
	for _, p := range st.pairs {
		if p != sel && p != st.nominated && (old == nil || p.last.Before(old.last)) {
			old = p
		}
	}
	if old != nil {
		delete(st.pairs, old.remote)
	}
}

// setPeers sets the number of AddPeer sets, which scales the pairs kept.
func (st *iceState) setPeers(n int) {
	st.mu.Lock()
	st.peers = n
	st.mu.Unlock()
}

// forget drops the pairs of the credential set ufrag (RemovePeer): their
// consent ends at once.
func (st *iceState) forget(ufrag string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	changed := false
	for a, p := range st.pairs {
		if p.ufrag == ufrag {
			delete(st.pairs, a)
			changed = true
		}
	}
	if changed && !st.closed {
		st.publishLocked()
	}
}

// sweep runs on the clock: pairs without a check for the timeout lose
// consent; it runs again when the next pair would.
func (st *iceState) sweep() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	before := st.levelLocked()
	now := st.clk.Now()
	var next time.Time
	changed := false
	for _, p := range st.pairs {
		if p.expired {
			continue
		}
		deadline := p.last.Add(st.timeout)
		if !now.Before(deadline) {
			p.expired = true
			changed = true
			continue
		}
		if next.IsZero() || deadline.Before(next) {
			next = deadline
		}
	}
	st.timer = nil
	if !next.IsZero() {
		st.timer = st.clk.AfterFunc(next.Sub(now), st.sweep)
	}
	if changed {
		st.publishLocked()
	}
	signal := st.levelLocked() != before
	st.mu.Unlock()
	if signal {
		st.ev.Signal()
	}
}

// publishLocked copies the addresses with consent for Permits.
func (st *iceState) publishLocked() {
	list := make([]netip.AddrPort, 0, len(st.pairs))
	for _, p := range st.pairs {
		if !p.expired {
			list = append(list, p.remote)
		}
	}
	st.permit.Store(&list)
}

// permits reports whether src has consent.
func (st *iceState) permits(src netip.AddrPort) bool {
	l := st.permit.Load()
	if l == nil {
		return false
	}
	src = unmapped(src)
	for _, a := range *l {
		if a == src {
			return true
		}
	}
	return false
}

func (st *iceState) close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.followers = nil
	st.permit.Store(nil)
	st.mu.Unlock()
	st.ev.SignalPermanently()
	st.ev.Detach() // Close is final, as an endpoint's Destroy
}

func (st *iceState) addFollower(f link.Follower) func() {
	fw := &follower{f}
	st.mu.Lock()
	if !st.closed {
		// Copied on write: checked hands the slice out without the lock.
		st.followers = append(slices.Clip(st.followers), fw)
	}
	st.mu.Unlock()
	return func() {
		st.mu.Lock()
		if i := slices.Index(st.followers, fw); i >= 0 {
			st.followers = slices.Delete(slices.Clone(st.followers), i, i+1)
		}
		st.mu.Unlock()
	}
}

func (p *icePair) public(nominated bool) ICEPair {
	return ICEPair{Remote: p.remote, Nominated: nominated || p.nom, Consent: !p.expired, LastCheck: p.last, Checks: p.checks, Ufrag: p.ufrag}
}

func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// live reports whether l was made by NewICELite.
func (l *ICELite) live() bool { return l != nil && l.sess != nil }

// Status returns the agent's status: ICEClosed once closed; else ICEMoved
// once after each move of the nomination; else ICEChecking before any
// check succeeded, ICEConsentExpired while the selected pair (the
// nominated one, else the one checked last) has no consent, ICENominated
// once a pair is nominated, ICEConnected before. The event is signalled
// after every change of this status and every nomination.
func (l *ICELite) Status() (ICEStatus, error) {
	if !l.live() {
		return 0, mediaport.ErrNilHandle
	}
	st := &l.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.moved && !st.closed {
		st.moved = false
		st.ev.Signal() // the status it leads to is news too
		return ICEMoved, nil
	}
	return st.levelLocked(), nil
}

// Event returns the agent's event, signalled when Status changes and
// permanently once closed.
func (l *ICELite) Event() (*event.Event, error) {
	if !l.live() {
		return nil, mediaport.ErrNilHandle
	}
	return l.state.ev.Event(), nil
}

// Selected returns the selected pair: the nominated one, else the one
// whose check succeeded last; ok is false before any check succeeded or
// after Close. Send media to its Remote while its Consent holds.
func (l *ICELite) Selected() (p ICEPair, ok bool, err error) {
	if !l.live() {
		return p, false, mediaport.ErrNilHandle
	}
	st := &l.state
	st.mu.Lock()
	defer st.mu.Unlock()
	sel := st.selectedLocked()
	if sel == nil || st.closed {
		return p, false, nil
	}
	return sel.public(sel == st.nominated), true, nil
}

// Pairs returns the pairs whose checks succeeded (at most 32, the selected
// one always among them), the nominated one first, then by remote
// address.
func (l *ICELite) Pairs() ([]ICEPair, error) {
	if !l.live() {
		return nil, mediaport.ErrNilHandle
	}
	st := &l.state
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]ICEPair, 0, len(st.pairs))
	for _, p := range st.pairs {
		out = append(out, p.public(p == st.nominated))
	}
	slices.SortFunc(out, func(a, b ICEPair) int {
		if a.Nominated != b.Nominated {
			if a.Nominated {
				return -1
			}
			return 1
		}
		return a.Remote.Compare(b.Remote)
	})
	return out, nil
}

// HasConsent reports whether remote has consent: a connectivity check from
// it succeeded within the consent timeout, and the agent is open. A
// VMP[rx] running the agent hands DTLS on only from such an address.
func (l *ICELite) HasConsent(remote netip.AddrPort) bool {
	return l.live() && l.state.permits(remote)
}

// linkICE is unexported so that the handle a Session embeds is no part of
// its API.
type linkICE = link.ICEHandle

// iceControl is the agent as a VMP[rx] sees it (link.ICEControl).
type iceControl struct{ st *iceState }

func (c iceControl) Permits(src netip.AddrPort) bool             { return c.st.permits(src) }
func (c iceControl) AddFollower(f link.Follower) (remove func()) { return c.st.addFollower(f) }
