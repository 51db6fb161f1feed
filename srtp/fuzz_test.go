package srtp_test

import (
	"bytes"
	"testing"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/srtptest"
	"github.com/mediaport/mediaport/srtp"
)

// FuzzDecrypt: arbitrary datagrams given to DecryptRTP and DecryptRTCP,
// in place and into another buffer, under every profile: nothing
// panics, and only the genuine packets (the seeds) are accepted.
func FuzzDecrypt(f *testing.F) {
	type genuine struct {
		profile association.SRTPProfile
		enc     []byte
	}
	var seeds []genuine
	keys := map[association.SRTPProfile][2]association.SRTPKeys{}
	for _, p := range profiles {
		a, b := srtptest.Keys(p, 6)
		keys[p] = [2]association.SRTPKeys{a, b}
		tx, _ := srtp.New(a)
		e, _ := tx.EncryptRTP(nil, rtpPacket(1, 65535, 20))
		seeds = append(seeds, genuine{p, e})
		e, _ = tx.EncryptRTCP(nil, rtcpPacket(1, 8))
		seeds = append(seeds, genuine{p, e})
	}
	for _, s := range seeds {
		f.Add(s.enc)
	}
	f.Add([]byte{})
	f.Add([]byte{0x80, 201, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1})
	// A failed decryption leaves a session as it was: one per profile
	// serves until a genuine packet is accepted.
	rxs := map[association.SRTPProfile]*srtp.Session{}
	for _, p := range profiles {
		rxs[p], _ = srtp.New(keys[p][1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range profiles {
			rx := rxs[p]
			var err error
			for _, rtcp := range []bool{false, true} {
				for _, inPlace := range []bool{false, true} {
					in := bytes.Clone(data)
					var dst []byte
					if inPlace {
						dst = in
					}
					if rtcp {
						_, err = rx.DecryptRTCP(dst, in)
					} else {
						_, err = rx.DecryptRTP(dst, in)
					}
					if err != nil {
						continue
					}
					ok := false
					for _, s := range seeds {
						ok = ok || (s.profile == p && bytes.Equal(s.enc, data))
					}
					if !ok {
						t.Fatalf("%v rtcp=%v: forged %x accepted", p, rtcp, data)
					}
					rx, _ = srtp.New(keys[p][1]) // fresh: no replay for the next try
					rxs[p] = rx
				}
			}
		}
	})
}
