package core

import (
	"bytes"
	"crypto/ecdsa"
	"math/big"
)

// clone returns a copy of c that shares no secret with it: the PSK key
// and identity, and an ECDSA private key, are copied (the certificate
// chain and the peer public keys, which are public, are shared). Add has
// validated the key, so copying it cannot fail.
func (c Credential) clone() Credential {
	c.PSK.Key = bytes.Clone(c.PSK.Key)
	c.PSK.Identity = bytes.Clone(c.PSK.Identity)
	if k, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey); ok && k != nil {
		// k.Bytes returns the scalar crypto/ecdsa caches for k, the same
		// slice to every caller, not a copy: clearing it let a concurrent
		// clone of the same key read zeros.
		k2 := &ecdsa.PrivateKey{PublicKey: k.PublicKey}
		if kb, err := k.Bytes(); err == nil {
			raw := bytes.Clone(kb)
			if p, err := ecdsa.ParseRawPrivateKey(k.Curve, raw); err == nil {
				k2 = p
			}
			clear(raw)
		}
		//lint:ignore SA1019 a key Bytes cannot encode: copy the scalar (a copy, never the caller's key: wipe zeroes it)
		if k2.D == nil && k.D != nil {
			//lint:ignore SA1019 as above
			k2.D = new(big.Int).Set(k.D)
		}
		c.ECDSA.Certificate.PrivateKey = k2
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
		p.forget(p.creds[i])
		p.creds[i].wipe()
	}
	p.creds = nil
}

// shared returns c for a handshake (Matching): its PSK secrets copied, and
// its ECDSA key the one copy the pool hands out for it, made at the first
// call. crypto/ecdsa derives and caches a form of each key object on its
// first use (a scalar multiplication); a fresh copy per handshake cost
// every handshake that again. The handout copy is dropped, not zeroed, on
// Remove and Close — handshakes in flight may still sign with it — and
// the garbage collector frees it after them. p.mu is held.
func (p *Credentials) shared(c Credential) Credential {
	k, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || k == nil {
		return c.clone()
	}
	h := p.handouts[k]
	if h == nil {
		h = c.clone().ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey)
		if p.handouts == nil {
			p.handouts = map[*ecdsa.PrivateKey]*ecdsa.PrivateKey{}
		}
		p.handouts[k] = h
	}
	c.PSK.Key = bytes.Clone(c.PSK.Key)
	c.PSK.Identity = bytes.Clone(c.PSK.Identity)
	c.ECDSA.Certificate.PrivateKey = h
	return c
}

// forget drops the handout copy of c's ECDSA key (Remove, Close); p.mu is
// held.
func (p *Credentials) forget(c Credential) {
	if k, ok := c.ECDSA.Certificate.PrivateKey.(*ecdsa.PrivateKey); ok {
		delete(p.handouts, k)
	}
}
