package association

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
)

// What the Sock calls return where RIOT returns a negative errno; match
// them with errors.Is. The others are ErrNotEstablished (-ENOTCONN: no
// established session and no time to wait), mediaport.ErrNoPacket
// (-EAGAIN), mediaport.ErrBufferTooSmall (-ENOBUFS), ErrClosed (-EINVAL
// after sock_dtls_close) and mediaport.ErrInvalidArgument (-EINVAL).
var (
	// ErrHandshakeDone is RIOT's -SOCK_DTLS_HANDSHAKE: not a failure but
	// Sock.Recv's report that a session's handshake completed; the
	// session returned with it names the peer.
	ErrHandshakeDone = errors.New("association: handshake completed (SOCK_DTLS_HANDSHAKE)")
	// ErrSessionExists is sock_dtls_session_init's 0: a session with that
	// endpoint exists already (handshaking or established), and no new
	// handshake was started. The session is returned with it.
	ErrSessionExists = errors.New("association: session exists")
	// ErrTimedOut is RIOT's -ETIMEDOUT: the context's deadline passed
	// before data arrived (Recv) or before the handshake completed
	// (Send). It comes with context.DeadlineExceeded (errors.Is matches
	// both).
	ErrTimedOut = errors.New("association: timed out")
)

// SockSession is RIOT's sock_dtls_session_t: which peer a Sock call is
// about. Recv fills it in; SetUDPEndpoint names the peer of a Send that
// starts a handshake. The zero value names no peer.
type SockSession struct{ ep netip.AddrPort }

// UDPEndpoint returns the session's remote endpoint
// (sock_dtls_session_get_udp_ep).
func (s SockSession) UDPEndpoint() netip.AddrPort { return s.ep }

// SetUDPEndpoint sets the session's remote endpoint
// (sock_dtls_session_set_udp_ep).
func (s *SockSession) SetUDPEndpoint(ep netip.AddrPort) { s.ep = ep }

// Sock is RIOT's sock_dtls_t over a DTLS[rx]/DTLS[tx] pair on one VMP[rx]
// port (RIOT's UDP sock): blocking Recv and Send with a timeout, session
// calls and run-time credential tags, as RIOT code is written. A client
// Sock holds one session per server it calls SessionInit for (or Sends
// to); a server Sock is a Listener, whose sessions the peers' ClientHellos
// create.
//
// RIOT's timeout is the context of each blocking call, written once for
// all: context.Background() is SOCK_NO_TIMEOUT, NoWait() is 0 (do not
// wait), context.WithTimeout(ctx, d) a timeout of d. A deadline that
// passes returns an error matching ErrTimedOut and
// context.DeadlineExceeded; a cancelled context returns its cause.
//
// The Sock takes over its pair: read data with Recv (not GetPacket) and
// send with Send (SendPacket fails). Its methods are safe for concurrent
// use. A nil Sock returns ErrNilHandle.
type Sock struct {
	mod   *core.Module
	rx    *dtlsrx.DTLSRx
	tx    *dtlstx.DTLSTx
	rxc   link.RxControl
	txc   link.TxControl
	rxEv  *event.Event
	role  Role
	cfg   ListenerConfig // cfg.tags is the live tag list
	l     *Listener      // a server's
	local netip.AddrPort

	drainMu  sync.Mutex // a server's: one drain of the Listener at a time
	mu       sync.Mutex
	closed   bool
	changed  chan struct{}                     // closed and replaced when a session changes
	notices  []sockNotice                      // handshakes and failures for Recv, oldest first
	sessions map[netip.AddrPort]*clientSession // a client's
	wg       sync.WaitGroup                    // a server's pump; ended sessions' Close
}

// sockNotice is what Recv reports besides data: a session whose
// handshake completed (err nil) or that failed.
type sockNotice struct {
	ep  netip.AddrPort
	err error
}

