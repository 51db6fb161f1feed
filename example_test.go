package mediaport_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/mediaport/mediaport"
)

// A module is opened once; every endpoint is created on it, and its
// credential pool holds the keys DTLS associations may use.
func ExampleOpenModule() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}

	// A pre-shared key under tag 1, for associations that list tag 1.
	err = mod.AddCredential(mediaport.Credential{
		Tag:  1,
		Type: mediaport.CredPSK,
		PSK:  mediaport.PSK{Identity: []byte("client-1"), Key: []byte("secret key")},
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := mod.GetCredential(1, mediaport.CredPSK)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("tag %d: identity %q\n", c.Tag, c.PSK.Identity)

	// The same tag and type twice is refused.
	err = mod.AddCredential(c)
	fmt.Println("added twice:", errors.Is(err, mediaport.ErrCredentialExists))

	// Close destroys every endpoint still open; the module is then unusable.
	if err := mod.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("closed twice:", errors.Is(mod.Close(), mediaport.ErrClosed))
	// Output:
	// tag 1: identity "client-1"
	// added twice: true
	// closed twice: true
}
