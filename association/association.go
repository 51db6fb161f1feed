// Package association is mediaport's DTLS security layer: it binds a
// DTLS[rx] and a DTLS[tx] into one terminated DTLS 1.2 association (RIOT
// sock_dtls with credman credentials), run by pion/dtls on the VMP[rx]'s
// port.
//
// Once bound, the DTLS[rx] reports Handshake when the handshake completes
// (before any data) and then delivers decrypted application data through
// GetPacket; the DTLS[tx] has capacity only once the handshake has completed
// and SendPacket encrypts. A failed handshake or a fatal alert stops the
// DTLS[rx], whose Status then returns the error; a close_notify from the peer
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
package association

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/credpool"
	"github.com/mediaport/mediaport/internal/deadline"
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
	// It is mediaport.ErrNotEstablished (and matches ErrState).
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
	if names := [...]string{"handshaking", "established", "closed", "failed"}; s >= 0 && int(s) < len(names) {
		return names[s]
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
}

// Association is a terminated DTLS association over a DTLS[rx]/DTLS[tx]
// pair. Its methods are safe for concurrent use.
type Association struct {
	cfg     Config
	mod     *core.Module
	rxc     link.RxControl
	txc     link.TxControl
	peer    atomic.Pointer[netip.AddrPort] // nil until a learning server hears a ClientHello
	learned chan struct{}                  // closed once peer is set
	raw     *pktq.Queue                    // records from the peer, for the DTLS stack
	wake    chan struct{}                  // capacity 1: records arrived
	done    chan struct{}                  // closed by Close
	// toRead (capacity 1) says that, since the handshake, pion took a
	// record or closed: Read may have something to return.
	toRead chan struct{}

	mu      sync.Mutex
	conn    *dtls.Conn
	state   State
	err     error
	closing bool
	pskTag  mediaport.CredTag // client: the PSK chosen from the hint
	// A client holding PSK and ECDSA credentials offers the certificate
	// suites first (certFirst: the current attempt does) and, if that
	// attempt fails, the PSK suites alone (pskOnly); see clientOptions.
	certFirst, pskOnly bool
	// early holds application data that arrived before the handshake
	// completed (see holdEarly).
	early []*pktq.Packet
	ready atomic.Bool
	wg    sync.WaitGroup
	once  sync.Once

	records, foreign, malformed, rejected atomic.Uint64
}

// Bind binds rx and tx into one association and starts the handshake with
// the DTLS[tx]'s destination as the peer (sock_dtls_create +
// sock_dtls_session_init). tx must be configured; rx should be attached to
// the VMP[rx] whose port tx sends from. Records from other addresses are
// dropped before the DTLS stack sees them, so spoofed ClientHellos cost no
// handshake state.
//
// A server whose DTLS[tx] has no destination learns its peer: the source of
// the first ClientHello becomes the peer and the DTLS[tx]'s destination.
// (Anyone can claim that slot with one datagram: bind to the peer the
// signalling names where you can.)
func Bind(rx *dtlsrx.DTLSRx, tx *dtlstx.DTLSTx, cfg Config) (*Association, error) {
	if cfg.Version != 0 && cfg.Version != DTLS12 {
		return nil, ErrVersion
	}
	if cfg.Role != Client && cfg.Role != Server {
		return nil, fmt.Errorf("association: %w: role %v", mediaport.ErrInvalidArgument, cfg.Role)
	}
	if len(cfg.PSKHint) > MaxPSKHint {
		return nil, fmt.Errorf("association: %w: PSK hint of %d bytes (max %d)", mediaport.ErrInvalidArgument, len(cfg.PSKHint), MaxPSKHint)
	}
	for _, fp := range cfg.PeerFingerprints {
		if _, err := parseFingerprint(fp); err != nil {
			return nil, err
		}
	}
	for _, p := range cfg.SRTPProfiles {
		if _, _, ok := p.keySalt(); !ok {
			return nil, fmt.Errorf("association: %w: SRTP profile %v", mediaport.ErrInvalidArgument, p)
		}
	}
	rxc, err := link.DTLSRxControl(rx)
	if err != nil {
		return nil, err
	}
	txc, err := link.DTLSTxControl(tx)
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
		cfg: cfg, mod: mod, rxc: rxc, txc: txc, learned: make(chan struct{}),
		raw:  pktq.NewQueue(cfg.QueueLen, mod.Packets),
		wake: make(chan struct{}, 1), done: make(chan struct{}), toRead: make(chan struct{}, 1),
	}
	if peer.IsValid() {
		a.peer.Store(&peer)
		close(a.learned)
	}
	if len(credpool.Matching(mod, cfg.Tags, mediaport.CredPSK)) == 0 && len(credpool.Matching(mod, cfg.Tags, mediaport.CredECDSA)) == 0 {
		return nil, fmt.Errorf("%w for tags %v", ErrNoCredential, cfg.Tags)
	}
	// The writer first: binding the record sink hands the association the
	// records already queued at the DTLS[rx], and a ClientHello among them
	// sets the DTLS[tx]'s destination, which must then be ours.
	if err := txc.SetWriter(a); err != nil {
		return nil, err
	}
	if err := rxc.SetRecordSink(a); err != nil {
		txc.SetWriter(nil)
		return nil, err
	}
	rxc.SetOnStop(func() { a.Close() })
	txc.SetOnStop(func() { a.Close() })
	a.wg.Add(1)
	go a.run()
	return a, nil
}

