package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// TestSelfSignedCert checks what the tests rely on: an ECDSA P-256 key
// matching a self-signed certificate for the common name, valid now, a new
// one each call, and PEM files a peer can load.
func TestSelfSignedCert(t *testing.T) {
	a, b := SelfSignedCert(t, "a"), SelfSignedCert(t, "b")
	cert, err := x509.ParseCertificate(a.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, ok := a.TLS.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatalf("key %T does not match the certificate", a.TLS.PrivateKey)
	}
	if cert.Subject.CommonName != "a" || cert.CheckSignatureFrom(cert) != nil {
		t.Fatalf("not self-signed for cn a: %v", cert.Subject)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		t.Fatalf("not valid now: %v–%v", cert.NotBefore, cert.NotAfter)
	}
	if bytes.Equal(a.TLS.Certificate[0], b.TLS.Certificate[0]) {
		t.Fatal("two certificates are the same")
	}
	pair, err := tls.LoadX509KeyPair(a.CertPath, a.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pair.Certificate[0], a.TLS.Certificate[0]) {
		t.Fatal("PEM certificate differs from the one in memory")
	}
}
