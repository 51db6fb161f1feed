package association

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
)

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// Config is each session's configuration; Role must be Server or
	// zero (Server is implied).
	Config
	// MaxSessions bounds the sessions at once, handshaking or established
	// (tinydtls's peer count; default 64).
	MaxSessions int
	// MaxHandshaking bounds, among them, the proved sessions still
	// handshaking: their source returned the cookie of the
	// HelloVerifyRequest (default 16).
	MaxHandshaking int
	// MaxUnproved bounds, among them, the unproved sessions: created by a
	// ClientHello whose source has not yet returned the cookie (default
	// 16). See Listener for how they are evicted and expire.
	MaxUnproved int
	// VerifyWindow is how long an unproved session lives: its source must
	// return the cookie within it, else the session ends (default 2 s,
	// on the module's clock: longer than a client's first retransmission,
	// 1 s in OpenSSL and RFC 6347, in case its cookie was lost).
	VerifyWindow time.Duration
	// VerifyGrace is how long an unproved session is safe from eviction
	// by a newer ClientHello when MaxUnproved or MaxSessions is reached
	// (default 250 ms: a client's round trip, with room).
	VerifyGrace time.Duration
	// RequireAdmit: only sources the application admitted (Admit) may
	// start a session; a ClientHello from another is dropped (Unadmitted)
	// before any state exists. See Admit. With ICE-lite on the port
	// (vmprx.AttachSTUN with a stun.ICELite; a credential set per peer
	// with AddPeer) it is not needed: the port hands DTLS on only from
	// addresses with an authenticated check, so admission is automatic.
	RequireAdmit bool
}

// ListenerStatus is what Listener.Status reports.
type ListenerStatus int

const (
	// ListenerRunning: nothing new.
	ListenerRunning ListenerStatus = iota
	// ListenerStopped: the Listener was closed, or its DTLS[rx] or
	// DTLS[tx] stopped (final status; the event is signalled for good).
	ListenerStopped
	// SessionNew: a session completed its handshake (RIOT's
	// -SOCK_DTLS_HANDSHAKE from sock_dtls_recv); its data now reaches the
	// DTLS[rx] with the session's peer as source.
	SessionNew
	// SessionEnded: an established session ended otherwise than by its
	// own Close: the peer's close_notify (Err nil) or a fatal alert.
	SessionEnded
)

func (s ListenerStatus) String() string {
	switch s {
	case ListenerRunning:
		return "Running"
	case ListenerStopped:
		return "Stopped"
	case SessionNew:
		return "SessionNew"
	case SessionEnded:
		return "SessionEnded"
	}
	return fmt.Sprintf("ListenerStatus(%d)", int(s))
}

// ListenerStats counts what a Listener did with the records of its port:
// each datagram is counted once, in Records, Created, Refused, Foreign,
// Unadmitted or Malformed.
type ListenerStats struct {
	Sessions    int    // sessions now, handshaking or established
	Handshaking int    // of those, still handshaking (proved or not)
	Unproved    int    // of those, unproved: the source has not returned its cookie
	Records     uint64 // datagrams handed to an existing session
	Created     uint64 // sessions created (a well-formed ClientHello from a new source)
	Established uint64 // sessions whose handshake completed
	Failed      uint64 // sessions whose handshake failed or timed out
	Refused     uint64 // dropped: a ClientHello from a new source (a limit was reached), or a proving one (MaxHandshaking)
	Evicted     uint64 // unproved sessions ended for a newer one (oldest first, older than VerifyGrace)
	Expired     uint64 // unproved sessions ended: VerifyWindow passed without the cookie
	Proved      uint64 // sessions whose source returned the cookie
	Foreign     uint64 // dropped: from a source with no session, not a ClientHello that creates one
	Unadmitted  uint64 // dropped: from a source with no session and not admitted (RequireAdmit)
	Malformed   uint64 // dropped: not a sequence of whole DTLS records
}

// ErrListenerClosed is returned by a closed Listener's methods and by the
// sessions it ended.
var ErrListenerClosed = errors.New("association: listener closed")