// Deliver takes a record datagram from the VMP[rx] (link.Sink).
func (a *Association) Deliver(p *pktq.Packet) bool {
	if !ValidRecords(p.Bytes()) {
		a.malformed.Add(1)
		return false
	}
	if a.ready.Load() && !acceptableEstablished(p.Bytes()) {
		a.rejected.Add(1)
		return false
	}
	peer := a.peer.Load()
	if peer == nil {
		if !isClientHello(p.Bytes()) || !a.learn(p.Src) {
			a.foreign.Add(1)
			return false
		}
		peer = a.peer.Load()
	}
	if p.Src != *peer {
		a.foreign.Add(1)
		return false
	}
	if !a.ready.Load() && onlyApplicationData(p.Bytes()) && a.holdEarly(p) {
		a.records.Add(1)
		return true
	}
	if !a.raw.Push(p) {
		return false
	}
	a.records.Add(1)
	return true
}

// maxEarly bounds the application data datagrams held during a handshake.
const maxEarly = 16

// holdEarly keeps p, application data that arrived before the handshake
// completed, until it has: pion/dtls hands such data to Read only if its
// one-record buffer is free, and drops it otherwise — the peer may send
// several records the moment its own handshake completes, before ours has.
// It reports false (p goes to pion at once) when the handshake has
// completed meanwhile or maxEarly datagrams are held already.
func (a *Association) holdEarly(p *pktq.Packet) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready.Load() || a.closing || len(a.early) >= maxEarly {
		return false
	}
	a.early = append(a.early, p)
	return true
}

// releaseEarly hands the held application data to pion, in order, and
// marks the association ready, under a.mu so that a datagram Deliver
// takes meanwhile is either held and released here or, seeing ready,
// queued after these.
func (a *Association) releaseEarly() {
	a.mu.Lock()
	for _, p := range a.early {
		if !a.raw.Push(p) {
			a.mod.Packets.Put(p)
		}
	}
	clear(a.early)
	a.early = a.early[:0]
	if !a.closing {
		a.ready.Store(true)
	}
	a.mu.Unlock()
	a.Flush()
}

// dropEarly returns held application data to the pool.
func (a *Association) dropEarly() {
	a.mu.Lock()
	for _, p := range a.early {
		a.mod.Packets.Put(p)
	}
	clear(a.early)
	a.early = a.early[:0]
	a.mu.Unlock()
}

// isClientHello reports whether the first record of b is an epoch-0
// handshake record starting with a ClientHello.
func isClientHello(b []byte) bool {
	return len(b) > 13 && b[0] == ctHandshake && b[3] == 0 && b[4] == 0 && b[13] == 1
}

// learn makes src the peer of a learning server.
func (a *Association) learn(src netip.AddrPort) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peer.Load() != nil || a.closing {
		return a.peer.Load() != nil
	}
	if err := a.txc.SetDestination(src); err != nil {
		return false
	}
	a.peer.Store(&src)
	close(a.learned)
	a.mod.Log.Debug("association learned its peer", "peer", src)
	return true
}

// Flush wakes the DTLS stack after a batch (link.Sink).
func (a *Association) Flush() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Write encrypts p into one record (link.Writer, used by SendPacket).
func (a *Association) Write(p []byte) error {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c == nil || !a.ready.Load() {
		return ErrNotEstablished
	}
	if _, err := c.Write(p); err != nil {
		return fmt.Errorf("association: write: %w", err)
	}
	return nil
}

