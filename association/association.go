// Package association is mediaport's DTLS security layer: it binds a
// DTLS[rx] and a DTLS[tx] into one terminated DTLS 1.2 association (RIOT
// sock_dtls with credman credentials), run by pion/dtls on the VMP[rx]'s
// port.
//
// Once bound, the DTLS[rx] reports Handshake when the handshake completes
// (before any data) and then delivers decrypted application data through
// GetPacket; the DTLS[tx] has capacity only once the handshake has completed
// and SendPacket encrypts. A failed handshake or a fatal alert stops the
// DTLS[rx] at once, whose Err then returns the error with its cause
// (ErrFingerprint, ErrNoSRTPProfile, … and an *AlertError for the alert
// sent or received); a close_notify from the peer
// stops it cleanly; Stop of either endpoint (or Close) sends close_notify.
//
//	mod.AddCredential(mediaport.Credential{Tag: 10, Type: mediaport.CredECDSA, ECDSA: ...})
//	a, err := association.Bind(rx, tx, association.Config{
//		Role:             association.Server,
//		Tags:             []mediaport.CredTag{10},
//		PeerFingerprints: []string{remoteFingerprintFromSDP},
//		SRTPProfiles:     []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM},
//	})
//	// rx.Status() == dtlsrx.Handshake, then:
//	keys, _ := a.SRTPKeys()
//
// RIOT code written against sock_dtls ports call for call to a Sock
// (CreateSock): SessionInit, Recv and Send with a context as the timeout,
// AddCredential at run time; see ExampleSock.
package association

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/credpool"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
)

// Errors of the association layer; match them with errors.Is.
var (
	// ErrNoCredential: none of the association's tags holds a usable
	// credential, or the PSK choice found none.
	ErrNoCredential = errors.New("association: no usable credential")
	// ErrVersion: a DTLS version other than 1.2 was asked for.
	ErrVersion = fmt.Errorf("association: %w: only DTLS 1.2 is supported", mediaport.ErrInvalidArgument)
	// ErrPeerKey: the peer's public key is not in the accepted list.
	ErrPeerKey = errors.New("association: peer public key not accepted")
	// ErrFingerprint: the peer's certificate fingerprint does not match.
	ErrFingerprint = errors.New("association: peer certificate fingerprint mismatch")
	// ErrNotEstablished: the handshake has not completed.
	ErrNotEstablished = mediaport.ErrNotEstablished
	// ErrClosed: the association was closed.
	ErrClosed = errors.New("association: closed")
	// ErrHandshakeTimeout: the handshake did not complete in time.
	ErrHandshakeTimeout = errors.New("association: handshake timed out")
)

// State is where an association is.
type State int

const (
	// Handshaking: the handshake is running.
	Handshaking State = iota
	// Established: application data flows.
	Established
	// Closed: closed locally or by the peer's close_notify.
	Closed
	// Failed: the handshake failed or a fatal alert arrived; Err says why.
	Failed
)

