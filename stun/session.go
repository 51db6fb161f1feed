// Package stun is a STUN session with pjnath's semantics
// (pj_stun_session_*), on pion/stun v3's message codec: requests
// retransmitted on pjnath's RTO schedule, responses matched to them,
// responses cached to answer retransmitted requests, short-term and
// long-term credentials with the client's automatic retry on 401/438,
// FINGERPRINT, SOFTWARE, message logging, and destroy from inside a
// callback. The session does no I/O: it sends through OnSendMsg and is fed
// with OnRxPkt, so it runs over any transport — a plain UDP socket, a
// VMP[rx] media port (vmprx.SetSTUNHandler + SendFrom), a TURN allocation.
//
// Every timer runs on the configured Clock, so tests run pjnath's whole
// retransmission schedule without sleeping.
package stun

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/core"
)

// LogFlags select which messages the session logs (pj_stun_sess_msg_log_flag).
type LogFlags uint

// The log flags; LogAll is the default.
const (
	LogTxReq LogFlags = 1 << iota // PJ_STUN_SESS_LOG_TX_REQ
	LogTxRes                      // PJ_STUN_SESS_LOG_TX_RES
	LogTxInd                      // PJ_STUN_SESS_LOG_TX_IND
	LogRxReq                      // PJ_STUN_SESS_LOG_RX_REQ
	LogRxRes                      // PJ_STUN_SESS_LOG_RX_RES
	LogRxInd                      // PJ_STUN_SESS_LOG_RX_IND
	LogAll   = LogTxReq | LogTxRes | LogTxInd | LogRxReq | LogRxRes | LogRxInd
)

// DecodeOptions are OnRxPkt's options (pj_stun_decode_options).
type DecodeOptions uint

const (
	// IsDatagram: the packet is exactly one message (UDP). Without it the
	// packet may hold more bytes than the message (a stream), and
	// OnRxPkt returns the parsed length.
	IsDatagram DecodeOptions = 1 << iota
	// CheckPacket: reject packets that are not STUN before decoding.
	CheckPacket
	// NoAuthenticate: do not authenticate incoming requests.
	NoAuthenticate
	// NoFingerprintCheck: do not verify FINGERPRINT.
	NoFingerprintCheck
)

// Config configures a session (pj_stun_config). Zero fields take the
// defaults.
type Config struct {
	// Clock runs the retransmission, linger and cache timers (default:
	// the system clock).
	Clock mediaport.Clock
	// Logger receives message logs and errors (default: discard).
	Logger *slog.Logger
	// RTO is the first retransmission timeout (default 100 ms).
	RTO time.Duration
	// ResCacheTime is how long a cached response answers retransmitted
	// requests (default 10 s).
	ResCacheTime time.Duration
	// MaxCachedResponses bounds the response cache (default 8192
	// entries): when it is full the oldest entry is evicted, counted in
	// Stats.CacheEvictions. Each entry is a copy of one response.
	MaxCachedResponses int

	// answers is the module's budget of error answers (ModuleConfig);
	// without one the session has its own.
	answers *core.AnswerBudget
}

// ModuleConfig returns a Config with the clock and logger of mod, and the
// module's budget of error answers to unauthenticated requests, shared by
// every session created with it (see Session.OnRxPkt).
func ModuleConfig(mod *mediaport.Module) Config {
	cfg := Config{Clock: mod.Clock(), Logger: mod.Logger()}
	if m, err := core.Get(mod); err == nil {
		cfg.answers = &m.Answers
	}
	return cfg
}

const (
	defaultRTO       = 100 * time.Millisecond
	defaultCacheTime = 10 * time.Second
	defaultCacheMax  = 8192
	lingerTime       = 300 * time.Millisecond
	maxTransmit      = 7
	maxAuthRetries   = 3
)

