package association

import (
	"log/slog"

	"github.com/mediaport/mediaport"
)

// LogValue implements slog.LogValuer: the profile and the sizes of the
// keys and salts, with their values redacted.
func (k SRTPKeys) LogValue() slog.Value {
	red := func(b []byte) slog.Value {
		if len(b) == 0 {
			return slog.StringValue("")
		}
		return slog.StringValue(mediaport.Redacted)
	}
	return slog.GroupValue(slog.String("profile", k.Profile.String()),
		slog.Int("key_bytes", len(k.LocalKey)), slog.Int("salt_bytes", len(k.LocalSalt)),
		slog.Any("local_key", red(k.LocalKey)), slog.Any("local_salt", red(k.LocalSalt)),
		slog.Any("remote_key", red(k.RemoteKey)), slog.Any("remote_salt", red(k.RemoteSalt)),
		slog.Any("material", red(k.Material)))
}

// String returns what LogValue logs, so that fmt's verbs do not print the
// keys either; read the fields to use them.
func (k SRTPKeys) String() string { return k.LogValue().String() }