// Listener is a DTLS server serving many peers on one VMP[rx] port (RIOT
// sock_dtls in the server role with several sessions): each source gets
// its own session — its own handshake, keys and association — created by
// a ClientHello from that source. The decrypted data of every session
// reaches the DTLS[rx] (GetPacket) with the session's peer as source;
// Session(src) finds the session (RIOT: sock_dtls_session_get_udp_ep) and
// Session.Send answers it. The Listener's own event reports each session
// whose handshake completed (SessionNew) and each that ended
// (SessionEnded), with the session, in order.
//
// Admission: a session is created only for a well-formed epoch-0
// ClientHello without a cookie (or the first fragment of one). Its
// association answers with pion's HelloVerifyRequest; the session is
// unproved until its source returns that cookie in its next ClientHello,
// which proves the sender receives at that address. Unproved sessions
// have their own bound (MaxUnproved) and a short life (VerifyWindow);
// when a bound is reached, a new ClientHello evicts the oldest unproved
// session older than VerifyGrace, and is refused (cheaply: nothing is
// created) when there is none. A proved session is never evicted, so
// spoofed ClientHellos cannot end a handshake in progress or an
// established session; while they keep coming faster than the unproved
// slots turn over, though, a new client's first ClientHello competes
// with them for a slot, and its handshake waits for its retransmission
// after the flood. With ICE on the port (vmprx.AttachSTUN with a
// stun.ICELite), DTLS from an address without an authenticated check
// never reaches the Listener, and with RequireAdmit only sources the
// application admitted start sessions: either way spoofed ClientHellos
// create nothing at all. The stateless cookie exchange of RFC 6347
// §4.2.1 would avoid unproved state altogether, but pion/dtls (v3.1.15)
// cannot continue a handshake after a HelloVerifyRequest it did not
// send: it checks only the cookie it generated, hashes the ClientHello
// it verified into the transcript, and numbers its messages from its own
// HelloVerifyRequest on.
//
// Its methods are safe for concurrent use.
type Listener struct {
	cfg    Config
	mod    *core.Module
	rxc    link.RxControl
	txc    link.TxControl
	src    event.Source
	maxS   int
	maxHS  int
	maxUP  int
	window time.Duration // an unproved session's life
	grace  time.Duration // an unproved session's protection from eviction

	mu          sync.Mutex
	closed      bool
	sessions    map[netip.AddrPort]*Session
	unproved    []*Session // handshaking, source unproved, oldest first
	proving     []*Session // handshaking, source proved
	expiry      core.Timer // ends the unproved sessions older than window
	notices     []notice
	unannounced int   // notices dropped: more than maxNotices waiting
	cause       error // why it stopped, unless by Close (Err)
	// requireAdmit: only admitted sources start sessions (listener_admit.go).
	requireAdmit bool
	admitted     map[netip.AddrPort]struct{}

	ends chan *Session // sessions to close off the receive path
	wg   sync.WaitGroup

	records, created, nEstablished, failed, refused, evicted, expired, proved, foreign, unadmitted, malformed atomic.Uint64
}

type notice struct {
	st ListenerStatus
	s  *Session
}

