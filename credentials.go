package mediaport

import (
	"crypto"
	"crypto/tls"

	"github.com/mediaport/mediaport/internal/core"
)

// CredTag identifies which credentials a DTLS association may use (RIOT
// credman_tag_t). An association lists the tags it may use; a credential
// carries one tag.
type CredTag uint16

// TagEmpty is no tag (CREDMAN_TAG_EMPTY).
const TagEmpty CredTag = 0

// CredType is the type of a credential (credman_type_t).
type CredType int

// Credential types.
const (
	CredPSK   CredType = iota + 1 // CREDMAN_TYPE_PSK
	CredECDSA                     // CREDMAN_TYPE_ECDSA
)

// String returns "PSK", "ECDSA" or "CredType(n)".
func (t CredType) String() string { return core.CredType(t).String() }

// Credential is one entry of a module's credential pool
// (credman_credential_t): a tag, a type, and the PSK or ECDSA parameters.
type Credential struct {
	Tag   CredTag  // required: not TagEmpty
	Type  CredType // CredPSK or CredECDSA
	PSK   PSK      // when Type is CredPSK
	ECDSA ECDSA    // when Type is CredECDSA
}

// PSK is a pre-shared key (psk_params_t): identity, key, and the server
// hint this credential answers.
type PSK struct {
	Identity []byte // sent by a client; looked up by a server
	Key      []byte // required
	Hint     string // the server hint this credential answers (client side)
}

// ECDSA is an ECDSA certificate with its private key, and the peer public
// keys accepted when an association verifies its peer's key
// (ecdsa_params_t with client_keys).
type ECDSA struct {
	// Certificate is the certificate chain and its ECDSA private key.
	Certificate tls.Certificate
	// PeerPublicKeys are the peer keys accepted (the RIOT client_keys).
	PeerPublicKeys []crypto.PublicKey
}

func (c Credential) core() core.Credential {
	return core.Credential{Tag: core.CredTag(c.Tag), Type: core.CredType(c.Type),
		PSK:   core.PSK{Identity: c.PSK.Identity, Key: c.PSK.Key, Hint: c.PSK.Hint},
		ECDSA: core.ECDSA{Certificate: c.ECDSA.Certificate, PeerPublicKeys: c.ECDSA.PeerPublicKeys}}
}

func credentialOf(c core.Credential) Credential {
	return Credential{Tag: CredTag(c.Tag), Type: CredType(c.Type),
		PSK:   PSK{Identity: c.PSK.Identity, Key: c.PSK.Key, Hint: c.PSK.Hint},
		ECDSA: ECDSA{Certificate: c.ECDSA.Certificate, PeerPublicKeys: c.ECDSA.PeerPublicKeys}}
}

// Credential pool errors; match them with errors.Is.
var (
	// ErrCredentialsFull: the pool holds Options.MaxCredentials (CREDMAN_NO_SPACE).
	ErrCredentialsFull = core.ErrCredentialsFull
	// ErrCredentialExists: a credential with that tag and type is in the pool (CREDMAN_EXIST).
	ErrCredentialExists = core.ErrCredentialExists
	// ErrCredentialNotFound: no credential with that tag and type (CREDMAN_NOT_FOUND).
	ErrCredentialNotFound = core.ErrCredentialNotFound
	// ErrCredentialInvalid: empty tag, PSK without key, ECDSA without
	// certificate or matching private key, unknown type (CREDMAN_INVALID).
	ErrCredentialInvalid = core.ErrCredentialInvalid
)

// AddCredential adds c to the module's pool (credman_add). The pool keeps
// its own copy of the secrets — the PSK key and identity, the ECDSA
// private key — and zeroes it in RemoveCredential and Module.Close; the
// caller may zero its own at once. The certificate chain and peer public
// keys are shared.
func (m *Module) AddCredential(c Credential) error {
	if m == nil || m.c == nil {
		return ErrNilModule
	}
	return m.c.Creds.Add(c.core())
}

// RemoveCredential removes the credential of that tag and type
// (credman_delete). Associations already established keep working.
func (m *Module) RemoveCredential(tag CredTag, typ CredType) error {
	if m == nil || m.c == nil {
		return ErrNilModule
	}
	return m.c.Creds.Remove(core.CredTag(tag), core.CredType(typ))
}

// GetCredential returns the credential of that tag and type (credman_get),
// with copies of its secrets.
func (m *Module) GetCredential(tag CredTag, typ CredType) (Credential, error) {
	if m == nil || m.c == nil {
		return Credential{}, ErrNilModule
	}
	c, err := m.c.Creds.Get(core.CredTag(tag), core.CredType(typ))
	return credentialOf(c), err
}

// Credentials returns the number of credentials in the pool.
func (m *Module) Credentials() int {
	if m == nil || m.c == nil {
		return 0
	}
	return m.c.Creds.Len()
}