// CreateSock makes rx and tx a DTLS sock (sock_dtls_create): cfg.Role is
// Client or Server (SOCK_DTLS_CLIENT, SOCK_DTLS_SERVER), cfg.Version 0 or
// DTLS12, cfg.Tags the initial tag list — empty is RIOT's
// CREDMAN_TAG_EMPTY: the Sock is created, but a handshake needs a tag
// added first (AddCredential) and fails with ErrNoCredential until then.
// rx must be attached to a VMP[rx] and tx configured to send from its
// port (dtlstx.Config{Local: port}, no destination). A server's cfg
// limits its sessions as a Listener's do; a client's MaxSessions bounds
// the servers it talks to at once (default 64).
func CreateSock(rx *dtlsrx.DTLSRx, tx *dtlstx.DTLSTx, cfg ListenerConfig) (*Sock, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if rx == nil || tx == nil {
		return nil, mediaport.ErrNilHandle
	}
	if cfg.MaxSessions < 0 {
		return nil, fmt.Errorf("association: %w: negative limit", mediaport.ErrInvalidArgument)
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 64
	}
	cfg.tags = newTagSet(cfg.Tags)
	cfg.Tags = nil
	rxc, err := link.RxControlOf(rx)
	if err != nil {
		return nil, err
	}
	txc, err := link.TxControlOf(tx)
	if err != nil {
		return nil, err
	}
	local, err := txc.LocalAddr()
	if err != nil {
		return nil, fmt.Errorf("association: DTLS[tx] %w", err)
	}
	rxEv, err := rx.Event()
	if err != nil {
		return nil, err
	}
	s := &Sock{mod: rxc.Module(), rx: rx, tx: tx, rxc: rxc, txc: txc, rxEv: rxEv, role: cfg.Role, cfg: cfg,
		local: local, changed: make(chan struct{})}
	if cfg.Role == Server {
		return s, s.listen()
	}
	s.sessions = make(map[netip.AddrPort]*clientSession)
	if err := txc.SetWriter(sockWriter{}); err != nil {
		return nil, err
	}
	if err := rxc.SetRecordSink(sockSink{s}); err != nil {
		txc.SetWriter(nil)
		return nil, err
	}
	stop := func() { s.Close() }
	rxc.SetOnStop(stop)
	txc.SetOnStop(stop)
	return s, nil
}

func (s *Sock) valid() bool { return s != nil && s.mod != nil }

// bumpLocked wakes every Recv and Send waiting for a session change.
func (s *Sock) bumpLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// noticeLocked queues n for Recv; notices beyond twice MaxSessions are
// dropped (the sessions' State still tells).
func (s *Sock) noticeLocked(n sockNotice) {
	if len(s.notices) < 2*s.cfg.MaxSessions {
		s.notices = append(s.notices, n)
	}
	s.bumpLocked()
}

// UDPSock returns the DTLS[rx] and DTLS[tx] the Sock runs on
// (sock_dtls_get_udp_sock); LocalAddr is their port.
func (s *Sock) UDPSock() (*dtlsrx.DTLSRx, *dtlstx.DTLSTx) {
	if !s.valid() {
		return nil, nil
	}
	return s.rx, s.tx
}

// LocalAddr returns the port the Sock sends from and receives on.
func (s *Sock) LocalAddr() netip.AddrPort {
	if !s.valid() {
		return netip.AddrPort{}
	}
	return s.local
}

// Role returns the Sock's role.
func (s *Sock) Role() Role {
	if !s.valid() {
		return 0
	}
	return s.role
}

// AddCredential adds tag to the Sock's tag list
// (sock_dtls_add_credential): handshakes that start from now on may use
// its credentials, on a client and on a server alike; running and
// established sessions keep theirs. Adding a tag already listed does
// nothing; TagEmpty is an error matching mediaport.ErrInvalidArgument,
// more than MaxSockTags one matching mediaport.ErrLimit (RIOT: -ENOSPC).
func (s *Sock) AddCredential(tag mediaport.CredTag) error {
	if !s.valid() {
		return mediaport.ErrNilHandle
	}
	return s.cfg.tags.add(tag)
}

// RemoveCredential removes tag from the Sock's tag list
// (sock_dtls_remove_credential) for the handshakes that start from now
// on; a tag not listed is an error matching
// mediaport.ErrCredentialNotFound (RIOT: -ENOENT).
func (s *Sock) RemoveCredential(tag mediaport.CredTag) error {
	if !s.valid() {
		return mediaport.ErrNilHandle
	}
	return s.cfg.tags.remove(tag)
}

