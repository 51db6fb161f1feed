package association_test

import (
	"errors"
	"fmt"

	"github.com/mediaport/mediaport/association"
)

// FingerprintHash gives the a=fingerprint value of a certificate for any
// hash of RFC 8122; an association pins its peer by any mix of such lines.
func ExampleFingerprintHash() {
	der := []byte("a DER certificate") // a.Info().PeerCertificate.Raw, or a credential's Certificate[0]
	for _, h := range []string{"sha-1", "SHA-256"} {
		fp, _ := association.FingerprintHash(der, h)
		fmt.Println(fp[:len(h)+12] + "…")
	}
	_, err := association.FingerprintHash(der, "md5")
	fmt.Println(err != nil)
	// Output:
	// sha-1 BF:CA:E1:06…
	// sha-256 0F:4A:22:8B…
	// true
}

// A failed handshake says why: the DTLS[rx]'s Err and the association's
// State carry the cause and the alert.
func ExampleAlertError() {
	// err := rx.Err() (or a.Err()) once the DTLS[rx] reports Stopped:
	err := fmt.Errorf("dtlsrx: DTLS association failed: %w", fmt.Errorf("association: handshake failed: %w; %w",
		association.ErrFingerprint, &association.AlertError{Description: association.AlertBadCertificate, Fatal: true}))
	var al *association.AlertError
	fmt.Println(errors.Is(err, association.ErrFingerprint), errors.As(err, &al), al.Description, al.Received)
	// Output:
	// true true bad_certificate false
}