// Callbacks are the session's callbacks (pj_stun_session_cb). They are
// called without the session's lock held, so they may call the session
// (respond, send, destroy). Packets and messages passed to them are valid
// only during the call.
type Callbacks struct {
	// OnSendMsg sends a packet (required). Returning ErrSendPending counts
	// as sent; any other error fails the send (on a retransmission, it
	// completes the request with that error).
	OnSendMsg func(s *Session, token any, pkt []byte, dst netip.AddrPort) error
	// OnRxRequest handles an authenticated request; it answers with
	// CreateRes+SendMsg or Respond. Without it requests get 400.
	OnRxRequest func(s *Session, pkt []byte, rdata *RxData, token any, src netip.AddrPort) error
	// OnRequestComplete reports a request's end: status nil for a success
	// response, a *StatusError for an error response, ErrTimeout, a send
	// error, or the status given to CancelReq. response is nil unless a
	// response arrived.
	OnRequestComplete func(s *Session, status error, token any, tdata *TxData, response *stun.Message, src netip.AddrPort)
	// OnRxIndication handles an indication; without it indications are
	// ignored.
	OnRxIndication func(s *Session, pkt []byte, msg *stun.Message, token any, src netip.AddrPort) error
}

// tsxKey identifies a transaction: magic cookie and transaction ID.
type tsxKey struct {
	magic uint32
	id    [12]byte
}

// cached is a response kept to answer a retransmitted request. Entries
// form a list in the order they were cached, which is the order they
// expire in (ResCacheTime is fixed).
type cached struct {
	key        tsxKey
	raw        []byte
	token      any
	expires    time.Time
	prev, next *cached
}

// Session is a STUN session (pj_stun_session). It is safe for concurrent
// use; its methods take its lock (SetLock replaces it).
type Session struct {
	cfg         Config
	name        string
	cb          Callbacks
	fingerprint bool

	lock       sync.Locker
	userData   any
	serverName []byte
	logFlags   LogFlags
	authType   AuthType
	cred       *Credential

	// Long-term client state: learned from the last 401/438.
	realm, nonce string

	tsx   map[tsxKey]*TxData
	cache map[tsxKey]*cached
	// The cache's entries, oldest first, and the one timer that expires
	// the oldest.
	cacheHead, cacheTail *cached
	cacheTimer           mediaport.Timer
	stats                Stats // under lock

	destroyed      bool
	busy           int // callbacks in progress
	destroyPending bool

	rxPool sync.Pool // *rxBuf
	txPool sync.Pool // *TxData for responses

	linkICE // the ICE agent that runs the session, if any (link.ICEControlOf)
}

// Create creates a session (pj_stun_session_create). name is used in logs;
// fingerprint adds FINGERPRINT to every outgoing message.
func Create(cfg Config, name string, cb Callbacks, fingerprint bool) (*Session, error) {
	if cb.OnSendMsg == nil {
		return nil, fmt.Errorf("stun: %w: OnSendMsg is required", mediaport.ErrInvalidArgument)
	}
	if cfg.Clock == nil {
		cfg.Clock = mediaport.SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RTO <= 0 {
		cfg.RTO = defaultRTO
	}
	if cfg.ResCacheTime <= 0 {
		cfg.ResCacheTime = defaultCacheTime
	}
	if cfg.MaxCachedResponses <= 0 {
		cfg.MaxCachedResponses = defaultCacheMax
	}
	if cfg.answers == nil {
		cfg.answers = new(core.AnswerBudget)
	}
	s := &Session{
		cfg: cfg, name: name, cb: cb, fingerprint: fingerprint,
		lock: &sync.Mutex{}, logFlags: LogAll,
		tsx: map[tsxKey]*TxData{}, cache: map[tsxKey]*cached{},
	}
	s.cfg.Logger = cfg.Logger.With("stun", name)
	s.rxPool.New = func() any { return newRxBuf() }
	s.txPool.New = func() any { return &TxData{Msg: newMessage(), pooled: true} }
	return s, nil
}

func newMessage() *stun.Message {
	return &stun.Message{Raw: make([]byte, 0, 1500), Attributes: make(stun.Attributes, 0, 16)}
}

// enter takes the lock and checks the session is alive.
func (s *Session) enter() error {
	if s == nil || s.lock == nil { // nil, or not made by Create
		return mediaport.ErrNilHandle
	}
	s.lock.Lock()
	if s.destroyed {
		s.lock.Unlock()
		return fmt.Errorf("stun: session %q: %w", s.name, mediaport.ErrDestroyed)
	}
	return nil
}

// call runs f (a callback) without the lock, counting it as in progress,
// and reports whether the session was destroyed meanwhile. The lock is
// held again when it returns.
func (s *Session) call(f func()) (destroyed bool) {
	s.busy++
	s.lock.Unlock()
	f()
	s.lock.Lock()
	s.busy--
	if s.busy == 0 && s.destroyPending {
		s.destroyLocked()
	}
	return s.destroyed
}

// Destroy destroys the session and every transaction (pj_stun_session_destroy):
// pending requests are dropped without callbacks. Called while a callback
// runs, it is deferred until the callback returns and returns ErrPending.
// A second Destroy returns an error matching mediaport.ErrDestroyed.
func (s *Session) Destroy() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if s.destroyPending {
		return fmt.Errorf("stun: session %q: %w", s.name, mediaport.ErrDestroyed)
	}
	if s.busy > 0 {
		s.destroyPending = true
		return ErrPending
	}
	s.destroyLocked()
	return nil
}