// Listen makes rx and tx a Listener: rx must be attached to the VMP[rx]
// whose port tx sends from (dtlstx.Config with that port and no
// destination). The Listener takes the DTLS records rx receives and sends
// through tx to each session's peer; Stop of either (or Close) ends every
// session with close_notify.
func Listen(rx *dtlsrx.DTLSRx, tx *dtlstx.DTLSTx, cfg ListenerConfig) (*Listener, error) {
	if cfg.Role == 0 {
		cfg.Role = Server
	}
	if cfg.Role != Server {
		return nil, fmt.Errorf("association: %w: a Listener is a server", mediaport.ErrInvalidArgument)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.MaxSessions < 0 || cfg.MaxHandshaking < 0 || cfg.MaxUnproved < 0 || cfg.VerifyWindow < 0 || cfg.VerifyGrace < 0 {
		return nil, fmt.Errorf("association: %w: negative limit", mediaport.ErrInvalidArgument)
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 64
	}
	if cfg.MaxHandshaking == 0 {
		cfg.MaxHandshaking = 16
	}
	if cfg.MaxUnproved == 0 {
		cfg.MaxUnproved = 16
	}
	if cfg.VerifyWindow == 0 {
		cfg.VerifyWindow = 2 * time.Second
	}
	if cfg.VerifyGrace == 0 {
		cfg.VerifyGrace = 250 * time.Millisecond
	}
	cfg.MaxHandshaking = min(cfg.MaxHandshaking, cfg.MaxSessions)
	cfg.MaxUnproved = min(cfg.MaxUnproved, cfg.MaxSessions)
	cfg.VerifyGrace = min(cfg.VerifyGrace, cfg.VerifyWindow)
	if rx == nil || tx == nil {
		return nil, mediaport.ErrNilHandle
	}
	rxc, err := link.RxControlOf(rx)
	if err != nil {
		return nil, err
	}
	txc, err := link.TxControlOf(tx)
	if err != nil {
		return nil, err
	}
	if _, err := txc.LocalAddr(); err != nil {
		return nil, fmt.Errorf("association: DTLS[tx] %w", err)
	}
	mod := rxc.Module()
	if cfg.tags == nil && len(credpoolMatching(mod, cfg.Tags)) == 0 { // a Sock's tags may come later
		return nil, fmt.Errorf("%w for tags %v", ErrNoCredential, cfg.Tags)
	}
	l := &Listener{
		cfg: cfg.Config, mod: mod, rxc: rxc, txc: txc, maxS: cfg.MaxSessions, maxHS: cfg.MaxHandshaking,
		maxUP: cfg.MaxUnproved, window: cfg.VerifyWindow, grace: cfg.VerifyGrace,
		requireAdmit: cfg.RequireAdmit,
		sessions:     make(map[netip.AddrPort]*Session), ends: make(chan *Session, cfg.MaxSessions),
	}
	l.src.Init()
	if err := txc.SetWriter(listenerWriter{}); err != nil {
		return nil, err
	}
	if err := rxc.SetRecordSink(listenerSink{l}); err != nil {
		txc.SetWriter(nil)
		return nil, err
	}
	l.wg.Add(1)
	go l.closer()
	rxc.SetOnStop(func() { l.stop(errRxStopped) })
	txc.SetOnStop(func() { l.stop(errTxStopped) })
	return l, nil
}

// listenerSink is the Listener as its DTLS[rx]'s record sink.
type listenerSink struct{ l *Listener }

func (s listenerSink) Deliver(p *pktq.Packet) bool { return s.l.deliver(p) }
func (s listenerSink) Flush()                      {}

// listenerWriter holds the DTLS[tx] for the Listener: its SendPacket has
// no one peer to encrypt for (use Session.Send).
type listenerWriter struct{}

var errListenerTx = fmt.Errorf("association: %w: the DTLS[tx] serves a Listener: send with Session.Send", mediaport.ErrState)

func (listenerWriter) Write([]byte) error { return errListenerTx }
func (listenerWriter) Ready() bool        { return false }

// deliver takes a record datagram from the VMP[rx]'s receive path.
func (l *Listener) deliver(p *pktq.Packet) bool {
	b := p.Bytes()
	if !ValidRecords(b) {
		l.malformed.Add(1)
		return false
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.foreign.Add(1)
		return false
	}
	s := l.sessions[p.Src]
	if s != nil {
		if !s.verified.Load() && !l.proveLocked(s, b) {
			l.mu.Unlock()
			l.refused.Add(1)
			return false
		}
		l.mu.Unlock()
		l.records.Add(1)
		return deliverTo(s.a, p)
	}
	if !l.admittedLocked(p.Src) {
		l.mu.Unlock()
		l.unadmitted.Add(1)
		return false
	}
	h, ok := parseClientHello(b)
	if !ok || len(h.cookie) != 0 || h.msgSeq != 0 {
		// Only a first ClientHello starts a handshake: a cookie here is
		// for a session that no longer exists.
		l.mu.Unlock()
		l.foreign.Add(1)
		return false
	}
	var victim *Session
	if len(l.unproved) >= l.maxUP || len(l.sessions) >= l.maxS {
		victim = l.evictLocked()
		if victim == nil || len(l.sessions) >= l.maxS {
			l.mu.Unlock()
			l.refused.Add(1)
			return false
		}
	}
	s = &Session{l: l, peer: p.Src, created: l.mod.Clock.Now()}
	a, err := bind(sessionControl{s}, sessionControl{s}, p.Src, l.cfg)
	if err != nil {
		l.mu.Unlock()
		l.end(victim)
		l.refused.Add(1)
		l.mod.Log.Debug("listener: session not created", "peer", p.Src, "err", err)
		return false
	}
	s.a = a
	l.sessions[p.Src] = s
	l.unproved = append(l.unproved, s)
	if l.expiry == nil {
		l.expiry = l.mod.Clock.AfterFunc(l.window, l.expire)
	}
	l.created.Add(1)
	l.mu.Unlock()
	l.end(victim)
	return deliverTo(a, p)
}

// deliverTo hands p to a and wakes a's DTLS stack.
func deliverTo(a *Association, p *pktq.Packet) bool {
	ok := a.deliver(p)
	a.flush()
	return ok
}

// proveLocked looks at b, from the source of s, an unproved session: a
// ClientHello returning the cookie of its association's
// HelloVerifyRequest proves the source, and s joins the proved
// handshakes, unless MaxHandshaking of them run (then b is refused: the
// client retransmits it). It reports whether b may go on to s.
func (l *Listener) proveLocked(s *Session, b []byte) bool {
	h, ok := parseClientHello(b)
	if !ok || len(h.cookie) == 0 {
		return true
	}
	c := s.cookie.Load()
	if c == nil || subtle.ConstantTimeCompare(*c, h.cookie) != 1 {
		return true // pion answers a wrong cookie
	}
	if len(l.proving) >= l.maxHS {
		return false
	}
	l.unproved = deleteSession(l.unproved, s)
	l.proving = append(l.proving, s)
	s.verified.Store(true)
	l.proved.Add(1)
	return true
}

// evictLocked forgets the oldest unproved session older than the grace,
// and returns it for end; nil when there is none.
func (l *Listener) evictLocked() *Session {
	if len(l.unproved) == 0 {
		return nil
	}
	s := l.unproved[0]
	if l.mod.Clock.Now().Sub(s.created) < l.grace {
		return nil // the others are younger
	}
	l.unproved = deleteSession(l.unproved, s)
	delete(l.sessions, s.peer)
	s.gone.Store(true)
	l.evicted.Add(1)
	return s
}

// expire runs on the module's clock: it ends the unproved sessions older
// than the window, and runs again when the next one will be.
func (l *Listener) expire() {
	var old []*Session
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	now := l.mod.Clock.Now()
	l.expiry = nil
	for len(l.unproved) > 0 {
		s := l.unproved[0]
		if d := s.created.Add(l.window).Sub(now); d > 0 {
			l.expiry = l.mod.Clock.AfterFunc(d, l.expire)
			break
		}
		l.unproved = deleteSession(l.unproved, s)
		delete(l.sessions, s.peer)
		s.gone.Store(true)
		l.expired.Add(1)
		old = append(old, s)
	}
	l.mu.Unlock()
	for _, s := range old {
		l.end(s)
	}
}

// deleteSession removes s from list, keeping the order, and clears the
// slot it frees.
func deleteSession(list []*Session, s *Session) []*Session {
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			list[len(list):cap(list)][0] = nil
			break
		}
	}
	return list
}

