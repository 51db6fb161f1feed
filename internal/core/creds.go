package core

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Credential errors (RIOT credman's CREDMAN_NO_SPACE, CREDMAN_EXIST,
// CREDMAN_NOT_FOUND, CREDMAN_INVALID).
var (
	ErrCredentialsFull     = errors.New("mediaport: credential pool full")
	ErrCredentialExists    = errors.New("mediaport: credential with this tag and type exists")
	ErrCredentialNotFound  = errors.New("mediaport: no credential with this tag and type")
	ErrCredentialInvalid   = errors.New("mediaport: invalid credential")
	ErrCredentialTypeUnset = fmt.Errorf("%w: unknown type", ErrCredentialInvalid)
)

// CredTag identifies which credentials an association may use (credman_tag_t).
// TagEmpty (0) is no tag.
type CredTag uint16

// TagEmpty is CREDMAN_TAG_EMPTY.
const TagEmpty CredTag = 0

// CredType is the type of a credential (credman_type_t).
type CredType int

const (
	// CredPSK is a pre-shared key (CREDMAN_TYPE_PSK).
	CredPSK CredType = iota + 1
	// CredECDSA is an ECDSA certificate and key (CREDMAN_TYPE_ECDSA).
	CredECDSA
)

func (t CredType) String() string {
	switch t {
	case CredPSK:
		return "PSK"
	case CredECDSA:
		return "ECDSA"
	}
	return fmt.Sprintf("CredType(%d)", int(t))
}

// PSK is a pre-shared key credential (psk_params_t).
type PSK struct {
	Identity []byte // sent by a client; looked up by a server
	Key      []byte // required
	Hint     string // the server hint this credential answers (client side)
}

// ECDSA is an ECDSA credential (ecdsa_params_t): a certificate with its
// private key, and the peer public keys accepted when an association
// verifies the peer's key (the RIOT client_keys list).
type ECDSA struct {
	Certificate    tls.Certificate
	PeerPublicKeys []crypto.PublicKey
}

// Credential is one entry of a module's pool (credman_credential_t).
type Credential struct {
	Tag   CredTag
	Type  CredType
	PSK   PSK   // when Type is CredPSK
	ECDSA ECDSA // when Type is CredECDSA
}

// Validate reports why c cannot be added, as an error matching
// ErrCredentialInvalid, or nil.
func (c *Credential) Validate() error {
	if c.Tag == TagEmpty {
		return fmt.Errorf("%w: empty tag", ErrCredentialInvalid)
	}
	switch c.Type {
	case CredPSK:
		if len(c.PSK.Key) == 0 {
			return fmt.Errorf("%w: PSK without key", ErrCredentialInvalid)
		}
	case CredECDSA:
		if len(c.ECDSA.Certificate.Certificate) == 0 {
			return fmt.Errorf("%w: ECDSA without certificate (public key)", ErrCredentialInvalid)
		}
		key, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
		if !ok || key == nil {
			return fmt.Errorf("%w: ECDSA without an ECDSA private key", ErrCredentialInvalid)
		}
		leaf, err := x509.ParseCertificate(c.ECDSA.Certificate.Certificate[0])
		if err != nil {
			return fmt.Errorf("%w: certificate: %v", ErrCredentialInvalid, err)
		}
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok || !pub.Equal(&key.PublicKey) {
			return fmt.Errorf("%w: certificate and private key do not match", ErrCredentialInvalid)
		}
	default:
		return ErrCredentialTypeUnset
	}
	return nil
}

// Credentials is a module's credential pool (credman). It is safe for
// concurrent use. Entries are copied in and out, secrets included (a
// PSK's key and identity, an ECDSA private key): the pool's copies are
// zeroed by Remove and Clear.
type Credentials struct {
	mu    sync.Mutex
	max   int
	creds []Credential
	// handouts are the copies of the pool's ECDSA keys that Matching hands
	// to handshakes, one per key (see shared).
	handouts map[*ecdsa.PrivateKey]*ecdsa.PrivateKey
}

// Add adds c (credman_add).
func (p *Credentials) Add(c Credential) error {
	if err := c.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.creds {
		if e.Tag == c.Tag && e.Type == c.Type {
			return fmt.Errorf("%w: tag %d, %v", ErrCredentialExists, c.Tag, c.Type)
		}
	}
	if len(p.creds) >= p.max {
		return fmt.Errorf("%w (%d credentials)", ErrCredentialsFull, p.max)
	}
	p.creds = append(p.creds, c.clone())
	return nil
}

// Remove removes the credential of that tag and type (credman_delete).
func (p *Credentials) Remove(tag CredTag, typ CredType) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range p.creds {
		if e.Tag == tag && e.Type == typ {
			p.forget(p.creds[i])
			p.creds[i].wipe()
			p.creds = slices.Delete(p.creds, i, i+1) // clears the slot left behind
			return nil
		}
	}
	return fmt.Errorf("%w: tag %d, %v", ErrCredentialNotFound, tag, typ)
}

// Get returns the credential of that tag and type (credman_get).
func (p *Credentials) Get(tag CredTag, typ CredType) (Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.creds {
		if e.Tag == tag && e.Type == typ {
			return e.clone(), nil
		}
	}
	return Credential{}, fmt.Errorf("%w: tag %d, %v", ErrCredentialNotFound, tag, typ)
}

// Matching returns the credentials of type typ whose tag is in tags, in
// the order of tags — the order of preference — and each once (a tag holds
// at most one credential of a type).
func (p *Credentials) Matching(tags []CredTag, typ CredType) []Credential {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Credential
	for i, t := range tags {
		if slices.Contains(tags[:i], t) {
			continue
		}
		for _, e := range p.creds {
			if e.Tag == t && e.Type == typ {
				out = append(out, p.shared(e))
				break
			}
		}
	}
	return out
}

// Len returns the number of credentials in the pool.
func (p *Credentials) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.creds)
}
