package association

import (
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/dtlsrecord"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Our record path. pion/dtls runs the handshake; once it has completed
// with an AEAD suite (dtlsrecord.Suites: AES-GCM, AES-CCM, ChaCha20-Poly1305)
// the association takes the record layer over (takeOver): it stops pion's
// Conn without anything reaching the wire, derives the keys from pion's
// state and from then on seals application data into the send buffer
// (recordsend.go) and opens records in the receive buffer (recordrecv.go)
// itself, on the caller's and on the VMP[rx]'s goroutine: an idle
// established association has no goroutine and no pion Conn. Other
// suites (CBC) stay on pion's path (read sessions, packetconn.go).

// fastPath is the record layer of an association on our path, and what
// the association keeps of pion's state (Info, ExportKeyingMaterial).
type fastPath struct {
	sendMu sync.Mutex
	local  *dtlsrecord.Cipher
	seq    uint64 // the next sequence number of epoch
	epoch  uint16

	recvMu sync.Mutex
	remote *dtlsrecord.Cipher
	window dtlsrecord.Window

	// flight is the last flight pion wrote (a server's ChangeCipherSpec
	// and Finished), sent again when the peer repeats its Finished
	// (RFC 6347 §4.2.4); nil for a client.
	flight [][]byte
	resent atomic.Uint64 // times flight was sent again
	// held is the application data pion decrypted before the takeover,
	// handed on by establishFast (the handshake goroutine only).
	held []*pktq.Packet

	suite        dtls.CipherSuiteID
	profile      SRTPProfile
	peerCert     []byte // DER, nil for PSK suites
	identityHint []byte
	master       []byte
	clientRandom [32]byte
	serverRandom [32]byte
	hash         func() hash.Hash
	isClient     bool
}

// errTakeOver: pion's state could not be taken over after it was stopped.
var errTakeOver = errors.New("association: cannot take the record layer over")

// fastSuite reports whether the records of an association with conn c
// take our path: an AEAD suite, epoch 1, no connection IDs.
func fastSuite(c *dtls.Conn) bool {
	st, ok := c.ConnectionState()
	if !ok {
		return false
	}
	_, ok = dtlsrecord.SuiteFor(uint16(st.CipherSuiteID))
	return ok
}

// takeOver moves an association whose handshake has just completed to our
// record path when its suite allows, and reports whether it did. It stops
// pion first — its PacketConn closed, so nothing pion writes from then on
// reaches the wire, its reader ends and the application data it decrypted
// already is handed to the DTLS[rx] — and reads its state after, so the
// sequence numbers continue from the last one pion could have used.
func (a *Association) takeOver() (bool, error) {
	a.mu.Lock()
	c, pc := a.conn, a.pc
	a.mu.Unlock()
	if c == nil || pc == nil || !fastSuite(c) {
		return false, nil
	}
	pc.closed.Store(true) // pion's reader gets net.ErrClosed, its writes go nowhere
	a.flush()
	// What pion decrypted is held, not handed on yet: the application
	// may answer it at once, and may send only once the association is
	// established (establishFast hands it on first).
	var held []*pktq.Packet
	defer func() {
		if a.fast.Load() == nil { // not taken over: nothing will hand it on
			for _, p := range held {
				a.mod.Packets.Put(p)
			}
		}
	}()
	for {
		// Read returns what pion decrypted, then io.EOF once its reader
		// has ended and closed its channel.
		buf := a.mod.Packets.Get()
		n, err := c.Read(buf.Buf)
		if err == nil {
			buf.N = n // pion decrypted it: its datagram is gone, no Meta
			held = append(held, buf)
			continue
		}
		a.mod.Packets.Put(buf)
		if errors.Is(err, io.EOF) || errors.Is(err, dtls.ErrConnClosed) {
			break
		}
		if al, ok := receivedAlert(err); ok && al.Fatal {
			return false, fmt.Errorf("association: %w", al)
		}
	}
	c.Close() // its close_notify goes nowhere
	st, ok := c.ConnectionState()
	if !ok {
		return false, errTakeOver
	}
	raw, err := st.MarshalBinary()
	if err != nil {
		return false, fmt.Errorf("%w: %w", errTakeOver, err)
	}
	var ps pionState
	if err := states.decode(raw, &ps); err != nil {
		return false, fmt.Errorf("%w: %w", errTakeOver, err)
	}
	suite, ok := dtlsrecord.SuiteFor(ps.CipherSuiteID)
	if !ok || ps.LocalEpoch != 1 || len(ps.LocalConnectionID) > 0 || len(ps.RemoteConnectionID) > 0 {
		return false, errTakeOver
	}
	f := &fastPath{seq: ps.SequenceNumber, epoch: ps.LocalEpoch, suite: dtls.CipherSuiteID(ps.CipherSuiteID),
		profile: SRTPProfile(ps.SRTPProtectionProfile), identityHint: ps.IdentityHint,
		master: ps.MasterSecret, hash: suite.Hash, isClient: ps.IsClient, held: held}
	if len(ps.PeerCertificates) > 0 {
		f.peerCert = ps.PeerCertificates[0]
	}
	if ps.IsClient {
		f.clientRandom, f.serverRandom = ps.LocalRandom, ps.RemoteRandom
	} else {
		f.clientRandom, f.serverRandom = ps.RemoteRandom, ps.LocalRandom
		f.flight = pc.lastFlight()
	}
	f.local, f.remote, err = dtlsrecord.Ciphers(suite, f.master, f.clientRandom[:], f.serverRandom[:], ps.IsClient)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errTakeOver, err)
	}
	if ps.RemoteSequenceNumber > 0 {
		// pion took the records below it (the peer's Finished, data
		// that came with it): the window starts where pion's stopped.
		f.window.AcceptThrough(ps.RemoteSequenceNumber - 1)
	}
	// An alert pion took just before it stopped (a close_notify right
	// behind the peer's last flight): acted on once ready (establishFast).
	for _, rec := range pc.takenAlerts() {
		if _, pt, err := f.remote.Open(rec); err == nil && len(pt) == 2 && (pt[1] == byte(AlertCloseNotify) || pt[0] == 2) {
			a.mu.Lock()
			a.pending = [2]byte{pt[0], pt[1]}
			a.hasPending = true
			a.mu.Unlock()
			break
		}
	}
	a.mu.Lock()
	a.deferAlerts = true    // until establishFast is done: see alert
	a.conn, a.pc = nil, nil // pion's Conn is gone: an idle association keeps only f
	a.fast.Store(f)
	a.mu.Unlock()
	return true, nil
}