func (s *Session) destroyLocked() {
	s.destroyed = true
	s.destroyPending = false
	for k, t := range s.tsx {
		t.stopTimer()
		t.state = tsxDone
		delete(s.tsx, k)
	}
	if s.cacheTimer != nil {
		s.cacheTimer.Stop()
		s.cacheTimer = nil
	}
	for k := range s.cache {
		delete(s.cache, k)
	}
	s.cacheHead, s.cacheTail = nil, nil
	s.wipeCredLocked()
}

// SetUserData associates v with the session (pj_stun_session_set_user_data).
func (s *Session) SetUserData(v any) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.userData = v
	s.lock.Unlock()
	return nil
}

// UserData returns what SetUserData stored (pj_stun_session_get_user_data);
// nil for a destroyed or nil session.
func (s *Session) UserData() any {
	if s.enter() != nil {
		return nil
	}
	defer s.lock.Unlock()
	return s.userData
}

// SetLock replaces the session's lock (pj_stun_session_set_lock), for
// example with the lock of a higher layer that already serialises calls.
// Call it before the session is used concurrently.
func (s *Session) SetLock(l sync.Locker) error {
	if s == nil || s.lock == nil {
		return mediaport.ErrNilHandle
	}
	if l == nil {
		return fmt.Errorf("stun: %w: nil lock", mediaport.ErrInvalidArgument)
	}
	if err := s.enter(); err != nil {
		return err
	}
	old := s.lock
	s.lock = l
	old.Unlock()
	return nil
}

// SetServerName sets the SOFTWARE attribute put on every response and on
// requests (pj_stun_session_set_server_name); empty removes it.
func (s *Session) SetServerName(name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if len(name) > 763 {
		return fmt.Errorf("stun: %w: SOFTWARE longer than 763 bytes", mediaport.ErrInvalidArgument)
	}
	s.serverName = []byte(name)
	return nil
}

// Stats counts what a session sent and received.
type Stats struct {
	Requests        uint64 // requests sent (first transmissions)
	Retransmissions uint64 // requests sent again on the RTO schedule
	Timeouts        uint64 // requests that timed out without a response
	Responses       uint64 // responses sent
	Indications     uint64 // indications sent
	Received        uint64 // messages given to OnRxPkt
	Invalid         uint64 // received messages OnRxPkt refused with ErrInvalidMessage or ErrIntegrity
	// Suppressed counts the error answers to unauthenticated requests not
	// sent: larger than their request, with the budget spent (OnRxPkt).
	Suppressed uint64
	// CacheEvictions counts cached responses evicted before their time
	// because the cache held MaxCachedResponses.
	CacheEvictions uint64
}

// Stats returns the session's counters.
func (s *Session) Stats() (Stats, error) {
	if err := s.enter(); err != nil {
		return Stats{}, err
	}
	defer s.lock.Unlock()
	return s.stats, nil
}

// SetLog selects which messages are logged (pj_stun_session_set_log); the
// default is LogAll. Messages are logged at debug level.
func (s *Session) SetLog(flags LogFlags) {
	if s.enter() != nil {
		return
	}
	s.logFlags = flags
	s.lock.Unlock()
}

func (s *Session) logMsg(flag LogFlags, dir string, m *stun.Message, addr netip.AddrPort) {
	if s.logFlags&flag != 0 && s.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.cfg.Logger.Debug(dir, "type", m.Type.String(), "tsx", fmt.Sprintf("%x", m.TransactionID), "addr", addr, "len", len(m.Raw))
	}
}
