package stun

import (
	"log/slog"

	"github.com/mediaport/mediaport"
)

func secret(set bool) slog.Value {
	if set {
		return slog.StringValue(mediaport.Redacted)
	}
	return slog.StringValue("")
}

// LogValue implements slog.LogValuer: the realm, username, nonce and
// which callbacks are set, with the password redacted.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("realm", c.Realm), slog.String("username", c.Username),
		slog.Any("password", secret(len(c.Password) > 0)), slog.Bool("hashed", c.Hashed),
		slog.String("nonce", c.Nonce),
		slog.Bool("get_cred", c.GetCred != nil), slog.Bool("get_password", c.GetPassword != nil))
}

// LogValue implements slog.LogValuer: the ufrags and software, with both
// passwords redacted. (Without it ICELiteConfig would log as its embedded
// Config.)
func (c ICELiteConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("local_ufrag", c.LocalUfrag), slog.Any("local_password", secret(c.LocalPassword != "")),
		slog.String("remote_ufrag", c.RemoteUfrag), slog.Any("remote_password", secret(c.RemotePassword != "")),
		slog.String("software", c.Software))
}

// String returns what LogValue logs, so that fmt's verbs do not print the
// password either.
func (c Credential) String() string { return c.LogValue().String() }

// String returns what LogValue logs.
func (c ICELiteConfig) String() string { return c.LogValue().String() }