func (s State) String() string {
	switch s {
	case Handshaking:
		return "handshaking"
	case Established:
		return "established"
	case Closed:
		return "closed"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Stats counts the records an association received.
type Stats struct {
	Records   uint64 // records handed to the DTLS stack
	Foreign   uint64 // dropped: from an address other than the peer's
	Malformed uint64 // dropped: not a sequence of whole DTLS records
	Rejected  uint64 // dropped after the handshake: an unauthenticated alert or data in epoch 0, or a later epoch
	Overrun   uint64 // dropped: the DTLS stack's queue was full

	// On our record path (an AEAD suite, see takeover.go):
	Replayed    uint64 // dropped: a sequence number already received, or older than the replay window
	Unauthentic uint64 // dropped: a record that did not authenticate

	Moves uint64 // the peer moved to the ICE pair nominated on the port (see vmprx.AttachSTUN)
}

// Association is a terminated DTLS association over a DTLS[rx]/DTLS[tx]
// pair. Its methods are safe for concurrent use. A nil or zero Association
// (not made by Bind) returns ErrNilHandle from every method that returns
// an error, and zero values from the others.
type Association struct {
	// cfg is what Bind was given, for the handshake only: its end frees
	// it (the handshake goroutine alone reads it).
	cfg  *Config
	role Role
	mod  *core.Module
	rxc  link.RxControl
	txc  link.TxControl
	peer atomic.Pointer[netip.AddrPort] // nil until a learning server hears a ClientHello
	raw  *pktq.Queue                    // records from the peer, for the DTLS stack
	// wake (capacity 1) wakes the one goroutine that waits for the
	// association's input — the handshake goroutine while a learning
	// server waits for its peer, then pion's reader in
	// packetConn.ReadFrom — which then checks again what it waits for: a
	// peer, a record, Close, its deadline.
	wake chan struct{}
	// sessions is the state of the read sessions (see mayRead).
	sessions atomic.Uint32
	// The small fields sit together, after sessions and after once, so
	// that the struct has no padding (248 bytes).
	closing atomic.Bool // set under mu by Close
	ready   atomic.Bool
	// unread is set when pion may hold something for Read that no read
	// session was started for: pion took application data or an alert
	// before the association was ready, or closed its PacketConn (see
	// run).
	unread atomic.Bool

	mu   sync.Mutex
	conn *dtls.Conn
	pc   *watchedConn // conn's PacketConn, until the record path takes over
	// fast is our record path, once it has taken over from pion
	// (takeover.go); nil on pion's path.
	fast atomic.Pointer[fastPath]
	// notified: close_notify sent; ended: our path reported the end.
	notified, ended atomic.Bool
	queued          atomic.Bool // pushData queued data that flush has not signalled
	// deferAlerts is set while the handshake goroutine completes our
	// record path's start; an ending alert received meanwhile is noted
	// in pending (level, description) and acted on after (recordrecv.go).
	deferAlerts, hasPending bool
	pending                 [2]byte
	state                   State
	err                     error
	// early holds application data that arrived before the handshake
	// completed (see holdEarly).
	early []*pktq.Packet
	// lingerMu guards round, the number of the read round running (see
	// startRound).
	lingerMu sync.Mutex
	round    uint64
	wg       sync.WaitGroup
	once     sync.Once
	pskTag   mediaport.CredTag // client: the PSK chosen from the hint
	// A client holding PSK and ECDSA credentials offers the certificate
	// suites first (certFirst: the current attempt does) and, if that
	// attempt fails, the PSK suites alone (pskOnly); see clientOptions.
	certFirst, pskOnly bool

	records, foreign, malformed, rejected atomic.Uint64
	moves                                 atomic.Uint64 // the peer followed the ICE pair (peer.go)
	replayed, unauthentic                 atomic.Uint64 // our record path's drops (recordrecv.go)
	tentative                             *tentative    // a learning server's (relearn.go)
}

// Bind binds rx and tx into one association and starts the handshake with
// the DTLS[tx]'s destination as the peer (sock_dtls_create +
// sock_dtls_session_init). tx must be configured; rx should be attached to
// the VMP[rx] whose port tx sends from. Records from other addresses are
// dropped before the DTLS stack sees them, so spoofed ClientHellos cost no
// handshake state.
//
// A server whose DTLS[tx] has no destination learns its peer: the source of
// the first well-formed ClientHello becomes the peer and the DTLS[tx]'s
// destination, tentatively until that source returns the cookie of the
// HelloVerifyRequest: before that, a first ClientHello from another
// source replaces it (and restarts the handshake), so one spoofed
// datagram cannot hold the server. (A sustained flood of them still can:
// bind to the peer the signalling names where you can; to serve many
// peers on one port, see Listen.)
func Bind(rx *dtlsrx.DTLSRx, tx *dtlstx.DTLSTx, cfg Config) (*Association, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
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
	peer, err := txc.Destination()
	if err != nil {
		return nil, fmt.Errorf("association: DTLS[tx] %w", err)
	}
	if !peer.IsValid() && cfg.Role == Client {
		return nil, fmt.Errorf("association: %w: a client needs the DTLS[tx] destination", mediaport.ErrState)
	}
	return bind(rxc, txc, peer, cfg)
}

// bind starts an association over the controls rxc and txc with peer
// (invalid for a learning server); Bind or Listen has checked cfg.
func bind(rxc link.RxControl, txc link.TxControl, peer netip.AddrPort, cfg Config) (*Association, error) {
	mod := rxc.Module()
	if cfg.MTU <= 0 {
		cfg.MTU = 1200
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = mod.Limits.QueueLen
	}
	a := &Association{
		cfg: &cfg, role: cfg.Role, mod: mod, rxc: rxc, txc: txc,
		raw: pktq.NewQueue(cfg.QueueLen, mod.Packets), wake: make(chan struct{}, 1),
	}
	if peer.IsValid() {
		a.peer.Store(&peer)
	} else {
		a.tentative = &tentative{}
	}
	if tags := cfg.tagList(); len(credpool.Matching(mod, tags, mediaport.CredPSK)) == 0 && len(credpool.Matching(mod, tags, mediaport.CredECDSA)) == 0 {
		return nil, fmt.Errorf("%w for tags %v", ErrNoCredential, tags)
	}
	// The writer first: binding the record sink hands the association the
	// records already queued at the DTLS[rx], and a ClientHello among them
	// sets the DTLS[tx]'s destination, which must then be ours.
	if err := txc.SetWriter(writer{a}); err != nil {
		return nil, err
	}
	if err := rxc.SetRecordSink(recordSink{a}); err != nil {
		txc.SetWriter(nil)
		return nil, err
	}
	stop := func() { a.Close() }
	rxc.SetOnStop(stop)
	txc.SetOnStop(stop)
	// The handshake timeout counts from Bind, on the module's clock.
	ctx, cancel := context.WithCancelCause(context.Background())
	timer := mod.Clock.AfterFunc(cfg.HandshakeTimeout, func() { cancel(ErrHandshakeTimeout) })
	a.wg.Add(1)
	go a.run(ctx, cancel, timer)
	return a, nil
}

// run performs the handshake. Once it completes, read sessions start
// when pion takes a record (mayRead), and at once only if pion already
// holds something for Read (unread): application data or an alert that
// came with the end of the handshake, or the end of its Conn. An
// association that receives nothing after its handshake never calls Read.
func (a *Association) run(ctx context.Context, cancel context.CancelCauseFunc, timer clock.Timer) {
	err := a.handshake(ctx)
	timer.Stop()
	cancel(nil)
	a.cfg = nil // what a handshake only needs: an idle association does not keep it
	fast := false
	if err == nil {
		fast, err = a.takeOver()
	}
	if err != nil {
		// Done before reporting: reporting may stop the endpoints, whose
		// Stop closes the association and waits for this goroutine.
		a.wg.Done()
		a.finish(err)
		return
	}
	a.mu.Lock()
	a.state = Established
	a.mu.Unlock()
	if fast {
		a.establishFast()
		return
	}
	// Open before ready: a ReadFrom that sees ready calls mayRead, which
	// must find the sessions open. unread is read after both: whoever
	// sets it (ReadFrom, packetConn.Close) reads ready or the sessions
	// after, so either that caller starts the session or run does.
	a.sessions.Store(sessionsOpen)
	a.releaseEarly() // and ready
	a.rxc.HandshakeDone()
	a.txc.CapacityChanged()
	a.mod.Log.Debug("association established", "peer", a.Peer(), "role", a.role)
	if a.unread.Load() {
		a.mayRead()
	}
	a.raw.Trim() // pion has taken the handshake's records, as a rule: a session's end trims otherwise
	a.wg.Done()
}

// finish records how the association ended and tells the DTLS[rx].
func (a *Association) finish(err error) {
	a.mu.Lock()
	local := a.closing.Load()
	switch {
	case local:
		a.state = Closed
	case errors.Is(err, io.EOF):
		a.state = Closed // close_notify from the peer
		err = nil
	default:
		a.state, a.err = Failed, err
	}
	a.mu.Unlock()
	a.ready.Store(false)
	if local {
		return
	}
	if err != nil {
		a.mod.Log.Debug("association failed", "peer", a.Peer(), "err", err)
	}
	a.rxc.Fail(err) // nil: the peer closed; the DTLS[rx] stops cleanly
}

// valid reports whether a was made by Bind.
func (a *Association) valid() bool { return a != nil && a.mod != nil }

// Close ends the association: it sends close_notify if the handshake
// completed and waits for its goroutines (handshake, read session). The
// DTLS[rx] and DTLS[tx] call it from Stop. Closing twice does nothing.
func (a *Association) Close() error {
	if !a.valid() {
		return mediaport.ErrNilHandle
	}
	a.once.Do(func() {
		a.mu.Lock()
		a.closing.Store(true)
		c := a.conn
		a.mu.Unlock()
		a.ready.Store(false)
		a.flush() // wakes the handshake or pion's reader
		if c != nil {
			c.Close() // close_notify; ends a read session
		}
		a.wg.Wait()
		if f := a.fast.Load(); f != nil && !a.ended.Load() {
			a.closeNotify(f)
		}
		a.mu.Lock()
		if a.state == Handshaking || a.state == Established {
			a.state = Closed // the goroutine's finish may not have run yet
		}
		a.mu.Unlock()
		a.raw.Close()
		a.raw.Reset()
		a.dropEarly()
	})
	return nil
}

// Err returns why the association failed (State's error), or nil.
func (a *Association) Err() error {
	if !a.valid() {
		return mediaport.ErrNilHandle
	}
	_, err := a.State()
	return err
}

// State returns where the association is, and for Failed the error. A
// nil or zero Association is Closed, with ErrNilHandle.
func (a *Association) State() (State, error) {
	if !a.valid() {
		return Closed, mediaport.ErrNilHandle
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state, a.err
}

// Peer returns the address of the peer (zero while a learning server has
// heard no ClientHello).
func (a *Association) Peer() netip.AddrPort {
	if !a.valid() {
		return netip.AddrPort{}
	}
	if p := a.peer.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// Stats returns the association's counters.
func (a *Association) Stats() Stats {
	if !a.valid() {
		return Stats{}
	}
	return Stats{Records: a.records.Load(), Foreign: a.foreign.Load(),
		Malformed: a.malformed.Load(), Rejected: a.rejected.Load(), Overrun: a.raw.Drops(), Moves: a.moves.Load(),
		Replayed: a.replayed.Load(), Unauthentic: a.unauthentic.Load()}
}
