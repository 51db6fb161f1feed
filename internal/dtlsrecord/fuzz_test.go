package dtlsrecord

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzOpen: Open never panics on any bytes; a record that is not what
// Seal made fails; one Seal made, with its payload mutated, fails; the
// sealed one opens to its plaintext.
func FuzzOpen(f *testing.F) {
	cl, _, _ := Ciphers(Suites[0xc02b], testMaster, testClientRandom, testServerRandom, true)
	buf := make([]byte, 100)
	copy(buf[cl.PayloadOffset():], "seed")
	rec, _ := cl.Seal(buf, ApplicationData, 1, 1, 4)
	f.Add(append([]byte(nil), rec...), uint16(0xc02b), uint16(0))
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}, uint16(0xcca9), uint16(3))
	f.Add([]byte{}, uint16(0xc0a8), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, id uint16, flip uint16) {
		ids := suiteIDs()
		s := Suites[ids[int(id)%len(ids)]]
		cl, _, _ := Ciphers(s, testMaster, testClientRandom, testServerRandom, true)
		_, sr, _ := Ciphers(s, testMaster, testClientRandom, testServerRandom, false)
		// arbitrary bytes: no panic, and no success unless they are a record
		// Seal made with these keys (the fuzzer can replay the seed
		// corpus's): sealing what opened, with its header, must give the
		// same bytes back, else the record was forged
		if r, _, ok := Split(data); ok {
			if h, pt, err := sr.Open(append([]byte(nil), r...)); err == nil {
				b := make([]byte, cl.Overhead()+len(pt))
				copy(b[cl.PayloadOffset():], pt)
				again, err := cl.Seal(b, h.Type, h.Epoch, h.Seq, len(pt))
				if err != nil || h.Version != 0xfefd || !bytes.Equal(again, r) {
					t.Fatalf("forged record opened: %x", r)
				}
			}
		}
		// data as a plaintext: sealed, it opens; flipped, it fails
		if len(data) > 1<<14 {
			data = data[:1<<14]
		}
		b := make([]byte, cl.Overhead()+len(data))
		copy(b[cl.PayloadOffset():], data)
		seq := uint64(len(data))
		r, err := cl.Seal(b, ApplicationData, 1, seq, len(data))
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), r...)
		i := int(flip) % len(bad)
		if i != 11 && i != 12 {
			bad[i] ^= 1
			if _, _, err := sr.Open(bad); err == nil {
				t.Fatalf("record with byte %d flipped opened", i)
			}
		}
		h, pt, err := sr.Open(r)
		if err != nil || !bytes.Equal(pt, data) || h.Seq != seq {
			t.Fatalf("sealed record: %v", err)
		}
		if _, _, err := sr.Open(r[:len(r)-1]); !errors.Is(err, ErrShort) && !errors.Is(err, ErrAuth) {
			t.Fatal(err)
		}
	})
}

// FuzzWindow checks the window against a model: the set of accepted
// numbers, of which the window may forget only those more than
// WindowSize-1 below the highest (and then calls them old).
func FuzzWindow(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var w Window
		seen := map[uint64]bool{}
		var top uint64
		started := false
		for len(data) >= 8 {
			seq := binary.BigEndian.Uint64(data) & 0xffff // a small space: collisions
			data = data[8:]
			want := !seen[seq] && (!started || seq > top || top-seq < WindowSize)
			if got := w.Check(seq); got != want {
				t.Fatalf("Check(%d) = %v, want %v (top %d)", seq, got, want, top)
			}
			if want {
				w.Accept(seq)
				seen[seq] = true
				if !started || seq > top {
					top = seq
				}
				started = true
			}
		}
	})
}