// Ready reports whether the handshake has completed (link.Writer).
func (a *Association) Ready() bool { return a.ready.Load() }

// run performs the handshake, then reads application data until the
// association ends.
func (a *Association) run() {
	err := a.handshake()
	if err == nil {
		a.mu.Lock()
		a.state = Established
		a.mu.Unlock()
		a.releaseEarly() // and ready
		a.rxc.HandshakeDone()
		a.txc.CapacityChanged()
		a.mod.Log.Debug("association established", "peer", a.Peer(), "role", a.cfg.Role)
		err = a.readLoop()
	}
	// Done before reporting: reporting may stop the endpoints, whose Stop
	// closes the association and waits for this goroutine.
	a.wg.Done()
	a.finish(err)
}

// handshake runs handshake attempts until one completes, the timeout
// passes or the association is closed. A client makes another attempt only
// when the server's PSK hint chose a credential other than the one it
// announced, or when, holding PSK and ECDSA credentials, its attempt with
// the certificate suites failed other than by its own check of the peer
// (then it offers the PSK suites); a server starts over after a failed
// attempt (the client may retry), like a listening socket, and fails only
// at the timeout.
func (a *Association) handshake() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HandshakeTimeout)
	defer cancel()
	select {
	case <-a.learned:
	case <-a.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("%w after %v: no ClientHello", ErrHandshakeTimeout, a.cfg.HandshakeTimeout)
	}
	pskRetried := false
	for {
		c, err := a.newConn()
		if err != nil {
			return err
		}
		err = c.HandshakeContext(ctx)
		if err == nil {
			return nil
		}
		c.Close()
		a.mu.Lock()
		closing := a.closing
		retry := !closing && ctx.Err() == nil
		if a.cfg.Role == Client {
			switch {
			case a.certFirst && !a.pskOnly && !errors.Is(err, ErrFingerprint) && !errors.Is(err, ErrPeerKey):
				a.pskOnly = true // the certificate suites failed (not our check of the peer): the PSK suites
			case a.pskTag != mediaport.TagEmpty && !pskRetried:
				pskRetried = true // the hint chose another PSK
			default:
				retry = false
			}
		}
		a.mu.Unlock()
		switch {
		case closing:
			return ErrClosed
		case ctx.Err() != nil:
			return fmt.Errorf("%w after %v: %w", ErrHandshakeTimeout, a.cfg.HandshakeTimeout, err)
		case !retry:
			return err
		}
		a.mod.Log.Debug("association handshake attempt failed", "peer", a.Peer(), "role", a.cfg.Role, "err", err)
		a.raw.Reset()
		a.dropEarly() // keyed for the failed attempt
	}
}

// newConn creates the pion/dtls Conn of one handshake attempt over a fresh
// PacketConn (pion closes it when the attempt fails).
func (a *Association) newConn() (*dtls.Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return nil, ErrClosed
	}
	pc := &packetConn{a: a}
	pc.rd.Clock = a.mod.Clock
	raddr := net.UDPAddrFromAddrPort(*a.peer.Load())
	var c *dtls.Conn
	var err error
	if a.cfg.Role == Client {
		opts, oerr := a.clientOptions()
		if oerr != nil {
			return nil, oerr
		}
		c, err = dtls.ClientWithOptions(pc, raddr, opts...)
	} else {
		opts, oerr := a.serverOptions()
		if oerr != nil {
			return nil, oerr
		}
		c, err = dtls.ServerWithOptions(pc, raddr, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("association: %w", err)
	}
	a.conn = c
	return c, nil
}

// readLoop delivers decrypted application data to the DTLS[rx].
func (a *Association) readLoop() error {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	for {
		// Application data that arrived with the end of the handshake may
		// be waiting already: start with a session.
		p := a.mod.Packets.Get()
		err := a.readSession(c, p.Buf)
		a.mod.Packets.Put(p)
		if err != nil {
			return err
		}
		select {
		case <-a.toRead:
		case <-a.done:
			return ErrClosed
		}
	}
}

// readLinger is how long a read session waits for more data before it
// gives its buffer back.
const readLinger = 50 * time.Millisecond

