package mediaport_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/mediaport/mediaport"
)

// A RIOT credman ECDSA credential (private key, public x/y, client_keys)
// becomes a pool credential with RawECDSA; associations listing its tag
// with VerifyPeerKey accept only the peers' keys.
func ExampleRawECDSA() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in RIOT: compiled-in bytes
	peer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, _ := key.Bytes()
	pt, _ := peer.PublicKey.Bytes() // 0x04 || x || y

	c, err := mediaport.RawECDSA(priv, mediaport.ECCPublicKey{},
		[]mediaport.ECCPublicKey{{X: pt[1:33], Y: pt[33:]}})
	if err != nil {
		log.Fatal(err)
	}
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	err = mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredECDSA, ECDSA: c})
	fmt.Println(err, len(c.PeerPublicKeys))
	// Output: <nil> 1
}
