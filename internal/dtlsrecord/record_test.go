package dtlsrecord

import (
	"bytes"
	"errors"
	"sort"
	"testing"

	"github.com/pion/dtls/v3/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// pionCipher is pion's record protection for a suite, keyed as this side
// (local) and the peer (remote) of the same key block.
type pionCipher interface {
	Encrypt(pkt *recordlayer.RecordLayer, raw []byte) ([]byte, error)
	Decrypt(h recordlayer.Header, in []byte) ([]byte, error)
}

var testMaster = bytes.Repeat([]byte{0x42}, 48)
var testClientRandom = bytes.Repeat([]byte{1}, 32)
var testServerRandom = bytes.Repeat([]byte{2}, 32)

func suiteIDs() []uint16 {
	var ids []uint16
	for id := range Suites {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// pionFor builds pion's cipher of suite s for the client side of the test
// key block, from pion's own key derivation.
func pionFor(t testing.TB, s Suite) pionCipher {
	t.Helper()
	keys, err := prf.GenerateEncryptionKeys(testMaster, testClientRandom, testServerRandom, 0, s.KeyLen, s.IVLen, s.Hash)
	if err != nil {
		t.Fatal(err)
	}
	var c pionCipher
	switch s.kind {
	case kindGCM:
		c, err = ciphersuite.NewGCM(keys.ClientWriteKey, keys.ClientWriteIV, keys.ServerWriteKey, keys.ServerWriteIV)
	case kindCCM:
		c, err = ciphersuite.NewCCM(ciphersuite.CCMTagLen(s.TagLen), keys.ClientWriteKey, keys.ClientWriteIV, keys.ServerWriteKey, keys.ServerWriteIV)
	case kindChaCha:
		c, err = ciphersuite.NewChaCha20Poly1305(keys.ClientWriteKey, keys.ClientWriteIV, keys.ServerWriteKey, keys.ServerWriteIV)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDifferentialPion: for every suite, a record pion's client seals
// opens with our server's remote cipher, and a record our server seals
// opens with pion's client, from the same key block.
func TestDifferentialPion(t *testing.T) {
	for _, id := range suiteIDs() {
		s := Suites[id]
		pc := pionFor(t, s)
		srvLocal, srvRemote, err := Ciphers(s, testMaster, testClientRandom, testServerRandom, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 100, 1200, 1 << 14} {
			plain := bytes.Repeat([]byte{byte(n)}, n)
			seq := uint64(n*7 + 3)
			// pion -> ours
			h := recordlayer.Header{ContentType: protocol.ContentTypeApplicationData, Version: protocol.Version1_2, Epoch: 1, SequenceNumber: seq, ContentLen: uint16(n)}
			raw, _ := h.Marshal()
			raw = append(raw, plain...)
			rec, err := pc.Encrypt(&recordlayer.RecordLayer{Header: h}, raw)
			if err != nil {
				t.Fatal(err)
			}
			got, pt, err := srvRemote.Open(rec)
			if err != nil || !bytes.Equal(pt, plain) || got.Seq != seq || got.Epoch != 1 || got.Type != ApplicationData {
				t.Fatalf("suite %#04x n=%d: ours did not open pion's record: %v", id, n, err)
			}
			// ours -> pion
			buf := make([]byte, srvLocal.Overhead()+n)
			copy(buf[srvLocal.PayloadOffset():], plain)
			rec, err = srvLocal.Seal(buf, ApplicationData, 1, seq+1, n)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := pc.Decrypt(recordlayer.Header{}, append([]byte(nil), rec...))
			if err != nil || !bytes.Equal(dec[HeaderLen:], plain) {
				t.Fatalf("suite %#04x n=%d: pion did not open our record: %v", id, n, err)
			}
		}
	}
}

// TestOpenRejects: a flipped bit anywhere (header, nonce, ciphertext,
// tag), a wrong epoch or sequence number, a truncated record all fail.
func TestOpenRejects(t *testing.T) {
	for _, id := range suiteIDs() {
		s := Suites[id]
		cl, _, _ := Ciphers(s, testMaster, testClientRandom, testServerRandom, true)
		sl, sr, _ := Ciphers(s, testMaster, testClientRandom, testServerRandom, false)
		buf := make([]byte, 200)
		copy(buf[cl.PayloadOffset():], "hello, record")
		rec, err := cl.Seal(buf, ApplicationData, 1, 9, 13)
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), rec...)
		for i := range orig {
			if i == 11 || i == 12 {
				continue // the length: ErrShort below
			}
			bad := append([]byte(nil), orig...)
			bad[i] ^= 0x10
			if _, _, err := sr.Open(bad); !errors.Is(err, ErrAuth) {
				t.Fatalf("suite %#04x: bit flipped at %d: %v", id, i, err)
			}
		}
		if _, _, err := sr.Open(orig[:len(orig)-1]); !errors.Is(err, ErrShort) {
			t.Fatalf("suite %#04x: truncated: %v", id, err)
		}
		if _, pt, err := sr.Open(append([]byte(nil), orig...)); err != nil || string(pt) != "hello, record" {
			t.Fatalf("suite %#04x: %v %q", id, err, pt)
		}
		// the other direction's key does not open it
		if _, _, err := sl.Open(append([]byte(nil), orig...)); !errors.Is(err, ErrAuth) {
			t.Fatalf("suite %#04x: opened with the sender's own key: %v", id, err)
		}
	}
}

func TestSealBounds(t *testing.T) {
	cl, _, _ := Ciphers(Suites[0xc02b], testMaster, testClientRandom, testServerRandom, true)
	if _, err := cl.Seal(make([]byte, 10), ApplicationData, 1, 0, 5); !errors.Is(err, ErrSpace) {
		t.Fatal(err)
	}
	if _, err := cl.Seal(make([]byte, 100), ApplicationData, 1, MaxSeq+1, 5); !errors.Is(err, ErrSpace) {
		t.Fatal(err)
	}
	if _, _, err := Ciphers(Suite{}, testMaster, testClientRandom, testServerRandom, true); !errors.Is(err, ErrSuite) {
		t.Fatal(err)
	}
	if _, ok := SuiteFor(0xc00a); ok { // ECDHE_ECDSA_AES_256_CBC_SHA stays on pion's path
		t.Fatal("CBC suite accepted")
	}
}

func TestSplit(t *testing.T) {
	d := []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 2, 'a', 'b', 21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 6, 0, 0}
	r, rest, ok := Split(d)
	if !ok || len(r) != 15 || len(rest) != 13 {
		t.Fatal(ok, len(r), len(rest))
	}
	h, _ := ParseHeader(r)
	if h.Epoch != 1 || h.Seq != 5 || h.Length != 2 || h.Type != ApplicationData {
		t.Fatalf("%+v", h)
	}
	if _, _, ok := Split(d[:14]); ok {
		t.Fatal("partial record split")
	}
}

// TestNoAllocs: GCM and ChaCha20-Poly1305 seal and open without
// allocating (pion's CCM, used for the CCM suites, allocates).
func TestNoAllocs(t *testing.T) {
	for _, id := range []uint16{0xc02b, 0xc02c, 0xcca9} {
		cl, _, _ := Ciphers(Suites[id], testMaster, testClientRandom, testServerRandom, true)
		_, sr, _ := Ciphers(Suites[id], testMaster, testClientRandom, testServerRandom, false)
		buf := make([]byte, 1300)
		var w Window
		seq := uint64(0)
		n := testing.AllocsPerRun(100, func() {
			rec, _ := cl.Seal(buf, ApplicationData, 1, seq, 1200)
			h, _, err := sr.Open(rec)
			if err != nil || !w.Check(h.Seq) {
				t.Fatal(err)
			}
			w.Accept(h.Seq)
			seq++
		})
		if n != 0 {
			t.Fatalf("suite %#04x: %v allocations per record", id, n)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	cl, _, _ := Ciphers(Suites[0xc02b], testMaster, testClientRandom, testServerRandom, true)
	_, sr, _ := Ciphers(Suites[0xc02b], testMaster, testClientRandom, testServerRandom, false)
	buf := make([]byte, 1300)
	b.SetBytes(1200)
	for i := 0; b.Loop(); i++ {
		rec, _ := cl.Seal(buf, ApplicationData, 1, uint64(i), 1200)
		if _, _, err := sr.Open(rec); err != nil {
			b.Fatal(err)
		}
	}
}