// readSession reads application data into buf until readLinger passes
// without any, and hands it to the DTLS[rx]. pion's Conn.Read must be
// given its buffer before the data arrives, so reading only in sessions,
// which start when pion takes a record (toRead), is what lets an idle
// association hold no read buffer.
func (a *Association) readSession(c *dtls.Conn, buf []byte) error {
	for {
		select {
		case <-a.toRead: // this round covers it
		default:
		}
		c.SetReadDeadline(time.Now().Add(readLinger))
		for {
			n, err := c.Read(buf)
			if err != nil {
				if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
					break // readLinger without data
				}
				return err
			}
			a.rxc.PushData(buf[:n], *a.peer.Load())
		}
		select {
		case <-a.toRead: // records reached pion during the round: go on
		default:
			return nil
		}
	}
}

// mayRead tells the read loop that Read may have something to return.
func (a *Association) mayRead() {
	select {
	case a.toRead <- struct{}{}:
	default:
	}
}

// finish records how the association ended and tells the DTLS[rx].
func (a *Association) finish(err error) {
	a.mu.Lock()
	local := a.closing
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

// Close ends the association: it sends close_notify if the handshake
// completed and waits for its goroutine. The DTLS[rx] and DTLS[tx] call it
// from Stop. Closing twice does nothing.
func (a *Association) Close() error {
	if a == nil || a.mod == nil {
		return mediaport.ErrNilHandle
	}
	a.once.Do(func() {
		a.mu.Lock()
		a.closing = true
		c := a.conn
		a.mu.Unlock()
		a.ready.Store(false)
		close(a.done)
		if c != nil {
			c.Close() // close_notify; unblocks the read loop
		}
		a.wg.Wait()
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
	if a == nil || a.mod == nil {
		return mediaport.ErrNilHandle
	}
	_, err := a.State()
	return err
}

// State returns where the association is, and for Failed the error.
func (a *Association) State() (State, error) {
	if a == nil || a.mod == nil {
		return 0, mediaport.ErrNilHandle
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state, a.err
}

// Peer returns the address of the peer (zero while a learning server has
// heard no ClientHello).
func (a *Association) Peer() netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	if p := a.peer.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// Stats returns the association's counters.
func (a *Association) Stats() Stats {
	if a == nil || a.raw == nil {
		return Stats{}
	}
	return Stats{Records: a.records.Load(), Foreign: a.foreign.Load(),
		Malformed: a.malformed.Load(), Rejected: a.rejected.Load(), Overrun: a.raw.Drops()}
}

// established returns the Conn once the handshake has completed.
func (a *Association) established() (*dtls.Conn, error) {
	if a == nil || a.mod == nil {
		return nil, mediaport.ErrNilHandle
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != Established || a.conn == nil {
		return nil, ErrNotEstablished
	}
	return a.conn, nil
}

// ConnectionInfo is what an established association negotiated.
type ConnectionInfo struct {
	CipherSuite     dtls.CipherSuiteID
	CipherSuiteName string
	SRTPProfile     SRTPProfile // 0 when none was negotiated
	// PeerCertificate is nil for PSK suites.
	PeerCertificate *x509.Certificate
	// PeerFingerprint is the SHA-256 fingerprint of the peer certificate
	// in SDP a=fingerprint form ("sha-256 AB:CD:…"); empty for PSK suites.
	PeerFingerprint string
	// PSKIdentityHint is the hint the server sent (client side) or the
	// identity the client sent (server side), for PSK suites.
	PSKIdentity []byte
}

// Info returns what the handshake negotiated.
func (a *Association) Info() (ConnectionInfo, error) {
	c, err := a.established()
	if err != nil {
		return ConnectionInfo{}, err
	}
	st, ok := c.ConnectionState()
	if !ok {
		return ConnectionInfo{}, ErrNotEstablished
	}
	info := ConnectionInfo{CipherSuite: st.CipherSuiteID, CipherSuiteName: st.CipherSuiteID.String(), PSKIdentity: st.IdentityHint}
	if p, ok := c.SelectedSRTPProtectionProfile(); ok {
		info.SRTPProfile = SRTPProfile(p)
	}
	if len(st.PeerCertificates) > 0 {
		info.PeerFingerprint = Fingerprint(st.PeerCertificates[0])
		if cert, err := x509.ParseCertificate(st.PeerCertificates[0]); err == nil {
			info.PeerCertificate = cert
		}
	}
	return info, nil
}

// ExportKeyingMaterial exports keying material (RFC 5705) from the
// established association.
func (a *Association) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	c, err := a.established()
	if err != nil {
		return nil, err
	}
	st, ok := c.ConnectionState()
	if !ok {
		return nil, ErrNotEstablished
	}
	return st.ExportKeyingMaterial(label, context, length)
}

// SRTPKeys are the DTLS-SRTP master keys and salts (RFC 5764 §4.2), split
// into this side's (Local: what we encrypt with) and the peer's.
type SRTPKeys struct {
	Profile               SRTPProfile
	LocalKey, LocalSalt   []byte
	RemoteKey, RemoteSalt []byte
	// Material is the whole EXTRACTOR-dtls_srtp output: client key,
	// server key, client salt, server salt.
	Material []byte
}

// SRTPKeys exports the negotiated profile's keying material
// (EXTRACTOR-dtls_srtp) and splits it by role.
func (a *Association) SRTPKeys() (SRTPKeys, error) {
	info, err := a.Info()
	if err != nil {
		return SRTPKeys{}, err
	}
	k, s, ok := info.SRTPProfile.keySalt()
	if !ok {
		return SRTPKeys{}, fmt.Errorf("association: %w: no SRTP profile negotiated", mediaport.ErrState)
	}
	m, err := a.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 2*(k+s))
	if err != nil {
		return SRTPKeys{}, err
	}
	clientKey, serverKey := m[:k], m[k:2*k]
	clientSalt, serverSalt := m[2*k:2*k+s], m[2*k+s:]
	keys := SRTPKeys{Profile: info.SRTPProfile, Material: m}
	if a.cfg.Role == Client {
		keys.LocalKey, keys.LocalSalt, keys.RemoteKey, keys.RemoteSalt = clientKey, clientSalt, serverKey, serverSalt
	} else {
		keys.LocalKey, keys.LocalSalt, keys.RemoteKey, keys.RemoteSalt = serverKey, serverSalt, clientKey, clientSalt
	}
	return keys, nil
}

// VerifyPeerFingerprint checks the peer's certificate against a fingerprint
// from SDP (a=fingerprint:sha-256 AB:CD:…, with or without the
// "a=fingerprint:" prefix).
func (a *Association) VerifyPeerFingerprint(fp string) error {
	info, err := a.Info()
	if err != nil {
		return err
	}
	want, err := parseFingerprint(fp)
	if err != nil {
		return err
	}
	if info.PeerCertificate == nil {
		return fmt.Errorf("%w: the peer presented no certificate", ErrFingerprint)
	}
	if got := sha256.Sum256(info.PeerCertificate.Raw); string(got[:]) != string(want) {
		return ErrFingerprint
	}
	return nil
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate in SDP
// a=fingerprint form: "sha-256 " and the upper-case hex bytes joined by
// colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	b.WriteString("sha-256 ")
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{x})))
	}
	return b.String()
}

