package association

import (
	"crypto/x509"
	"fmt"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
)

// established returns the Conn once the handshake has completed.
func (a *Association) established() (*dtls.Conn, error) {
	if !a.valid() {
		return nil, mediaport.ErrNilHandle
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != Established || a.conn == nil {
		return nil, ErrNotEstablished
	}
	return a.conn, nil
}

// establishedFast returns our record path once the handshake has
// completed and it took over, nil otherwise (and an error when the
// association is not established).
func (a *Association) establishedFast() (*fastPath, error) {
	if !a.valid() {
		return nil, mediaport.ErrNilHandle
	}
	f := a.fast.Load()
	if f == nil {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != Established {
		return nil, ErrNotEstablished
	}
	return f, nil
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
	// PSKIdentity is the hint the server sent (client side) or the
	// identity the client sent (server side), for PSK suites.
	PSKIdentity []byte
}

// Info returns what the handshake negotiated.
func (a *Association) Info() (ConnectionInfo, error) {
	if f, err := a.establishedFast(); f != nil || err != nil {
		if err != nil {
			return ConnectionInfo{}, err
		}
		return f.info(), nil
	}
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
	if f, err := a.establishedFast(); f != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return f.export(label, context, length)
	}
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
	if a.role == Client {
		keys.LocalKey, keys.LocalSalt, keys.RemoteKey, keys.RemoteSalt = clientKey, clientSalt, serverKey, serverSalt
	} else {
		keys.LocalKey, keys.LocalSalt, keys.RemoteKey, keys.RemoteSalt = serverKey, serverSalt, clientKey, clientSalt
	}
	return keys, nil
}

// VerifyPeerFingerprint checks the peer's certificate against one SDP
// a=fingerprint line of any hash Config.PeerFingerprints accepts
// ("sha-256 AB:CD:…", with or without the "a=fingerprint:" prefix); an
// unknown hash or a malformed line is an error matching
// mediaport.ErrInvalidArgument, a mismatch ErrFingerprint.
func (a *Association) VerifyPeerFingerprint(fp string) error {
	info, err := a.Info()
	if err != nil {
		return err
	}
	want, known, err := parseFingerprint(fp)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("%w: %q", ErrNoUsableFingerprint, fp)
	}
	if info.PeerCertificate == nil {
		return fmt.Errorf("%w: the peer presented no certificate", ErrFingerprint)
	}
	if !matchFingerprint(info.PeerCertificate.Raw, []fingerprint{want}) {
		return ErrFingerprint
	}
	return nil
}
