package mediaport_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
)

// rawKey returns a fresh P-256 key in RIOT's raw form.
func rawKey(t *testing.T) (priv []byte, pub mediaport.ECCPublicKey, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err = key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := key.PublicKey.Bytes() // 0x04 || x || y
	return append([]byte(nil), priv...), mediaport.ECCPublicKey{X: pt[1:33], Y: pt[33:]}, key
}

// TestRawECDSA: a raw key becomes a credential whose self-signed
// certificate carries that key, which the pool accepts; the peers' raw
// keys become PeerPublicKeys; bad input is ErrCredentialInvalid.
func TestRawECDSA(t *testing.T) {
	priv, pub, key := rawKey(t)
	_, peerPub, peerKey := rawKey(t)
	c, err := mediaport.RawECDSA(priv, pub, []mediaport.ECCPublicKey{peerPub})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sigErr := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature)
	if !key.PublicKey.Equal(leaf.PublicKey) || sigErr != nil {
		t.Fatalf("certificate key %v, self-signature %v", leaf.PublicKey, sigErr)
	}
	if len(c.PeerPublicKeys) != 1 || !peerKey.PublicKey.Equal(c.PeerPublicKeys[0]) {
		t.Fatalf("peer keys %v", c.PeerPublicKeys)
	}
	if _, err := mediaport.RawECDSA(priv, mediaport.ECCPublicKey{}, nil); err != nil {
		t.Fatalf("without the public key: %v", err)
	}
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	if err := mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredECDSA, ECDSA: c}); err != nil {
		t.Fatalf("the pool refuses the wrapped key: %v", err)
	}

	offCurve := mediaport.ECCPublicKey{X: append([]byte(nil), pub.X...), Y: append([]byte(nil), pub.Y...)}
	offCurve.Y[31] ^= 1
	for name, f := range map[string]func() error{
		"short private": func() error { _, err := mediaport.RawECDSA(priv[:31], pub, nil); return err },
		"zero private": func() error {
			_, err := mediaport.RawECDSA(make([]byte, 32), mediaport.ECCPublicKey{}, nil)
			return err
		},
		"another public key": func() error {
			_, err := mediaport.RawECDSA(priv, peerPub, nil)
			return err
		},
		"public key off the curve": func() error { _, err := mediaport.RawECDSA(priv, offCurve, nil); return err },
		"short public key": func() error {
			_, err := mediaport.RawECDSA(priv, mediaport.ECCPublicKey{X: pub.X, Y: pub.Y[:31]}, nil)
			return err
		},
		"peer key off the curve": func() error {
			_, err := mediaport.RawECDSA(priv, pub, []mediaport.ECCPublicKey{peerPub, offCurve})
			return err
		},
	} {
		if err := f(); !errors.Is(err, mediaport.ErrCredentialInvalid) {
			t.Errorf("%s: %v, want ErrCredentialInvalid", name, err)
		}
	}
}