// parseFingerprint parses "sha-256 AB:CD:…" (optionally prefixed
// "a=fingerprint:", case-insensitive) into the 32 digest bytes.
func parseFingerprint(fp string) ([]byte, error) {
	s := strings.TrimSpace(fp)
	s = strings.TrimPrefix(s, "a=fingerprint:")
	alg, hexs, ok := strings.Cut(s, " ")
	if !ok || !strings.EqualFold(alg, "sha-256") {
		return nil, fmt.Errorf("association: %w: fingerprint %q: want \"sha-256 AB:CD:…\"", mediaport.ErrInvalidArgument, fp)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(hexs), ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("association: %w: fingerprint %q", mediaport.ErrInvalidArgument, fp)
	}
	return b, nil
}

// verifyPeer is pion's VerifyPeerCertificate hook: fingerprints, then the
// accepted public keys.
func (a *Association) verifyPeer(cred *mediaport.Credential) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			if len(a.cfg.PeerFingerprints) > 0 || a.cfg.VerifyPeerKey {
				return fmt.Errorf("%w: the peer presented no certificate", ErrPeerKey)
			}
			return nil
		}
		if len(a.cfg.PeerFingerprints) > 0 {
			got := sha256.Sum256(raw[0])
			match := false
			for _, fp := range a.cfg.PeerFingerprints {
				if want, _ := parseFingerprint(fp); string(want) == string(got[:]) {
					match = true
				}
			}
			if !match {
				return ErrFingerprint
			}
		}
		if a.cfg.VerifyPeerKey {
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrPeerKey, err)
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok || cred == nil {
				return ErrPeerKey
			}
			for _, k := range cred.ECDSA.PeerPublicKeys {
				if kp, ok := k.(*ecdsa.PublicKey); ok && kp.Equal(pub) {
					return nil
				}
			}
			return ErrPeerKey
		}
		return nil
	}
}

