package association_test

import (
	"crypto/sha1" //nolint:gosec // RFC 8122 lists SHA-1
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// The RFC 8122 hashes and an independent computation of each.
var fpHashes = []struct {
	name string
	sum  func([]byte) []byte
}{
	{"sha-1", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }}, //nolint:gosec
	{"sha-224", func(b []byte) []byte { s := sha256.Sum224(b); return s[:] }},
	{"sha-256", func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
	{"sha-384", func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }},
	{"sha-512", func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }},
}

// fpLine formats an a=fingerprint value: name, space, hex bytes (format
// "%02X" or "%02x") joined by colons.
func fpLine(name, format string, sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf(format, b)
	}
	return name + " " + strings.Join(parts, ":")
}

// TestFingerprintHash: each hash of RFC 8122, its name in either case,
// gives the lower-case name and the upper-case hex digest joined by
// colons; Fingerprint is the sha-256 one; an unknown name is an error.
func TestFingerprintHash(t *testing.T) {
	der := newCert(t).TLS.Certificate[0]
	for _, h := range fpHashes {
		want := fpLine(h.name, "%02X", h.sum(der))
		for _, name := range []string{h.name, strings.ToUpper(h.name)} {
			got, err := association.FingerprintHash(der, name)
			if err != nil || got != want {
				t.Fatalf("FingerprintHash(%s) = %q, %v; want %q", name, got, err, want)
			}
		}
	}
	if got, want := association.Fingerprint(der), fpLine("sha-256", "%02X", fpHashes[2].sum(der)); got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
	for _, name := range []string{"md5", "sha-3", "", "sha256"} {
		if got, err := association.FingerprintHash(der, name); !errors.Is(err, mediaport.ErrInvalidArgument) || got != "" {
			t.Fatalf("FingerprintHash(%q) = %q, %v: want ErrInvalidArgument", name, got, err)
		}
	}
}

// TestBindFingerprintLines: Bind accepts any mix of lines with at least
// one usable (a known hash, a digest of its size, hex of either case in
// colon-joined pairs), ignores unknown hash names, fails with
// ErrNoUsableFingerprint when none is usable and with ErrInvalidArgument
// on a malformed line.
func TestBindFingerprintLines(t *testing.T) {
	mod := certModule(t)
	der := newCert(t).TLS.Certificate[0]
	sha256Line := fpLine("sha-256", "%02X", fpHashes[2].sum(der))
	sha512Lower := fpLine("SHA-512", "%02x", fpHashes[4].sum(der))
	short := fpLine("sha-256", "%02X", fpHashes[2].sum(der)[:31])
	for _, tc := range []struct {
		name  string
		lines []string
		want  error // nil: Bind succeeds
	}{
		{"sha-256", []string{sha256Line}, nil},
		{"prefix, upper-case name, lower-case hex", []string{"a=fingerprint:" + sha512Lower}, nil},
		{"unknown names beside a usable one", []string{"md5 AB:CD", "foo-hash 00", sha512Lower}, nil},
		{"several usable", []string{sha256Line, sha512Lower}, nil},
		{"only unknown names", []string{"md5 AB:CD", "foo-hash 00"}, association.ErrNoUsableFingerprint},
		{"bad hex", []string{sha256Line[:8] + "ZZ" + sha256Line[10:]}, mediaport.ErrInvalidArgument},
		{"wrong length", []string{short}, mediaport.ErrInvalidArgument},
		{"no colons", []string{strings.ReplaceAll(sha256Line, ":", "")}, mediaport.ErrInvalidArgument},
		{"single digits", []string{"sha-1 " + strings.Repeat("A:", 19) + "A"}, mediaport.ErrInvalidArgument},
		{"no value", []string{"sha-256"}, mediaport.ErrInvalidArgument},
		{"empty line", []string{""}, mediaport.ErrInvalidArgument},
		{"malformed beside a usable one", []string{sha256Line, "sha-1 00"}, mediaport.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSide(t, mod)
			if err := s.tx.Config(dtlstx.Config{Destination: s.port, Local: s.port}); err != nil {
				t.Fatal(err)
			}
			a, err := association.Bind(s.rx, s.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, PeerFingerprints: tc.lines})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Bind: %v", err)
				}
				a.Close()
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Bind: %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, association.ErrNoUsableFingerprint) && !errors.Is(err, mediaport.ErrInvalidArgument) {
				t.Fatalf("Bind: %v does not match ErrInvalidArgument", err)
			}
			if !errors.Is(tc.want, association.ErrNoUsableFingerprint) && errors.Is(err, association.ErrNoUsableFingerprint) {
				t.Fatalf("Bind: %v: a malformed line is not an unusable one", err)
			}
		})
	}
}

