package mediaport

import "github.com/mediaport/mediaport/internal/core"

// CredTag identifies which credentials a DTLS association may use (RIOT
// credman_tag_t). An association lists the tags it may use; a credential
// carries one tag.
type CredTag = core.CredTag

// TagEmpty is no tag (CREDMAN_TAG_EMPTY).
const TagEmpty = core.TagEmpty

// CredType is the type of a credential (credman_type_t).
type CredType = core.CredType

// Credential types.
const (
	CredPSK   = core.CredPSK   // CREDMAN_TYPE_PSK
	CredECDSA = core.CredECDSA // CREDMAN_TYPE_ECDSA
)

// Credential is one entry of a module's credential pool
// (credman_credential_t): a tag, a type, and the PSK or ECDSA parameters.
type Credential = core.Credential

// PSK is a pre-shared key (psk_params_t): identity, key, and the server
// hint this credential answers.
type PSK = core.PSK

// ECDSA is an ECDSA certificate with its private key, and the peer public
// keys accepted when an association verifies its peer's key
// (ecdsa_params_t with client_keys).
type ECDSA = core.ECDSA

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

// AddCredential adds c to the module's pool (credman_add). The pool keeps a
// copy of the Credential struct; the key and certificate slices are shared,
// so do not modify them afterwards.
func (m *Module) AddCredential(c Credential) error {
	if m == nil || m.c == nil {
		return ErrNilModule
	}
	return m.c.Creds.Add(c)
}

// RemoveCredential removes the credential of that tag and type
// (credman_delete). Associations already established keep working.
func (m *Module) RemoveCredential(tag CredTag, typ CredType) error {
	if m == nil || m.c == nil {
		return ErrNilModule
	}
	return m.c.Creds.Remove(tag, typ)
}

// GetCredential returns the credential of that tag and type (credman_get).
func (m *Module) GetCredential(tag CredTag, typ CredType) (Credential, error) {
	if m == nil || m.c == nil {
		return Credential{}, ErrNilModule
	}
	return m.c.Creds.Get(tag, typ)
}

// Credentials returns the number of credentials in the pool.
func (m *Module) Credentials() int {
	if m == nil || m.c == nil {
		return 0
	}
	return m.c.Creds.Len()
}
