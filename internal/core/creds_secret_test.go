package core

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

func ecdsaCredential(t *testing.T, tag CredTag) (Credential, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return Credential{Tag: tag, Type: CredECDSA, ECDSA: ECDSA{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}}, key
}

// TestPoolZeroesSecrets: the pool keeps copies of a PSK's key and
// identity and of an ECDSA private key, hands out other copies, and zeroes
// its own on Remove and Clear (Module.Close) while the caller's and the
// copies handed out stay intact.
func TestPoolZeroesSecrets(t *testing.T) {
	p := &Credentials{max: 8}
	key := []byte("psk-secret-0123456789")
	if err := p.Add(Credential{Tag: 1, Type: CredPSK, PSK: PSK{Identity: []byte("alice"), Key: key}}); err != nil {
		t.Fatal(err)
	}
	ec, ecKey := ecdsaCredential(t, 2)
	if err := p.Add(ec); err != nil {
		t.Fatal(err)
	}
	held := p.creds[0].PSK.Key
	heldID := p.creds[0].PSK.Identity
	heldEC := p.creds[1].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	if &held[0] == &key[0] || heldEC == ecKey {
		t.Fatal("the pool shares the caller's secrets")
	}
	out, _ := p.Get(1, CredPSK)
	outEC := p.Matching([]CredTag{2}, CredECDSA)[0].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	if &out.PSK.Key[0] == &held[0] || outEC == heldEC {
		t.Fatal("Get or Matching handed out the pool's own secrets")
	}
	if err := p.Remove(1, CredPSK); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(held, make([]byte, len(held))) || !bytes.Equal(heldID, make([]byte, len(heldID))) {
		t.Fatalf("removed PSK not zeroed: %q %q", held, heldID)
	}
	if string(key) != "psk-secret-0123456789" || string(out.PSK.Key) != "psk-secret-0123456789" {
		t.Fatal("zeroing reached the caller's key or a copy handed out")
	}
	want, _ := ecKey.Bytes()
	p.Clear()
	// A zeroed key no longer works; the caller's and the copy handed out do.
	if _, err := heldEC.Bytes(); err == nil {
		t.Fatal("Clear: the pool's ECDSA key still works")
	}
	for _, k := range []*ecdsa.PrivateKey{ecKey, outEC} {
		if b, err := k.Bytes(); err != nil || !bytes.Equal(b, want) {
			t.Fatalf("Clear reached the caller's key or a copy handed out: %v", err)
		}
	}
	if p.Len() != 0 {
		t.Fatalf("%d credentials after Clear", p.Len())
	}
}

// TestMatchingHandsOutOneKeyCopy: every Matching hands out the same copy
// of a credential's ECDSA key (crypto/ecdsa caches its derived form per
// key object, so a copy per handshake cost a scalar multiplication each),
// never the pool's own; after Remove and Add a new copy.
func TestMatchingHandsOutOneKeyCopy(t *testing.T) {
	p := &Credentials{max: 8}
	ec, _ := ecdsaCredential(t, 2)
	if err := p.Add(ec); err != nil {
		t.Fatal(err)
	}
	own := p.creds[0].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	first := p.Matching([]CredTag{2}, CredECDSA)[0].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	second := p.Matching([]CredTag{2}, CredECDSA)[0].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	if first != second {
		t.Fatal("Matching made a new key copy for each call")
	}
	if first == own || !first.Equal(own) {
		t.Fatal("the handout is the pool's own key, or not the same key")
	}
	if err := p.Remove(2, CredECDSA); err != nil {
		t.Fatal(err)
	}
	if len(p.handouts) != 0 {
		t.Fatalf("%d handouts kept after Remove", len(p.handouts))
	}
	if err := p.Add(ec); err != nil {
		t.Fatal(err)
	}
	if third := p.Matching([]CredTag{2}, CredECDSA)[0].ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey); third == first {
		t.Fatal("a removed credential's handout came back")
	}
}