// TestFingerprintEachHash: for each hash, a server pins the client by a
// line of that hash (upper-case name, lower-case hex) listed after an
// unknown hash and a sha-256 line of another certificate, the client the
// server by that hash: both complete, matched by the one right line, and
// VerifyPeerFingerprint agrees for every hash. Pins that all miss fail
// at once with ErrFingerprint (the module's clock never moves).
func TestFingerprintEachHash(t *testing.T) {
	cliCert, srvCert, other := testutil.SelfSignedCert(t, "cli"), testutil.SelfSignedCert(t, "srv"), testutil.SelfSignedCert(t, "other")
	cliDER, srvDER, otherDER := cliCert.TLS.Certificate[0], srvCert.TLS.Certificate[0], other.TLS.Certificate[0]
	for _, h := range fpHashes {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			mod := frozenModule(t, cliCert)
			addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: srvCert.TLS})
			cli, srv := newSide(t, mod), newSide(t, mod)
			srvPins := []string{"md5 00:11:22", association.Fingerprint(otherDER), fpLine(strings.ToUpper(h.name), "%02x", h.sum(cliDER))}
			cliPin, _ := association.FingerprintHash(srvDER, h.name)
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2}, PeerFingerprints: srvPins, HandshakeTimeout: time.Hour})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, PeerFingerprints: []string{cliPin}, HandshakeTimeout: time.Hour})
			waitEstablished(t, cli, srv)
			for _, hh := range fpHashes {
				line, _ := association.FingerprintHash(srvDER, hh.name)
				if err := cli.a.VerifyPeerFingerprint(line); err != nil {
					t.Fatalf("VerifyPeerFingerprint(%s): %v", line, err)
				}
				line, _ = association.FingerprintHash(otherDER, hh.name)
				if err := cli.a.VerifyPeerFingerprint(line); !errors.Is(err, association.ErrFingerprint) {
					t.Fatalf("VerifyPeerFingerprint(other's %s): %v, want ErrFingerprint", hh.name, err)
				}
			}
			if err := cli.a.VerifyPeerFingerprint("md5 00:11"); !errors.Is(err, mediaport.ErrInvalidArgument) {
				t.Fatalf("VerifyPeerFingerprint(md5): %v, want ErrInvalidArgument", err)
			}
			cli.sendTo(t, srv, "pinned by "+h.name)
		})
		t.Run(h.name+"/mismatch", func(t *testing.T) {
			t.Parallel()
			mod := frozenModule(t, cliCert)
			addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: srvCert.TLS})
			cli, srv := newSide(t, mod), newSide(t, mod)
			wrong, _ := association.FingerprintHash(otherDER, h.name)
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2}, PeerFingerprints: []string{"md5 00", wrong}, HandshakeTimeout: time.Hour})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: time.Hour})
			wantAlert(t, "server", srv.waitFailed(t, "server", testutil.Patience), association.AlertBadCertificate, false, association.ErrFingerprint)
			wantAlert(t, "client", cli.waitFailed(t, "client", testutil.Patience), association.AlertBadCertificate, true, nil)
		})
	}
}