// end closes the association of s, a session the Listener has forgotten,
// on the closer goroutine, or here when the closer is behind: the
// sessions being closed are bounded as the live ones are. Not under l.mu.
func (l *Listener) end(s *Session) {
	if s == nil {
		return
	}
	l.mu.Lock()
	closed := l.closed
	if !closed {
		select {
		case l.ends <- s:
			l.mu.Unlock()
			return
		default:
		}
	}
	l.mu.Unlock()
	s.a.Close()
}

// closer closes the associations of ended sessions until Close.
func (l *Listener) closer() {
	defer l.wg.Done()
	for s := range l.ends {
		s.a.Close()
	}
}

// removeLocked forgets s; it reports whether s was still the Listener's.
func (l *Listener) removeLocked(s *Session) bool {
	if l.sessions[s.peer] != s {
		return false
	}
	delete(l.sessions, s.peer)
	l.unproved = deleteSession(l.unproved, s)
	l.proving = deleteSession(l.proving, s)
	return true
}

// maxNotices bounds the notices waiting for Status.
func (l *Listener) maxNotices() int { return 2*l.maxS + 16 }

func (l *Listener) noticeLocked(st ListenerStatus, s *Session) {
	if len(l.notices) >= l.maxNotices() {
		l.unannounced++
		return
	}
	l.notices = append(l.notices, notice{st, s})
	l.src.Signal()
}

