package stun

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
)

// TestSecretsRedacted: a Credential and an ICELiteConfig logged through
// slog's JSON handler, or printed with fmt, never show their passwords.
func TestSecretsRedacted(t *testing.T) {
	const pw, remote = "server-password-0123456789", "remote-password-9876543210"
	for _, v := range []any{
		Credential{Username: "u", Password: []byte(pw), Realm: "example.org"},
		&Credential{Username: "u", Password: []byte(pw)},
		ICELiteConfig{LocalUfrag: "srvu", LocalPassword: pw, RemoteUfrag: "cliu", RemotePassword: remote},
		&ICELiteConfig{LocalUfrag: "srvu", LocalPassword: pw, RemotePassword: remote},
	} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "v", v)
		out := buf.String() + fmt.Sprintf(" %v %+v", v, v)
		for _, s := range []string{pw, remote, base64.StdEncoding.EncodeToString([]byte(pw))} {
			if strings.Contains(out, s) {
				t.Errorf("%T shows a password: %s", v, out)
			}
		}
		if !strings.Contains(buf.String(), mediaport.Redacted) {
			t.Errorf("%T logged without the redaction mark: %s", v, buf.String())
		}
	}
}

// TestSessionZeroesPassword: the session keeps its own copy of the
// password (the caller may zero its own) and zeroes it when the
// credential is replaced and when the session is destroyed.
func TestSessionZeroesPassword(t *testing.T) {
	for _, replace := range []bool{true, false} {
		s, _ := Create(Config{Clock: clock.NewFake(epoch)}, "s", Callbacks{OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { return nil }}, false)
		pw := []byte("server-password-0123456789")
		s.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: pw})
		clear(pw)
		held := s.cred.Password
		if string(held) != "server-password-0123456789" {
			t.Fatalf("the session shares the caller's password: %q", held)
		}
		if replace {
			s.SetCredential(AuthNone, nil)
		} else {
			s.Destroy()
		}
		if !bytes.Equal(held, make([]byte, len(held))) {
			t.Fatalf("replace %v: password not zeroed: %q", replace, held)
		}
		s.Destroy()
	}
}

// TestICELiteCloseZeroesKeys: Close zeroes the agent's copies of the
// local and remote passwords.
func TestICELiteCloseZeroesKeys(t *testing.T) {
	l, err := NewICELite(ICELiteConfig{LocalUfrag: "u", LocalPassword: "local-secret-pw", RemoteUfrag: "r", RemotePassword: "remote-secret-pw",
		OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	local, remote := l.keys[0], l.keys[1]
	if string(local) != "local-secret-pw" || string(remote) != "remote-secret-pw" {
		t.Fatalf("keys before Close: %q %q", local, remote)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(local, make([]byte, len(local))) || !bytes.Equal(remote, make([]byte, len(remote))) {
		t.Fatalf("keys after Close: %q %q", local, remote)
	}
}
