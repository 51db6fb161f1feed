package mediaport_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/testutil"
)

// TestCredentialPool covers RIOT 2 of docs/conformance.md: add fails when full, a
// duplicate (tag, type) is refused, removing an absent tag fails, and the
// invalid credentials are refused.
func TestCredentialPool(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{MaxCredentials: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	cert := testutil.SelfSignedCert(t, "pool")
	psk := mediaport.Credential{Tag: 10, Type: mediaport.CredPSK, PSK: mediaport.PSK{Identity: []byte("alice"), Key: []byte("secret")}}
	ec := mediaport.Credential{Tag: 10, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: cert.TLS}}
	if err := mod.AddCredential(psk); err != nil {
		t.Fatal(err)
	}
	if err := mod.AddCredential(ec); err != nil {
		t.Fatalf("same tag, other type: %v", err)
	}
	if err := mod.AddCredential(psk); !errors.Is(err, mediaport.ErrCredentialExists) {
		t.Fatalf("duplicate tag+type: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, c := range map[string]mediaport.Credential{
		"empty tag":          {Tag: mediaport.TagEmpty, Type: mediaport.CredPSK, PSK: mediaport.PSK{Key: []byte("k")}},
		"PSK without key":    {Tag: 11, Type: mediaport.CredPSK, PSK: mediaport.PSK{Identity: []byte("x")}},
		"ECDSA without cert": {Tag: 11, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: tls.Certificate{PrivateKey: other}}},
		"ECDSA without key":  {Tag: 11, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: tls.Certificate{Certificate: cert.TLS.Certificate}}},
		"ECDSA wrong key":    {Tag: 11, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: tls.Certificate{Certificate: cert.TLS.Certificate, PrivateKey: other}}},
		"unknown type":       {Tag: 11},
	} {
		if err := mod.AddCredential(c); !errors.Is(err, mediaport.ErrCredentialInvalid) {
			t.Errorf("%s: %v, want ErrCredentialInvalid", name, err)
		}
	}
	if err := mod.AddCredential(mediaport.Credential{Tag: 20, Type: mediaport.CredPSK, PSK: mediaport.PSK{Key: []byte("k")}}); err != nil {
		t.Fatal(err)
	}
	if err := mod.AddCredential(mediaport.Credential{Tag: 30, Type: mediaport.CredPSK, PSK: mediaport.PSK{Key: []byte("k")}}); !errors.Is(err, mediaport.ErrCredentialsFull) {
		t.Fatalf("fourth credential in a pool of 3: %v", err)
	}
	got, err := mod.GetCredential(10, mediaport.CredPSK)
	if err != nil || string(got.PSK.Identity) != "alice" {
		t.Fatalf("GetCredential: %+v %v", got, err)
	}
	if err := mod.RemoveCredential(10, mediaport.CredPSK); err != nil {
		t.Fatal(err)
	}
	if err := mod.RemoveCredential(10, mediaport.CredPSK); !errors.Is(err, mediaport.ErrCredentialNotFound) {
		t.Fatalf("remove absent: %v", err)
	}
	if _, err := mod.GetCredential(10, mediaport.CredPSK); !errors.Is(err, mediaport.ErrCredentialNotFound) {
		t.Fatalf("get removed: %v", err)
	}
	if mod.Credentials() != 2 {
		t.Fatalf("pool holds %d", mod.Credentials())
	}
	var nilMod *mediaport.Module
	if err := nilMod.AddCredential(psk); !errors.Is(err, mediaport.ErrNilModule) {
		t.Fatalf("nil module: %v", err)
	}
}