// handshakeDone is the report of s's completed handshake.
func (l *Listener) handshakeDone(s *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions[s.peer] != s {
		return
	}
	// Proved by completing, whether or not its cookie was seen (a client
	// that does not fragment its ClientHello as parsed).
	l.unproved = deleteSession(l.unproved, s)
	l.proving = deleteSession(l.proving, s)
	s.verified.Store(true)
	s.up.Store(true)
	l.nEstablished.Add(1)
	l.noticeLocked(SessionNew, s)
}

// ended is the report of s's end by its peer or a failure (err).
func (l *Listener) ended(s *Session, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.removeLocked(s) {
		return
	}
	s.gone.Store(true)
	if s.up.Load() {
		l.noticeLocked(SessionEnded, s)
	} else {
		l.failed.Add(1)
	}
	if !l.closed {
		select {
		case l.ends <- s:
		default:
			go s.a.Close() // rare: the closer is behind; this goroutine ends with s's
		}
	}
}

// Event returns the Listener's event: signalled while a status remains to
// be reported, and for good once stopped.
func (l *Listener) Event() (*event.Event, error) {
	if l == nil || l.mod == nil {
		return nil, mediaport.ErrNilHandle
	}
	return l.src.Event(), nil
}

// Status returns the next thing to report: SessionNew or SessionEnded with
// its session, oldest first; else ListenerStopped once closed; else
// ListenerRunning. While more remains, the event is signalled again.
func (l *Listener) Status() (ListenerStatus, *Session, error) {
	if l == nil || l.mod == nil {
		return ListenerStopped, nil, mediaport.ErrNilHandle
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.notices) > 0 {
		n := l.notices[0]
		l.notices[0] = notice{}
		l.notices = l.notices[1:]
		if len(l.notices) > 0 || l.closed {
			l.src.Signal()
		}
		return n.st, n.s, nil
	}
	if l.closed {
		return ListenerStopped, nil, nil
	}
	return ListenerRunning, nil, nil
}

// Session returns the established session with peer (RIOT: the session
// whose sock_dtls_session_get_udp_ep is peer), or nil.
func (l *Listener) Session(peer netip.AddrPort) *Session {
	if l == nil || l.mod == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[peer]; s != nil && s.up.Load() {
		return s
	}
	return nil
}

// Stats returns the Listener's counters.
func (l *Listener) Stats() ListenerStats {
	if l == nil || l.mod == nil {
		return ListenerStats{}
	}
	l.mu.Lock()
	n, up, hs := len(l.sessions), len(l.unproved), len(l.unproved)+len(l.proving)
	l.mu.Unlock()
	return ListenerStats{Sessions: n, Handshaking: hs, Unproved: up, Expired: l.expired.Load(), Proved: l.proved.Load(), Records: l.records.Load(), Created: l.created.Load(), Established: l.nEstablished.Load(),
		Failed: l.failed.Load(), Refused: l.refused.Load(), Evicted: l.evicted.Load(),
		Foreign: l.foreign.Load(), Unadmitted: l.unadmitted.Load(), Malformed: l.malformed.Load()}
}

