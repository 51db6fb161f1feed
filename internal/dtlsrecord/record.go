// Package dtlsrecord is the DTLS 1.2 record layer of an established
// association with an AEAD cipher suite (RFC 6347 §4.1, RFC 5288 GCM,
// RFC 6655 CCM, RFC 7905 ChaCha20-Poly1305): key derivation from the
// master secret (the TLS 1.2 PRF), sealing and opening one record in
// place, and the anti-replay window (RFC 6347 §4.1.2.6). Pure functions
// and plain values: no I/O, no goroutine, no allocation per record.
package dtlsrecord

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"

	"github.com/pion/dtls/v3/pkg/crypto/ccm"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"golang.org/x/crypto/chacha20poly1305"
)

// Record content types (RFC 6347 §4.1).
const (
	ChangeCipherSpec = 20
	Alert            = 21
	Handshake        = 22
	ApplicationData  = 23
)

// HeaderLen is the length of a DTLS record header: type, version, epoch,
// sequence number, length.
const HeaderLen = 13

// Version12 is DTLS 1.2 on the wire.
const Version12 = 0xfefd

// MaxSeq is the largest 48-bit sequence number; a sender stops before it.
const MaxSeq = 1<<48 - 1

// Errors of Open and Seal; match them with errors.Is.
var (
	// ErrShort: the record is shorter than its header, explicit nonce and
	// tag, or its length field disagrees with its size.
	ErrShort = errors.New("dtlsrecord: malformed record")
	// ErrAuth: the record does not authenticate under the keys.
	ErrAuth = errors.New("dtlsrecord: record authentication failed")
	// ErrSpace: the buffer given to Seal cannot hold the record.
	ErrSpace = errors.New("dtlsrecord: buffer too small")
	// ErrSuite: the cipher suite is not one of the AEAD suites here.
	ErrSuite = errors.New("dtlsrecord: cipher suite not supported")
)

type kind uint8

const (
	kindGCM kind = iota + 1
	kindCCM
	kindChaCha
)

// Suite describes an AEAD cipher suite's record protection.
type Suite struct {
	ID     uint16
	kind   kind
	KeyLen int
	IVLen  int // the write IV of the key block: 4 (implicit salt) or 12 (ChaCha20)
	TagLen int
	Hash   func() hash.Hash // the PRF's hash
}

// Explicit returns the length of the explicit nonce in each record: 8 for
// GCM and CCM, 0 for ChaCha20-Poly1305.
func (s Suite) Explicit() int {
	if s.kind == kindChaCha {
		return 0
	}
	return 8
}

// Suites are the AEAD suites of DTLS 1.2 this package protects records
// with, by IANA number.
var Suites = map[uint16]Suite{
	0xc02b: {ID: 0xc02b, kind: kindGCM, KeyLen: 16, IVLen: 4, TagLen: 16, Hash: sha256.New},     // ECDHE_ECDSA_AES_128_GCM_SHA256
	0xc02f: {ID: 0xc02f, kind: kindGCM, KeyLen: 16, IVLen: 4, TagLen: 16, Hash: sha256.New},     // ECDHE_RSA_AES_128_GCM_SHA256
	0xc02c: {ID: 0xc02c, kind: kindGCM, KeyLen: 32, IVLen: 4, TagLen: 16, Hash: sha512.New384},  // ECDHE_ECDSA_AES_256_GCM_SHA384
	0xc030: {ID: 0xc030, kind: kindGCM, KeyLen: 32, IVLen: 4, TagLen: 16, Hash: sha512.New384},  // ECDHE_RSA_AES_256_GCM_SHA384
	0x00a8: {ID: 0x00a8, kind: kindGCM, KeyLen: 16, IVLen: 4, TagLen: 16, Hash: sha256.New},     // PSK_AES_128_GCM_SHA256
	0xcca9: {ID: 0xcca9, kind: kindChaCha, KeyLen: 32, IVLen: 12, TagLen: 16, Hash: sha256.New}, // ECDHE_ECDSA_CHACHA20_POLY1305
	0xcca8: {ID: 0xcca8, kind: kindChaCha, KeyLen: 32, IVLen: 12, TagLen: 16, Hash: sha256.New}, // ECDHE_RSA_CHACHA20_POLY1305
	0xccab: {ID: 0xccab, kind: kindChaCha, KeyLen: 32, IVLen: 12, TagLen: 16, Hash: sha256.New}, // PSK_CHACHA20_POLY1305
	0xccac: {ID: 0xccac, kind: kindChaCha, KeyLen: 32, IVLen: 12, TagLen: 16, Hash: sha256.New}, // ECDHE_PSK_CHACHA20_POLY1305
	0xc0ac: {ID: 0xc0ac, kind: kindCCM, KeyLen: 16, IVLen: 4, TagLen: 16, Hash: sha256.New},     // ECDHE_ECDSA_AES_128_CCM
	0xc0ae: {ID: 0xc0ae, kind: kindCCM, KeyLen: 16, IVLen: 4, TagLen: 8, Hash: sha256.New},      // ECDHE_ECDSA_AES_128_CCM_8
	0xc0a4: {ID: 0xc0a4, kind: kindCCM, KeyLen: 16, IVLen: 4, TagLen: 16, Hash: sha256.New},     // PSK_AES_128_CCM
	0xc0a8: {ID: 0xc0a8, kind: kindCCM, KeyLen: 16, IVLen: 4, TagLen: 8, Hash: sha256.New},      // PSK_AES_128_CCM_8
	0xc0a9: {ID: 0xc0a9, kind: kindCCM, KeyLen: 32, IVLen: 4, TagLen: 8, Hash: sha256.New},      // PSK_AES_256_CCM_8
}

