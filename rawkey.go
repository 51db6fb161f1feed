package mediaport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// ECCPublicKey is a raw P-256 public key as RIOT's credman holds one
// (ecdsa_public_key_t): the affine coordinates x and y, 32 bytes each,
// big-endian.
type ECCPublicKey struct {
	X, Y []byte
}

// PublicKey returns k as a Go public key; an error matching
// ErrCredentialInvalid when the coordinates are not 32 bytes each or not a
// point of P-256.
func (k ECCPublicKey) PublicKey() (*ecdsa.PublicKey, error) {
	if len(k.X) != 32 || len(k.Y) != 32 {
		return nil, fmt.Errorf("%w: raw public key of %d+%d bytes, want 32+32 (P-256)", ErrCredentialInvalid, len(k.X), len(k.Y))
	}
	pt := make([]byte, 0, 65)
	pt = append(append(append(pt, 4), k.X...), k.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fmt.Errorf("%w: raw public key: %v", ErrCredentialInvalid, err)
	}
	return pub, nil
}

// rawCertTemplate is the certificate RawECDSA wraps a key in: self-signed,
// valid from 2000 to 9999, so that it never expires for the peers that
// check dates; what identifies it is the key (VerifyPeerKey) or its
// fingerprint.
var rawCertTemplate = x509.Certificate{
	SerialNumber:          big.NewInt(1),
	Subject:               pkix.Name{CommonName: "mediaport raw public key"},
	NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	KeyUsage:              x509.KeyUsageDigitalSignature,
	BasicConstraintsValid: true,
}

// RawECDSA builds an ECDSA credential from RIOT's raw form (credman's
// ecdsa_params_t): the private key (32 bytes, P-256), its public key and
// the public keys of the peers accepted (client_keys). RIOT's tinydtls
// presents raw public keys with the certificate types of RFC 7250, which
// pion/dtls does not negotiate: mediaport presents the key in a
// self-signed X.509 certificate instead, and with
// association.Config.VerifyPeerKey accepts a peer whose certificate
// carries one of peers' keys. A peer that speaks only RFC 7250 raw public
// keys cannot complete a certificate handshake with mediaport (see
// docs/conformance.md, RIOT 13).
//
// public may be empty (it is derived from private); given, it must match.
// The error matches ErrCredentialInvalid. The certificate is signed with a
// fresh random nonce, so two calls give two certificates (and
// fingerprints) for the same key.
func RawECDSA(private []byte, public ECCPublicKey, peers []ECCPublicKey) (ECDSA, error) {
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), private)
	if err != nil {
		return ECDSA{}, fmt.Errorf("%w: raw private key: %v", ErrCredentialInvalid, err)
	}
	if len(public.X) != 0 || len(public.Y) != 0 {
		pub, err := public.PublicKey()
		if err != nil {
			return ECDSA{}, err
		}
		if !pub.Equal(&key.PublicKey) {
			return ECDSA{}, fmt.Errorf("%w: the public key is not the private key's", ErrCredentialInvalid)
		}
	}
	var out ECDSA
	for i, p := range peers {
		pub, err := p.PublicKey()
		if err != nil {
			return ECDSA{}, fmt.Errorf("peer key %d: %w", i, err)
		}
		out.PeerPublicKeys = append(out.PeerPublicKeys, pub)
	}
	tmpl := rawCertTemplate
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return ECDSA{}, fmt.Errorf("%w: wrapping the key: %v", ErrCredentialInvalid, err)
	}
	out.Certificate = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return out, nil
}