// drainRaw opens the records queued for pion that it had not taken when
// it stopped, and any that a deliver racing the takeover queued after.
func (a *Association) drainRaw() {
	f := a.fast.Load()
	for {
		p, ok := a.raw.Take()
		if !ok {
			return
		}
		a.receiveRecords(f, p.Bytes(), false, p.Meta)
		a.mod.Packets.Put(p)
	}
}

// exportFast is RFC 5705's exporter from the state kept after pion
// stopped (pion's ExportKeyingMaterial: no context, no reserved label).
func (f *fastPath) export(label string, context []byte, length int) ([]byte, error) {
	switch {
	case len(context) != 0:
		return nil, fmt.Errorf("association: %w: an exporter context is not supported", mediaport.ErrInvalidArgument)
	case label == "client finished", label == "server finished", label == "master secret", label == "key expansion":
		return nil, fmt.Errorf("association: %w: reserved exporter label %q", mediaport.ErrInvalidArgument, label)
	}
	seed := make([]byte, 0, len(label)+64)
	seed = append(append(append(seed, label...), f.clientRandom[:]...), f.serverRandom[:]...)
	return prf.PHash(f.master, seed, length, f.hash)
}

// info is Info on our path.
func (f *fastPath) info() ConnectionInfo {
	info := ConnectionInfo{CipherSuite: f.suite, CipherSuiteName: f.suite.String(), PSKIdentity: f.identityHint, SRTPProfile: f.profile}
	if f.peerCert != nil {
		info.PeerFingerprint = Fingerprint(f.peerCert)
		if cert, err := x509.ParseCertificate(f.peerCert); err == nil {
			info.PeerCertificate = cert
		}
	}
	return info
}

// establishFast completes run for an association on our path: no read
// session ever runs; the records and application data that came during
// the takeover are opened here, in order, and the association is ready.
func (a *Association) establishFast() {
	a.mu.Lock()
	early := a.early
	a.early = nil
	a.mu.Unlock()
	f := a.fast.Load()
	// The handshake is reported before any data (the DTLS[rx]'s Handshake
	// status, a Listener's SessionNew): an application that reads the
	// data may answer it at once, which canSend allows from here on.
	a.rxc.HandshakeDone()
	for _, p := range f.held { // what pion decrypted, first: it came first
		a.rxc.PushData(p.Bytes(), a.Peer(), udp.Meta{})
		a.mod.Packets.Put(p)
	}
	f.held = nil
	a.drainRaw()
	for _, p := range early {
		a.receiveRecords(f, p.Bytes(), false, p.Meta)
		a.mod.Packets.Put(p)
	}
	a.mu.Lock()
	// Ready under mu: holdEarly (under mu) either held a datagram before,
	// taken here, or sees ready and queues it for drainRaw.
	early = a.early
	a.early = nil
	if !a.closing.Load() {
		a.ready.Store(true)
	}
	a.mu.Unlock()
	for _, p := range early {
		a.receiveRecords(f, p.Bytes(), false, p.Meta)
		a.mod.Packets.Put(p)
	}
	a.drainRaw() // what deliver queued before it saw ready
	a.txc.CapacityChanged()
	a.mod.Log.Debug("association established", "peer", a.Peer(), "role", a.role, "path", "mediaport records")
	a.raw.Trim()
	a.mu.Lock()
	a.deferAlerts = false
	pending, has := a.pending, a.hasPending
	a.mu.Unlock()
	a.wg.Done()
	if has {
		// After Done: ending stops the endpoints, whose Stop closes the
		// association and waits for this goroutine.
		a.alert(f, pending[0], AlertDescription(pending[1]))
	}
}