// certificate chooses the ECDSA credential to present.
func (a *Association) certificate() *mediaport.Credential {
	creds := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredECDSA)
	if len(creds) == 0 {
		return nil
	}
	if a.cfg.SelectCertificate != nil {
		if tag := a.cfg.SelectCertificate(a.cfg.Tags); tag != mediaport.TagEmpty {
			for i := range creds {
				if creds[i].Tag == tag {
					return &creds[i]
				}
			}
		}
	}
	return &creds[0]
}

// ChoosePSK applies RIOT's client PSK choice (docs/conformance.md, RIOT 4) to the
// PSK credentials creds (in tag order): the callback's tag if it names one
// of them; else, without a hint, the first; with a hint, the first whose
// hint matches, else the first. It returns false when creds is empty.
func ChoosePSK(hint string, tags []mediaport.CredTag, creds []mediaport.Credential, cb func(string, []mediaport.CredTag) mediaport.CredTag) (mediaport.Credential, bool) {
	if len(creds) == 0 {
		return mediaport.Credential{}, false
	}
	if cb != nil {
		if tag := cb(hint, tags); tag != mediaport.TagEmpty {
			for _, c := range creds {
				if c.Tag == tag {
					return c, true
				}
			}
		}
	}
	if hint != "" {
		for _, c := range creds {
			if c.PSK.Hint == hint {
				return c, true
			}
		}
	}
	return creds[0], true
}

func (a *Association) commonOptions(psk, ecdsaCred bool) []dtls.Option {
	var suites []dtls.CipherSuiteID
	if ecdsaCred {
		suites = append(suites, ecdsaSuites...)
	}
	if psk {
		suites = append(suites, pskSuites...)
	}
	opts := []dtls.Option{
		dtls.WithCipherSuites(suites...),
		dtls.WithMTU(a.cfg.MTU),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
	}
	if len(a.cfg.SRTPProfiles) > 0 {
		opts = append(opts, dtls.WithSRTPProtectionProfiles(pionProfiles(a.cfg.SRTPProfiles)...))
	}
	if a.cfg.FlightInterval > 0 {
		opts = append(opts, dtls.WithFlightInterval(a.cfg.FlightInterval))
	}
	return opts
}

func (a *Association) clientOptions() ([]dtls.ClientOption, error) {
	psks := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK)
	cert := a.certificate()
	// Given a PSK callback, pion's client cannot complete a certificate
	// suite: it waits for a ServerKeyExchange where the server sends its
	// Certificate, until the timeout. Holding both kinds, offer the
	// certificate suites, then, if that attempt fails, the PSK suites.
	a.certFirst = len(psks) > 0 && cert != nil && !a.pskOnly
	switch {
	case a.certFirst:
		psks = nil
	case a.pskOnly:
		cert = nil
	}
	var opts []dtls.ClientOption
	for _, o := range a.commonOptions(len(psks) > 0, cert != nil) {
		opts = append(opts, o)
	}
	if cert != nil {
		opts = append(opts, dtls.WithCertificates(cert.ECDSA.Certificate),
			dtls.WithInsecureSkipVerify(true), dtls.WithVerifyPeerCertificate(a.verifyPeer(cert)))
	}
	if len(psks) > 0 {
		// The identity goes out in ClientKeyExchange, after the server's
		// hint is known, but pion takes it before the handshake: announce
		// the credential chosen last time (or without a hint), and retry
		// once if the hint chooses another.
		announced, _ := ChoosePSK("", a.cfg.Tags, psks, nil)
		if a.pskTag != mediaport.TagEmpty {
			for _, c := range psks {
				if c.Tag == a.pskTag {
					announced = c
				}
			}
		}
		identity := announced.PSK.Identity
		if identity == nil {
			identity = []byte{}
		}
		opts = append(opts, dtls.WithPSKIdentityHint(identity), dtls.WithPSK(func(hint []byte) ([]byte, error) {
			chosen, ok := ChoosePSK(string(hint), a.cfg.Tags, credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK), a.cfg.ClientPSK)
			if !ok {
				return nil, ErrNoCredential
			}
			if chosen.Tag != announced.Tag && string(chosen.PSK.Identity) != string(announced.PSK.Identity) {
				a.mu.Lock()
				a.pskTag = chosen.Tag
				a.mu.Unlock()
				return nil, fmt.Errorf("association: hint %q chose PSK tag %d, retrying", hint, chosen.Tag)
			}
			return chosen.PSK.Key, nil
		}))
	}
	return opts, nil
}

