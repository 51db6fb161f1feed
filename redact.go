package mediaport

import (
	"log/slog"
)

// Redacted is what the LogValue methods of the types that hold a key or
// password log in its place.
const Redacted = "[REDACTED]"

// secret logs Redacted for a key that is set, and nothing for one that is
// not.
func secret(set bool) slog.Value {
	if set {
		return slog.StringValue(Redacted)
	}
	return slog.StringValue("")
}

// LogValue implements slog.LogValuer: the tag, the type and the PSK or
// ECDSA parameters, with the key redacted.
func (c Credential) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("tag", int(c.Tag)), slog.String("type", c.Type.String())}
	switch c.Type {
	case CredPSK:
		attrs = append(attrs, slog.Any("psk", c.PSK.LogValue()))
	case CredECDSA:
		attrs = append(attrs, slog.Any("ecdsa", c.ECDSA.LogValue()))
	}
	return slog.GroupValue(attrs...)
}

// LogValue implements slog.LogValuer: the identity and hint, and the key
// redacted.
func (p PSK) LogValue() slog.Value {
	return slog.GroupValue(slog.String("identity", string(p.Identity)), slog.String("hint", p.Hint),
		slog.Any("key", secret(len(p.Key) > 0)))
}

// LogValue implements slog.LogValuer: the size of the certificate chain,
// the private key redacted, the number of peer keys.
func (e ECDSA) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("certificates", len(e.Certificate.Certificate)),
		slog.Any("private_key", secret(e.Certificate.PrivateKey != nil)),
		slog.Int("peer_public_keys", len(e.PeerPublicKeys)))
}

// String returns what LogValue logs, so that fmt's verbs do not print the
// key either.
func (p PSK) String() string { return p.LogValue().String() }

// String returns what LogValue logs, so that fmt's verbs do not print the
// private key either.
func (e ECDSA) String() string { return e.LogValue().String() }
