package srtp_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
	pionsrtp "github.com/pion/srtp/v3"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/srtp"
)

// The Session against pion's Context called directly, on the same 1200-byte
// SRTP_AEAD_AES_128_GCM packets, in place, with replay protection on both
// sides: what the Session adds (its mutex, the error classification) to
// the cryptography. Ops run batch by batch (benchpair.Interleave): the
// batch a side decrypts is encrypted, untimed, just before, with fresh
// sequence numbers.

const benchBatch = 64

func benchKeys() association.SRTPKeys {
	fill := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	return association.SRTPKeys{Profile: association.SRTP_AEAD_AES_128_GCM,
		LocalKey: fill(16, 1), LocalSalt: fill(12, 2), RemoteKey: fill(16, 3), RemoteSalt: fill(12, 4)}
}

// benchPackets is a batch of packets and the plain packet they start from.
type benchPackets struct {
	plain []byte
	seq   uint16
	pkts  [][]byte
}

func newBenchPackets() *benchPackets {
	b := &benchPackets{plain: make([]byte, 1200-16), pkts: make([][]byte, benchBatch)}
	b.plain[0], b.plain[1] = 0x80, 111
	binary.BigEndian.PutUint32(b.plain[8:], 0x5eed)
	for i := range b.pkts {
		b.pkts[i] = make([]byte, 0, 1200+srtp.Overhead)
	}
	return b
}

// fill sets the batch to fresh plain packets.
func (b *benchPackets) fill() {
	for i := range b.pkts {
		b.seq++
		binary.BigEndian.PutUint16(b.plain[2:], b.seq)
		b.pkts[i] = append(b.pkts[i][:0], b.plain...)
	}
}

// BenchmarkEncryptRTP: Session.EncryptRTP against Context.EncryptRTP.
func BenchmarkEncryptRTP(b *testing.B) {
	k := benchKeys()
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		s, _ := srtp.New(k)
		p := newBenchPackets()
		return benchpair.Side{Prepare: p.fill, Ops: benchBatch, Op: func() {
			for _, q := range p.pkts {
				if _, err := s.EncryptRTP(q, q); err != nil {
					b.Fatal(err)
				}
			}
		}}
	}, func(b *testing.B) benchpair.Side {
		c, _ := pionsrtp.CreateContext(k.LocalKey, k.LocalSalt, pionsrtp.ProtectionProfileAeadAes128Gcm)
		var hdr rtp.Header
		p := newBenchPackets()
		return benchpair.Side{Prepare: p.fill, Ops: benchBatch, Op: func() {
			for _, q := range p.pkts {
				if _, err := c.EncryptRTP(q, q, &hdr); err != nil {
					b.Fatal(err)
				}
			}
		}}
	})
}

// BenchmarkDecryptRTP: Session.DecryptRTP against Context.DecryptRTP.
func BenchmarkDecryptRTP(b *testing.B) {
	k := benchKeys()
	peer := association.SRTPKeys{Profile: k.Profile, LocalKey: k.RemoteKey, LocalSalt: k.RemoteSalt, RemoteKey: k.LocalKey, RemoteSalt: k.LocalSalt}
	encrypted := func() *encBenchPackets {
		tx, _ := pionsrtp.CreateContext(k.LocalKey, k.LocalSalt, pionsrtp.ProtectionProfileAeadAes128Gcm)
		return &encBenchPackets{benchPackets: newBenchPackets(), tx: tx}
	}
	benchpair.Interleave(b, func(b *testing.B) benchpair.Side {
		s, _ := srtp.New(peer)
		p := encrypted()
		return benchpair.Side{Prepare: p.fillEncrypted, Ops: benchBatch, Op: func() {
			for _, q := range p.pkts {
				if _, err := s.DecryptRTP(q, q); err != nil {
					b.Fatal(err)
				}
			}
		}}
	}, func(b *testing.B) benchpair.Side {
		c, _ := pionsrtp.CreateContext(k.LocalKey, k.LocalSalt, pionsrtp.ProtectionProfileAeadAes128Gcm,
			pionsrtp.SRTPReplayProtection(srtp.ReplayWindow))
		var hdr rtp.Header
		p := encrypted()
		return benchpair.Side{Prepare: p.fillEncrypted, Ops: benchBatch, Op: func() {
			for _, q := range p.pkts {
				if _, err := c.DecryptRTP(q, q, &hdr); err != nil {
					b.Fatal(err)
				}
			}
		}}
	})
}

// encBenchPackets is a batch refilled with fresh SRTP packets.
type encBenchPackets struct {
	*benchPackets
	tx  *pionsrtp.Context
	hdr rtp.Header
}

func (e *encBenchPackets) fillEncrypted() {
	e.fill()
	for i, q := range e.pkts {
		e.pkts[i], _ = e.tx.EncryptRTP(q, q, &e.hdr)
	}
}
