package turn

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

// LogValue implements slog.LogValuer: the server, username and what is
// asked, with the password redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("server", c.Server.String()), slog.String("username", c.Username),
		slog.Any("password", secret(c.Password != "")), slog.String("compatibility", c.Compatibility.String()),
		slog.Duration("lifetime", c.Lifetime), slog.Duration("keepalive", c.Keepalive),
		slog.String("local", c.Local.String()))
}

// LogValue implements slog.LogValuer: the username and what is asked,
// with the password redacted (Previous, a server's response, is left
// out).
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", string(r.Username)), slog.Any("password", secret(len(r.Password) > 0)),
		slog.String("ports", r.Ports.String()), slog.Int("bandwidth", int(r.Bandwidth)), slog.Int("lifetime", int(r.Lifetime)))
}

// String returns what LogValue logs, so that fmt's verbs do not print the
// password either.
func (c Config) String() string { return c.LogValue().String() }

// String returns what LogValue logs.
func (r Request) String() string { return r.LogValue().String() }
