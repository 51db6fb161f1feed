package core

import (
	"bytes"
	"crypto/ecdsa"
)

// clone returns a copy of c that shares no secret with it: the PSK key
// and identity, and an ECDSA private key, are copied (the certificate
// chain and the peer public keys, which are public, are shared). Add has
// validated the key, so copying it cannot fail.
func (c Credential) clone() Credential {
	c.PSK.Key = bytes.Clone(c.PSK.Key)
	c.PSK.Identity = bytes.Clone(c.PSK.Identity)
	if k, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey); ok && k != nil {
		if raw, err := k.Bytes(); err == nil {
			if k2, err := ecdsa.ParseRawPrivateKey(k.Curve, raw); err == nil {
				c.ECDSA.Certificate.PrivateKey = k2
			}
			clear(raw)
		}
	}
	return c
}

// wipe zeroes the secrets of c, which must be a clone the pool owns. Go
// may keep other copies (the garbage collector moves nothing, but
// crypto/ecdsa caches a derived form of a key it has used until the key
// is collected): this is the best a Go program can do.
func (c *Credential) wipe() {
	clear(c.PSK.Key)
	clear(c.PSK.Identity)
	if k, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey); ok && k != nil {
		//lint:ignore SA1019 zeroing the raw scalar is the point: the key must stop working
		if d := k.D; d != nil {
			clear(d.Bits())
			d.SetInt64(0)
		}
	}
	*c = Credential{}
}

// Clear removes every credential, zeroing its secrets (Module.Close).
func (p *Credentials) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.creds {
		p.creds[i].wipe()
	}
	p.creds = nil
}
