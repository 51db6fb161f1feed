// Package credpool reads a module's credential pool (internal/core keeps
// it) in the types of package mediaport, which core cannot import.
package credpool

import (
	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/core"
)

// Matching returns the credentials of type typ whose tag is in tags, in the
// order of tags (the order of preference), each once.
func Matching(m *core.Module, tags []mediaport.CredTag, typ mediaport.CredType) []mediaport.Credential {
	ct := make([]core.CredTag, len(tags))
	for i, t := range tags {
		ct[i] = core.CredTag(t)
	}
	cs := m.Creds.Matching(ct, core.CredType(typ))
	if cs == nil {
		return nil
	}
	out := make([]mediaport.Credential, len(cs))
	for i, c := range cs {
		out[i] = mediaport.Credential{Tag: mediaport.CredTag(c.Tag), Type: mediaport.CredType(c.Type),
			PSK:   mediaport.PSK{Identity: c.PSK.Identity, Key: c.PSK.Key, Hint: c.PSK.Hint},
			ECDSA: mediaport.ECDSA{Certificate: c.ECDSA.Certificate, PeerPublicKeys: c.ECDSA.PeerPublicKeys}}
	}
	return out
}