// Credentials returns a copy of the Sock's tag list, in order
// (sock_dtls_get_credentials); empty for CREDMAN_TAG_EMPTY.
func (s *Sock) Credentials() []mediaport.CredTag {
	if !s.valid() {
		return nil
	}
	return slices.Clone(s.cfg.tags.load())
}

// SessionInit starts a handshake with the server at ep
// (sock_dtls_session_init, client only) and returns its session; Recv
// reports ErrHandshakeDone for it once the handshake completes. When a
// session with ep exists already it starts nothing and returns that
// session with ErrSessionExists (RIOT's 0). Errors: ErrNoCredential (no
// tag holds a credential), mediaport.ErrLimit (MaxSessions), ErrClosed,
// mediaport.ErrInvalidArgument (ep), mediaport.ErrState on a server (a
// Listener does not start handshakes).
func (s *Sock) SessionInit(ep netip.AddrPort) (SockSession, error) {
	if !s.valid() {
		return SockSession{}, mediaport.ErrNilHandle
	}
	if !ep.IsValid() || ep.Port() == 0 || ep.Addr().IsUnspecified() {
		return SockSession{}, fmt.Errorf("association: %w: remote endpoint %v", mediaport.ErrInvalidArgument, ep)
	}
	if s.role != Client {
		return SockSession{}, fmt.Errorf("association: %w: a server Sock does not start handshakes", mediaport.ErrState)
	}
	_, err := s.clientSession(ep)
	return SockSession{ep}, err
}

// SessionDestroy ends the session with sess's peer
// (sock_dtls_session_destroy): close_notify if established. A client may
// then start a new one with SessionInit. Without a session it does
// nothing.
func (s *Sock) SessionDestroy(sess SockSession) error {
	if !s.valid() {
		return mediaport.ErrNilHandle
	}
	if s.role == Server {
		if ls := s.l.Session(sess.ep); ls != nil {
			return ls.Close()
		}
		return nil
	}
	s.mu.Lock()
	cs := s.sessions[sess.ep]
	if cs != nil {
		delete(s.sessions, sess.ep)
		cs.gone.Store(true)
		s.bumpLocked()
	}
	s.mu.Unlock()
	if cs != nil {
		cs.a.Close()
	}
	return nil
}

// Established reports whether the session with sess's peer has completed
// its handshake and not ended.
func (s *Sock) Established(sess SockSession) bool {
	a, _ := s.association(sess.ep)
	return a != nil && a.canSend()
}

// Info returns what the session with sess's peer negotiated.
func (s *Sock) Info(sess SockSession) (ConnectionInfo, error) {
	a, err := s.association(sess.ep)
	if a == nil {
		return ConnectionInfo{}, err
	}
	return a.Info()
}

// association returns the association of the session with ep: a
// client's, handshaking or established; a server's, established.
func (s *Sock) association(ep netip.AddrPort) (*Association, error) {
	if !s.valid() {
		return nil, mediaport.ErrNilHandle
	}
	if s.role == Server {
		if ls := s.l.Session(ep); ls != nil {
			return ls.a, nil
		}
		return nil, ErrNotEstablished
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.sessions[ep]; cs != nil {
		return cs.a, nil
	}
	return nil, ErrNotEstablished
}

// Close closes the Sock (sock_dtls_close): every session ends with
// close_notify, a blocked Recv or Send returns ErrClosed, and so does
// every later call. As RIOT's does not close the UDP sock, Close leaves
// the DTLS[rx] and DTLS[tx] running, still the Sock's (records that
// arrive are dropped): stop or destroy them to free the port's DTLS.
// Closing twice does nothing.
func (s *Sock) Close() error {
	if !s.valid() {
		return mediaport.ErrNilHandle
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]*clientSession, 0, len(s.sessions))
	for _, cs := range s.sessions {
		cs.gone.Store(true)
		all = append(all, cs)
	}
	clear(s.sessions)
	s.bumpLocked()
	s.mu.Unlock()
	for _, cs := range all {
		cs.a.Close()
	}
	if s.l != nil {
		s.l.Close()
	}
	s.wg.Wait()
	return nil
}

// Listener returns a server Sock's Listener (its Stats, Admit), or nil
// for a client. Its Status and Event are the Sock's: do not read them.
func (s *Sock) Listener() *Listener {
	if !s.valid() {
		return nil
	}
	return s.l
}
