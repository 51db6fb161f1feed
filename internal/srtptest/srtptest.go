// Package srtptest gives tests matching SRTP keys without a handshake:
// two sides of one association, what one encrypts the other decrypts.
package srtptest

import (
	"bytes"
	"testing"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/srtp"
)

// Keys returns the keys of the two sides of an association on profile,
// filled with bytes derived from seed: a's local key and salt are b's
// remote ones and the other way round.
func Keys(profile association.SRTPProfile, seed byte) (a, b association.SRTPKeys) {
	k, s := 16, 14
	switch profile {
	case association.SRTP_AEAD_AES_128_GCM:
		s = 12
	case association.SRTP_AEAD_AES_256_GCM:
		k, s = 32, 12
	}
	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	a = association.SRTPKeys{Profile: profile, LocalKey: fill(k, seed), LocalSalt: fill(s, seed+1),
		RemoteKey: fill(k, seed+2), RemoteSalt: fill(s, seed+3)}
	b = association.SRTPKeys{Profile: profile, LocalKey: a.RemoteKey, LocalSalt: a.RemoteSalt,
		RemoteKey: a.LocalKey, RemoteSalt: a.LocalSalt}
	return a, b
}

// Pair returns the sessions of the two sides (Keys with seed 1): what tx
// encrypts, rx decrypts.
func Pair(tb testing.TB, profile association.SRTPProfile) (tx, rx *srtp.Session) {
	tb.Helper()
	a, b := Keys(profile, 1)
	var err error
	if tx, err = srtp.New(a); err != nil {
		tb.Fatal(err)
	}
	if rx, err = srtp.New(b); err != nil {
		tb.Fatal(err)
	}
	return tx, rx
}