// SuiteFor returns the suite numbered id, and false when records of that
// suite are not protected here (CBC suites, unknown numbers).
func SuiteFor(id uint16) (Suite, bool) {
	s, ok := Suites[id]
	return s, ok
}

// Cipher protects the records of one direction of an association. It is
// not safe for concurrent use: a sender holds it under its lock, as does a
// receiver (with its Window).
type Cipher struct {
	aead     cipher.AEAD
	iv       [12]byte // the write IV: the 4-byte salt, or ChaCha20's 12 bytes
	explicit int
	tag      int
	nonce    [12]byte // scratch: the AEAD takes slices, which escape through the interface
	ad       [13]byte
}

// Ciphers derives the key block (RFC 5246 §6.3) of suite from the master
// secret and the randoms, and returns the ciphers this side seals with
// (local) and opens with (remote).
func Ciphers(suite Suite, masterSecret, clientRandom, serverRandom []byte, isClient bool) (local, remote *Cipher, err error) {
	if suite.kind == 0 {
		return nil, nil, ErrSuite
	}
	keys, err := prf.GenerateEncryptionKeys(masterSecret, clientRandom, serverRandom, 0, suite.KeyLen, suite.IVLen, suite.Hash)
	if err != nil {
		return nil, nil, err
	}
	client, err := NewCipher(suite, keys.ClientWriteKey, keys.ClientWriteIV)
	if err != nil {
		return nil, nil, err
	}
	server, err := NewCipher(suite, keys.ServerWriteKey, keys.ServerWriteIV)
	if err != nil {
		return nil, nil, err
	}
	if isClient {
		return client, server, nil
	}
	return server, client, nil
}

// NewCipher returns the cipher of one direction from its write key and
// write IV.
func NewCipher(suite Suite, key, iv []byte) (*Cipher, error) {
	if len(key) != suite.KeyLen || len(iv) != suite.IVLen {
		return nil, ErrSuite
	}
	c := &Cipher{explicit: suite.Explicit(), tag: suite.TagLen}
	copy(c.iv[:], iv)
	var err error
	switch suite.kind {
	case kindGCM:
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			c.aead, err = cipher.NewGCM(b)
		}
	case kindCCM:
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			c.aead, err = ccm.NewCCM(b, suite.TagLen, 12)
		}
	case kindChaCha:
		c.aead, err = chacha20poly1305.New(key)
	default:
		return nil, ErrSuite
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PayloadOffset is where the plaintext of a record starts in Seal's
// buffer: after the header and the explicit nonce.
func (c *Cipher) PayloadOffset() int { return HeaderLen + c.explicit }

// Overhead is what a record adds to its plaintext: header, explicit nonce
// and tag.
func (c *Cipher) Overhead() int { return HeaderLen + c.explicit + c.tag }

