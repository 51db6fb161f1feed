package association

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
)

// Why a handshake failed, beyond ErrFingerprint, ErrPeerKey and
// ErrNoCredential; match them with errors.Is. A failure that sent or
// received an alert also carries an *AlertError (errors.As).
var (
	// ErrNoSRTPProfile: both sides use DTLS-SRTP (RFC 5764) but share no
	// protection profile — a server that has profiles got a use_srtp
	// naming none of them, or a client that offered use_srtp got a
	// ServerHello without it or with a profile it did not offer.
	ErrNoSRTPProfile = errors.New("association: no common SRTP protection profile")
	// ErrNoCipherSuite: the two sides share no cipher suite usable with
	// their credentials.
	ErrNoCipherSuite = errors.New("association: no common cipher suite")
	// ErrNoUsableFingerprint: Config.PeerFingerprints holds lines, but
	// none names a hash function of RFC 8122 (Bind fails with it).
	ErrNoUsableFingerprint = fmt.Errorf("association: %w: no fingerprint with a supported hash (sha-1, sha-224, sha-256, sha-384, sha-512)", mediaport.ErrInvalidArgument)
)

// AlertDescription is the description of a TLS alert (RFC 5246 §7.2).
type AlertDescription uint8

// Alert descriptions a handshake failure commonly carries.
const (
	AlertCloseNotify          AlertDescription = 0
	AlertUnexpectedMessage    AlertDescription = 10
	AlertBadRecordMAC         AlertDescription = 20
	AlertHandshakeFailure     AlertDescription = 40
	AlertBadCertificate       AlertDescription = 42
	AlertIllegalParameter     AlertDescription = 47
	AlertDecodeError          AlertDescription = 50
	AlertDecryptError         AlertDescription = 51
	AlertProtocolVersion      AlertDescription = 70
	AlertInsufficientSecurity AlertDescription = 71
	AlertInternalError        AlertDescription = 80
	AlertUnsupportedExtension AlertDescription = 110
)

var alertNames = map[AlertDescription]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
	90: "user_canceled", 100: "no_renegotiation", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name", 113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 120: "no_application_protocol",
}

// String returns the alert's name as the RFCs spell it
// ("bad_certificate").
func (d AlertDescription) String() string {
	if s, ok := alertNames[d]; ok {
		return s
	}
	return fmt.Sprintf("alert(%d)", uint8(d))
}

// AlertError is a TLS alert that ended a handshake: one the peer sent
// (Received) or one this side sent. A failure carries it next to its
// cause: errors.As finds it, and errors.Is the cause (a sent
// bad_certificate comes with ErrFingerprint or ErrPeerKey, a sent
// insufficient_security with ErrNoSRTPProfile or ErrNoCipherSuite).
type AlertError struct {
	Description AlertDescription
	// Fatal is false only for a close_notify that ended a handshake.
	Fatal bool
	// Received is true for the peer's alert, false for ours.
	Received bool
}

func (e *AlertError) Error() string {
	level := "fatal"
	if !e.Fatal {
		level = "warning"
	}
	if e.Received {
		return fmt.Sprintf("received %s alert %s (%d)", level, e.Description, uint8(e.Description))
	}
	return fmt.Sprintf("sent %s alert %s (%d)", level, e.Description, uint8(e.Description))
}

// pionAlert is pion's error for an alert received: an *alert.Alert
// embedded in an unexported type, whose Marshal gives level and
// description.
type pionAlert interface {
	IsFatalOrCloseNotify() bool
	Marshal() ([]byte, error)
}

// receivedAlert returns the alert a handshake error of pion says arrived.
func receivedAlert(err error) (*AlertError, bool) {
	var pa pionAlert
	if !errors.As(err, &pa) {
		return nil, false
	}
	b, merr := pa.Marshal()
	if merr != nil || len(b) != 2 {
		return nil, false
	}
	return &AlertError{Description: AlertDescription(b[1]), Fatal: b[0] == 2, Received: true}, true
}

// pionCauses maps the texts of pion/dtls v3's unexported handshake errors
// (the Err of its *dtls.FatalError) to the sentinels they stand for.
var pionCauses = map[string]error{
	"client requested SRTP but we have no matching profiles":                                   ErrNoSRTPProfile,
	"SRTP support was requested but server did not respond with use_srtp extension":            ErrNoSRTPProfile,
	"server responded with SRTP Profile we do not support":                                     ErrNoSRTPProfile,
	"client+server do not support any shared cipher suites":                                    ErrNoCipherSuite,
	"client required Extended Master Secret extension, but server does not support it":         ErrNoExtendedMasterSecret,
	"server requires the Extended Master Secret extension, but the client does not support it": ErrNoExtendedMasterSecret,
}

// pionCause returns the sentinel a pion/dtls error stands for, or nil.
func pionCause(err error) error {
	var fe *dtls.FatalError
	if errors.As(err, &fe) && fe.Err != nil {
		return pionCauses[fe.Err.Error()]
	}
	return nil
}

