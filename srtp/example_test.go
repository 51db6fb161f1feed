package srtp_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/srtp"
)

// Two sessions keyed as the two ends of one association would be (in an
// application, both come from Association.SRTPKeys once the handshake is
// done): what one encrypts, the other decrypts, in place.
func ExampleSession() {
	key := func(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
	client := association.SRTPKeys{Profile: association.SRTP_AEAD_AES_128_GCM,
		LocalKey: key(1, 16), LocalSalt: key(2, 12), RemoteKey: key(3, 16), RemoteSalt: key(4, 12)}
	server := association.SRTPKeys{Profile: client.Profile,
		LocalKey: client.RemoteKey, LocalSalt: client.RemoteSalt, RemoteKey: client.LocalKey, RemoteSalt: client.LocalSalt}
	cli, err := srtp.New(client)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := srtp.New(server)
	if err != nil {
		log.Fatal(err)
	}

	// An RTP packet: V=2, PT 111, seq 1, timestamp 0, SSRC 0x1234, payload.
	pkt := append([]byte{0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34}, "hello"...)
	buf := make([]byte, len(pkt), len(pkt)+srtp.Overhead)
	copy(buf, pkt)
	enc, err := cli.EncryptRTP(buf, buf) // in place
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("protected:", len(enc), "bytes")
	again := bytes.Clone(enc)

	dec, err := srv.DecryptRTP(enc, enc) // in place
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("payload: %s\n", dec[12:])

	_, err = srv.DecryptRTP(again, again) // the same packet again
	fmt.Println("replay refused:", errors.Is(err, srtp.ErrReplay))
	// Output:
	// protected: 33 bytes
	// payload: hello
	// replay refused: true
}