// setNonce fills c.nonce for the record numbered seq64 (epoch << 48 |
// sequence number) whose explicit nonce, if the suite has one, is
// explicit.
func (c *Cipher) setNonce(seq64 uint64, explicit []byte) {
	if c.explicit == 0 {
		c.nonce = c.iv
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], seq64)
		for i := range 8 {
			c.nonce[4+i] ^= s[i]
		}
		return
	}
	copy(c.nonce[:4], c.iv[:4])
	copy(c.nonce[4:], explicit)
}

// setAD fills c.ad, the additional data of RFC 5246 §6.2.3.3.
func (c *Cipher) setAD(seq64 uint64, typ uint8, version uint16, n int) {
	binary.BigEndian.PutUint64(c.ad[:8], seq64)
	c.ad[8] = typ
	binary.BigEndian.PutUint16(c.ad[9:11], version)
	binary.BigEndian.PutUint16(c.ad[11:13], uint16(n))
}

// Seal turns the n bytes of plaintext at buf[PayloadOffset():] into one
// record of type typ, epoch and sequence number seq, in place, and
// returns it (a prefix of buf). buf must have room for Overhead()+n bytes
// and n must not exceed 2^14 (RFC 6347 §4.1).
func (c *Cipher) Seal(buf []byte, typ uint8, epoch uint16, seq uint64, n int) ([]byte, error) {
	total := c.Overhead() + n
	if n < 0 || n > 1<<14 || len(buf) < total || seq > MaxSeq {
		return nil, ErrSpace
	}
	seq64 := uint64(epoch)<<48 | seq
	buf[0] = typ
	binary.BigEndian.PutUint16(buf[1:3], Version12)
	binary.BigEndian.PutUint64(buf[3:11], seq64)
	binary.BigEndian.PutUint16(buf[11:13], uint16(total-HeaderLen))
	off := c.PayloadOffset()
	if c.explicit > 0 {
		binary.BigEndian.PutUint64(buf[HeaderLen:off], seq64)
	}
	c.setNonce(seq64, buf[HeaderLen:off])
	c.setAD(seq64, typ, Version12, n)
	c.aead.Seal(buf[off:off], c.nonce[:], buf[off:off+n], c.ad[:])
	return buf[:total], nil
}

// Header is a record's header.
type Header struct {
	Type    uint8
	Version uint16
	Epoch   uint16
	Seq     uint64 // 48 bits
	Length  int    // of the fragment after the header
}

// ParseHeader reads the header of the record at the start of b and
// reports whether b holds the whole record.
func ParseHeader(b []byte) (Header, bool) {
	if len(b) < HeaderLen {
		return Header{}, false
	}
	h := Header{
		Type:    b[0],
		Version: binary.BigEndian.Uint16(b[1:3]),
		Epoch:   binary.BigEndian.Uint16(b[3:5]),
		Seq:     binary.BigEndian.Uint64(b[3:11]) & MaxSeq,
		Length:  int(binary.BigEndian.Uint16(b[11:13])),
	}
	return h, h.Length <= len(b)-HeaderLen
}

// Split returns the first record of a datagram and the rest, and false
// when the datagram does not start with a whole record.
func Split(datagram []byte) (record, rest []byte, ok bool) {
	h, ok := ParseHeader(datagram)
	if !ok {
		return nil, nil, false
	}
	n := HeaderLen + h.Length
	return datagram[:n], datagram[n:], true
}

// Open authenticates and decrypts one whole record (as Split returns it)
// in place: it returns the record's header and its plaintext, a slice of
// record. A record that does not authenticate is left in an unspecified
// state and reported with ErrAuth.
func (c *Cipher) Open(record []byte) (Header, []byte, error) {
	h, ok := ParseHeader(record)
	if !ok || h.Length != len(record)-HeaderLen || h.Length < c.explicit+c.tag {
		return h, nil, ErrShort
	}
	seq64 := uint64(h.Epoch)<<48 | h.Seq
	off := c.PayloadOffset()
	c.setNonce(seq64, record[HeaderLen:off])
	n := len(record) - off - c.tag
	c.setAD(seq64, h.Type, h.Version, n)
	pt, err := c.aead.Open(record[off:off], c.nonce[:], record[off:], c.ad[:])
	if err != nil {
		return h, nil, ErrAuth
	}
	return h, pt, nil
}
