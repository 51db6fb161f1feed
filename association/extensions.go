package association

import (
	"encoding/binary"
	"errors"
	"net"

	"github.com/pion/dtls/v3"
)

// Why a handshake failed when Config.ForceExtendedMasterSecret or
// Config.ForceRenegotiationInfo is set; match them with errors.Is.
var (
	// ErrNoExtendedMasterSecret: the peer did not negotiate the extended
	// master secret (RFC 7627) and Config.ForceExtendedMasterSecret is set.
	ErrNoExtendedMasterSecret = errors.New("association: the peer does not use the extended master secret")
	// ErrNoRenegotiationInfo: the peer's hello carried no
	// renegotiation_info (RFC 5746) and Config.ForceRenegotiationInfo is
	// set.
	ErrNoRenegotiationInfo = errors.New("association: the peer sent no renegotiation_info")
)

// emsMode is pion's extended master secret policy for the configuration.
func (a *Association) emsMode() dtls.ExtendedMasterSecretType {
	if a.cfg.ForceExtendedMasterSecret {
		return dtls.RequireExtendedMasterSecret
	}
	return dtls.RequestExtendedMasterSecret
}

// TLS numbers of what the renegotiation_info check reads (hsClientHello
// is hello.go's).
const (
	hsServerHello   = 2
	extRenegotiate  = 0xff01
	scsvRenegotiate = 0x00ff
	alertHSFailure  = 40
)

// ReadFrom is the packetConn's, and with Config.ForceRenegotiationInfo it
// checks the peer's hellos (a server the ClientHellos, a client the
// ServerHello) before pion sees them: one without renegotiation_info
// ends the attempt with a handshake_failure alert and
// ErrNoRenegotiationInfo. pion/dtls sends renegotiation_info and answers
// it but never requires it. Only a hello whole in one record is judged;
// a fragmented one passes unchecked.
func (w *watchedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := w.packetConn.ReadFrom(p)
	if err != nil || !w.forceRI || w.a.ready.Load() {
		return n, addr, err
	}
	want := byte(hsServerHello)
	if w.a.role == Server {
		want = hsClientHello
	}
	if hasRI, judged := helloRenegotiationInfo(p[:n], want); judged && !hasRI {
		// A fatal handshake_failure in the clear, as RFC 5746 §3.4/§3.6
		// ask; noted as the alert this attempt sent. Its sequence number
		// is far beyond any pion used in epoch 0, so that the peer's
		// replay window does not drop it.
		rec := []byte{ctAlert, 0xfe, 0xfd, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 2, 2, alertHSFailure}
		w.WriteTo(rec, addr)
		return 0, nil, ErrNoRenegotiationInfo
	}
	return n, addr, err
}

// helloRenegotiationInfo looks in a datagram for an epoch-0 handshake
// record holding a whole hello of type want; judged reports whether it
// found one, hasRI whether that hello signals renegotiation_info (the
// extension, or in a ClientHello the SCSV). Malformed hellos are left to
// pion (not judged).
func helloRenegotiationInfo(d []byte, want byte) (hasRI, judged bool) {
	for len(d) >= 13 {
		n := int(binary.BigEndian.Uint16(d[11:13]))
		if 13+n > len(d) {
			return false, false
		}
		typ, epoch, rec := d[0], binary.BigEndian.Uint16(d[3:5]), d[13:13+n]
		d = d[13+n:]
		if typ != ctHandshake || epoch != 0 || len(rec) < 12 || rec[0] != want {
			continue
		}
		length, off, frag := u24(rec[1:4]), u24(rec[6:9]), u24(rec[9:12])
		if off != 0 || frag != length || 12+length > len(rec) {
			continue // a fragment: not judged
		}
		return helloHasRI(rec[12:12+length], want == hsClientHello)
	}
	return false, false
}

func u24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

// helloHasRI parses a ClientHello or ServerHello body.
func helloHasRI(b []byte, client bool) (hasRI, ok bool) {
	// version, random, session_id
	if len(b) < 35 || len(b) < 35+int(b[34]) {
		return false, false
	}
	b = b[35+int(b[34]):]
	if client {
		if len(b) < 1 || len(b) < 1+int(b[0]) { // cookie
			return false, false
		}
		b = b[1+int(b[0]):]
		if len(b) < 2 {
			return false, false
		}
		cs := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+cs || cs%2 != 0 {
			return false, false
		}
		for i := 2; i < 2+cs; i += 2 {
			if binary.BigEndian.Uint16(b[i:]) == scsvRenegotiate {
				hasRI = true
			}
		}
		b = b[2+cs:]
		if len(b) < 1 || len(b) < 1+int(b[0]) { // compression methods
			return false, false
		}
		b = b[1+int(b[0]):]
	} else {
		if len(b) < 3 { // cipher suite, compression method
			return false, false
		}
		b = b[3:]
	}
	if len(b) == 0 {
		return hasRI, true // no extensions
	}
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return false, false
	}
	b = b[2 : 2+int(binary.BigEndian.Uint16(b))]
	for len(b) >= 4 {
		typ, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+l {
			return false, false
		}
		if typ == extRenegotiate {
			hasRI = true
		}
		b = b[4+l:]
	}
	return hasRI, true
}