func (a *Association) serverOptions() ([]dtls.ServerOption, error) {
	psks := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK)
	cert := a.certificate()
	var opts []dtls.ServerOption
	for _, o := range a.commonOptions(len(psks) > 0, cert != nil) {
		opts = append(opts, o)
	}
	if cert != nil {
		// A client certificate is asked for only when something checks it:
		// the handshake costs two fewer signatures otherwise.
		auth := dtls.NoClientCert
		if a.cfg.VerifyPeerKey || len(a.cfg.PeerFingerprints) > 0 {
			auth = dtls.RequireAnyClientCert
		}
		opts = append(opts, dtls.WithCertificates(cert.ECDSA.Certificate), dtls.WithClientAuth(auth),
			dtls.WithInsecureSkipVerify(true), dtls.WithVerifyPeerCertificate(a.verifyPeer(cert)))
	}
	if len(psks) > 0 {
		if a.cfg.PSKHint != "" {
			opts = append(opts, dtls.WithPSKIdentityHint([]byte(a.cfg.PSKHint)))
		}
		opts = append(opts, dtls.WithPSK(func(identity []byte) ([]byte, error) {
			for _, c := range credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK) {
				if string(c.PSK.Identity) == string(identity) {
					return c.PSK.Key, nil
				}
			}
			return nil, fmt.Errorf("%w: unknown PSK identity %q", ErrNoCredential, identity)
		}))
	}
	return opts, nil
}

// packetConn is the net.PacketConn pion runs over: it reads the records
// the VMP[rx] handed to the association and writes through the DTLS[tx].
// pion closes it when a handshake attempt fails, so each attempt has its
// own.
type packetConn struct {
	a      *Association
	closed atomic.Bool
	rd     deadline.Deadline
	took   bool // the last ReadFrom returned a record (pion's reader goroutine only)
}

func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.took {
		// pion is back for more: whatever the last record gave Read is
		// waiting now. Tell the read loop again, so that a read round
		// starts after the data, not only when pion took the record — a
		// round whose deadline fired just as the data came may have
		// returned the timeout rather than the data.
		c.took = false
		if c.a.ready.Load() {
			c.a.mayRead()
		}
	}
	for {
		if c.closed.Load() {
			return 0, nil, net.ErrClosed
		}
		done := c.rd.Done()
		pp, ok, err := c.a.raw.Pop(p)
		if ok {
			if err != nil {
				return 0, nil, err
			}
			if c.a.ready.Load() {
				c.a.mayRead() // a session must run while pion pushes: it blocks when Read is not called
			}
			c.took = true
			return pp.N, net.UDPAddrFromAddrPort(pp.Src), nil
		}
		select {
		case <-c.a.wake:
		case <-c.a.done:
			return 0, nil, net.ErrClosed
		case <-done:
			return 0, nil, errDeadline
		}
	}
}

var errDeadline = &net.OpError{Op: "read", Net: "dtls", Err: timeoutError{}}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *packetConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if err := c.a.txc.SendRaw(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *packetConn) Close() error {
	c.closed.Store(true)
	c.rd.Stop()
	c.a.mayRead() // pion closes it when it ends: Read has its error
	return nil
}

func (c *packetConn) LocalAddr() net.Addr {
	if l, err := c.a.txc.LocalAddr(); err == nil {
		return net.UDPAddrFromAddrPort(l)
	}
	return &net.UDPAddr{}
}

func (c *packetConn) SetDeadline(t time.Time) error     { c.rd.Set(t); return nil }
func (c *packetConn) SetReadDeadline(t time.Time) error { c.rd.Set(t); return nil }
func (c *packetConn) SetWriteDeadline(time.Time) error  { return nil }