// handshakeFailure turns the error of a failed handshake attempt into the
// association's: the cause (our check's sentinel, or the one pion's error
// stands for, with pion's text) and the alert sent or received. sent is
// the description of the fatal alert this side sent in the clear during
// the attempt, if any.
func handshakeFailure(err error, sent *sentAlert) error {
	inner := err
	var he *dtls.HandshakeError
	if errors.As(err, &he) && he.Err != nil {
		inner = he.Err
	}
	if al, ok := receivedAlert(inner); ok {
		return fmt.Errorf("association: handshake failed: %w", al)
	}
	cause := inner
	if s := pionCause(inner); s != nil {
		cause = fmt.Errorf("%w (%w)", s, inner)
	}
	if d, ok := sent.get(); ok {
		return fmt.Errorf("association: handshake failed: %w; %w", cause, &AlertError{Description: d, Fatal: true})
	}
	return fmt.Errorf("association: handshake failed: %w", cause)
}

// sentAlert notes the first fatal alert a handshake attempt sends in the
// clear (epoch 0): pion reports why it failed but not the alert it sent.
type sentAlert struct{ v atomic.Uint32 } // 0x100 | description

func (s *sentAlert) get() (AlertDescription, bool) {
	if s == nil {
		return 0, false
	}
	v := s.v.Load()
	return AlertDescription(v), v != 0
}

// note looks at a datagram being sent for an epoch-0 fatal alert record.
func (s *sentAlert) note(datagram []byte) {
	for b := datagram; len(b) >= 13; {
		n := int(b[11])<<8 | int(b[12])
		if n > len(b)-13 {
			return
		}
		if b[0] == ctAlert && b[3] == 0 && b[4] == 0 && n == 2 && b[13] == 2 {
			s.v.CompareAndSwap(0, 0x100|uint32(b[14]))
			return
		}
		b = b[13+n:]
	}
}

// watchedConn is the PacketConn of one handshake attempt: the
// association's packetConn, noting the fatal alert pion sends until the
// association is ready.
type watchedConn struct {
	packetConn
	sent    sentAlert
	forceRI bool // Config.ForceRenegotiationInfo (see ReadFrom)
	// flight is a server's last flight (from its ChangeCipherSpec on),
	// which our record path sends again if the peer repeats its Finished.
	flightMu sync.Mutex
	flight   [][]byte
}

// lastFlight returns the datagrams of the last flight written (see
// noteFlight).
func (w *watchedConn) lastFlight() [][]byte {
	w.flightMu.Lock()
	defer w.flightMu.Unlock()
	return w.flight
}

// noteFlight keeps a copy of the datagrams a server writes from the one
// holding its ChangeCipherSpec on: its final flight (RFC 6347 §4.2.4), or
// its retransmission, which replaces it.
func (w *watchedConn) noteFlight(p []byte) {
	w.flightMu.Lock()
	defer w.flightMu.Unlock()
	d := append([]byte(nil), p...)
	switch {
	case hasChangeCipherSpec(p):
		w.flight = [][]byte{d} // a new slice: lastFlight's stays as it was
	case w.flight != nil:
		w.flight = append(w.flight, d)
	}
}

// hasChangeCipherSpec reports whether a datagram holds a ChangeCipherSpec
// record.
func hasChangeCipherSpec(datagram []byte) bool {
	for b := datagram; len(b) >= 13; {
		if b[0] == ctChangeCipherSpec {
			return true
		}
		n := int(b[11])<<8 | int(b[12])
		if n > len(b)-13 {
			return false
		}
		b = b[13+n:]
	}
	return false
}

func (w *watchedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if w.closed.Load() {
		return 0, net.ErrClosed
	}
	if w.a.role == Server && !w.a.ready.Load() {
		w.noteFlight(p)
	}
	if !w.a.ready.Load() && w.sent.v.Load() == 0 {
		w.sent.note(p)
		if w.a.role == Server && garbageAlert(p) {
			// pion refused a record it could not take: a server treats it
			// as garbage (see negotiated) and keeps waiting, so it must not
			// tell the peer's address the handshake is over — the record
			// may be a spoofer's, the peer's handshake still to come
			// (RFC 6347 §4.1.2.7: invalid records are silently discarded).
			return len(p), nil
		}
	}
	return w.packetConn.WriteTo(p, addr)
}

// garbageAlert reports whether datagram is one epoch-0 fatal alert record
// saying decode_error or unexpected_message: pion's answer to a record it
// could not take.
func garbageAlert(datagram []byte) bool {
	return len(datagram) == 15 && datagram[0] == ctAlert && datagram[3] == 0 && datagram[4] == 0 &&
		datagram[11] == 0 && datagram[12] == 2 && datagram[13] == 2 &&
		(AlertDescription(datagram[14]) == AlertDecodeError || AlertDescription(datagram[14]) == AlertUnexpectedMessage)
}
