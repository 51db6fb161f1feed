package selfsigned

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"testing"
	"time"
)

func TestECDSA(t *testing.T) {
	a, err := ECDSA("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ECDSA("b")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(a.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, ok := a.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatalf("key %T does not match the certificate", a.PrivateKey)
	}
	if cert.Subject.CommonName != "a" || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
		t.Fatalf("not self-signed for cn a: %v", cert.Subject)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		t.Fatalf("not valid now: %v–%v", cert.NotBefore, cert.NotAfter)
	}
	if bytes.Equal(a.Certificate[0], b.Certificate[0]) {
		t.Fatal("two certificates are the same")
	}
}
