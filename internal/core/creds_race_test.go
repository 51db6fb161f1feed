package core

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"testing"
)

// TestConcurrentAddsKeepCallersKey: pools (modules) adding the same
// caller's ECDSA key at once, then clearing, leave the caller's key
// intact. PrivateKey.Bytes hands every caller the slice crypto/ecdsa
// caches for the key; clone used to clear it, so a concurrent clone could
// read zeros, fail to parse, keep the caller's key itself, and zero it
// when its pool was cleared.
func TestConcurrentAddsKeepCallersKey(t *testing.T) {
	ec, key := ecdsaCredential(t, 1)
	digest := sha256.Sum256([]byte("m"))
	for round := range 20 {
		pools := make([]*Credentials, 16)
		var wg sync.WaitGroup
		for i := range pools {
			pools[i] = &Credentials{max: 8}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := pools[i].Add(ec); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, p := range pools {
			got, err := p.Get(1, CredECDSA)
			if err != nil {
				t.Fatal(err)
			}
			if got.ECDSA.Certificate.PrivateKey == key {
				t.Fatalf("round %d: a pool holds the caller's key itself", round)
			}
			p.Clear()
		}
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			t.Fatalf("round %d: the caller's key after the pools were cleared: %v", round, err)
		}
	}
}