// Err returns why the Listener stopped other than by its Close: its
// DTLS[rx] or DTLS[tx] stopped (an error matching mediaport.ErrStopped
// and ErrListenerClosed); else nil. A session's failure is the session's
// (Session.Err).
func (l *Listener) Err() error {
	if l == nil || l.mod == nil {
		return mediaport.ErrNilHandle
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

var (
	errRxStopped = fmt.Errorf("%w: its DTLS[rx] %w", ErrListenerClosed, mediaport.ErrStopped)
	errTxStopped = fmt.Errorf("%w: its DTLS[tx] %w", ErrListenerClosed, mediaport.ErrStopped)
)

// stop closes the Listener for cause, unless it is closed already.
func (l *Listener) stop(cause error) {
	l.mu.Lock()
	if !l.closed && l.cause == nil {
		l.cause = cause
	}
	l.mu.Unlock()
	l.Close()
}

// Close ends every session (close_notify to the established ones), waits
// for their goroutines and reports ListenerStopped. The DTLS[rx] and
// DTLS[tx] stay the Listener's (their records are dropped): stop them to
// free the port's DTLS. They call Close from Stop. Closing twice does
// nothing.
func (l *Listener) Close() error {
	if l == nil || l.mod == nil {
		return mediaport.ErrNilHandle
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.admitted = nil
	all := make([]*Session, 0, len(l.sessions))
	for _, s := range l.sessions {
		s.gone.Store(true)
		all = append(all, s)
	}
	clear(l.sessions)
	clear(l.unproved)
	clear(l.proving)
	l.unproved, l.proving = nil, nil
	if l.expiry != nil {
		l.expiry.Stop()
		l.expiry = nil
	}
	l.mu.Unlock()
	for _, s := range all {
		s.a.Close()
	}
	close(l.ends) // no send after closed is set
	l.wg.Wait()
	l.mu.Lock()
	l.src.SignalPermanently()
	l.mu.Unlock()
	return nil
}

// Session is one peer's session on a Listener (RIOT sock_dtls_session_t).
// Its methods are safe for concurrent use; a nil Session returns
// ErrNilHandle.
type Session struct {
	l        *Listener
	a        *Association
	peer     netip.AddrPort
	created  time.Time
	cookie   atomic.Pointer[[]byte] // the cookie of pion's HelloVerifyRequest
	verified atomic.Bool            // the peer returned it
	up       atomic.Bool            // the handshake completed
	gone     atomic.Bool            // the Listener forgot the session
}

// Peer returns the session's peer (sock_dtls_session_get_udp_ep).
func (s *Session) Peer() netip.AddrPort {
	if s == nil {
		return netip.AddrPort{}
	}
	return s.peer
}

// Send encrypts p into one record to the peer. Before the handshake has
// completed, or after the session ended, it returns ErrNotEstablished.
func (s *Session) Send(p []byte) error {
	if s == nil || s.a == nil {
		return mediaport.ErrNilHandle
	}
	return s.a.write(p)
}

// Close ends the session: close_notify if established; the Listener
// forgets it (no SessionEnded is reported for it). Closing twice does
// nothing.
func (s *Session) Close() error {
	if s == nil || s.a == nil {
		return mediaport.ErrNilHandle
	}
	l := s.l
	l.mu.Lock()
	l.removeLocked(s)
	s.gone.Store(true)
	l.mu.Unlock()
	return s.a.Close()
}

// State returns where the session's association is, and for Failed why.
func (s *Session) State() (State, error) {
	if s == nil || s.a == nil {
		return Closed, mediaport.ErrNilHandle
	}
	return s.a.State()
}

// Err returns why the session failed, or nil.
func (s *Session) Err() error {
	if s == nil || s.a == nil {
		return mediaport.ErrNilHandle
	}
	return s.a.Err()
}

// Info returns the negotiated parameters once established.
func (s *Session) Info() (ConnectionInfo, error) {
	if s == nil || s.a == nil {
		return ConnectionInfo{}, mediaport.ErrNilHandle
	}
	return s.a.Info()
}

// SRTPKeys returns the session's DTLS-SRTP keys once established.
func (s *Session) SRTPKeys() (SRTPKeys, error) {
	if s == nil || s.a == nil {
		return SRTPKeys{}, mediaport.ErrNilHandle
	}
	return s.a.SRTPKeys()
}

// Stats returns the counters of the session's association.
func (s *Session) Stats() Stats {
	if s == nil || s.a == nil {
		return Stats{}
	}
	return s.a.Stats()
}
