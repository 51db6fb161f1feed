package mediaport_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
)

// leaks reports how a secret shows in out: raw, hex, base64 or decimal.
func leaks(out string, secret []byte) bool {
	s := string(secret)
	return strings.Contains(out, s) || strings.Contains(out, hex.EncodeToString(secret)) ||
		strings.Contains(out, base64.StdEncoding.EncodeToString(secret))
}

// TestCredentialsRedacted: a Credential, PSK and ECDSA logged through
// slog's JSON handler (and printed with fmt's %v) show their public parts
// and never their key.
func TestCredentialsRedacted(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	scalar, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	decimal := new(big.Int).SetBytes(scalar).String()
	psk := mediaport.PSK{Identity: []byte("alice"), Key: []byte("psk-secret-0123456789"), Hint: "hint"}
	ec := mediaport.ECDSA{Certificate: tls.Certificate{Certificate: [][]byte{{1, 2, 3}}, PrivateKey: key}}
	for _, c := range []struct {
		name   string
		v      any
		secret []byte
		public string
	}{
		{"PSK", psk, psk.Key, "alice"},
		{"*PSK", &psk, psk.Key, "alice"},
		{"Credential PSK", mediaport.Credential{Tag: 7, Type: mediaport.CredPSK, PSK: psk}, psk.Key, "alice"},
		{"ECDSA", ec, scalar, "certificates"},
		{"Credential ECDSA", mediaport.Credential{Tag: 8, Type: mediaport.CredECDSA, ECDSA: ec}, scalar, "ECDSA"},
	} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("credential", "c", c.v)
		out := buf.String()
		if leaks(out, c.secret) || strings.Contains(out, decimal) || !strings.Contains(out, mediaport.Redacted) || !strings.Contains(out, c.public) {
			t.Errorf("%s logged as %s", c.name, out)
		}
		if s := fmt.Sprintf("%v %+v", c.v, c.v); leaks(s, c.secret) || strings.Contains(s, decimal) {
			t.Errorf("%s printed as %s", c.name, s)
		}
	}
}

// TestCredentialPoolCopies: the pool keeps its own copy of a PSK key (the
// caller may zero its own) and hands out copies.
func TestCredentialPoolCopies(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	key := []byte("psk-secret-0123456789")
	if err := mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredPSK, PSK: mediaport.PSK{Key: key}}); err != nil {
		t.Fatal(err)
	}
	clear(key) // the caller's copy
	got, err := mod.GetCredential(1, mediaport.CredPSK)
	if err != nil || string(got.PSK.Key) != "psk-secret-0123456789" {
		t.Fatalf("pool's key after the caller zeroed its own: %q %v", got.PSK.Key, err)
	}
	clear(got.PSK.Key) // a copy: the pool keeps its own
	again, _ := mod.GetCredential(1, mediaport.CredPSK)
	if string(again.PSK.Key) != "psk-secret-0123456789" {
		t.Fatalf("GetCredential handed out the pool's key: %q", again.PSK.Key)
	}
	// That the pool zeroes its own copy on remove and close is tested in
	// internal/core, which can see it.
}
