package association_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
)

func rawKeyPair(t *testing.T) ([]byte, mediaport.ECCPublicKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := key.Bytes()
	pt, _ := key.PublicKey.Bytes()
	return append([]byte(nil), priv...), mediaport.ECCPublicKey{X: pt[1:33], Y: pt[33:]}
}

// TestRawPublicKeys (docs/conformance.md, RIOT 13): two sides holding
// RIOT-style raw keys (mediaport.RawECDSA: private key, public x/y, the
// peer's x/y as client_keys) complete a handshake with VerifyPeerKey,
// each presenting its key in a self-signed certificate; a side that does
// not list the other's key fails with ErrPeerKey.
func TestRawPublicKeys(t *testing.T) {
	privA, pubA := rawKeyPair(t)
	privB, pubB := rawKeyPair(t)
	_, pubC := rawKeyPair(t)
	for _, tc := range []struct {
		name   string
		bPeers []mediaport.ECCPublicKey // the keys B accepts
		ok     bool
	}{{"listed", []mediaport.ECCPublicKey{pubC, pubA}, true}, {"not listed", []mediaport.ECCPublicKey{pubC}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			ca, err := mediaport.RawECDSA(privA, pubA, []mediaport.ECCPublicKey{pubB})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := mediaport.RawECDSA(privB, mediaport.ECCPublicKey{}, tc.bPeers)
			if err != nil {
				t.Fatal(err)
			}
			addECDSA(t, mod, 1, ca)
			addECDSA(t, mod, 2, cb)
			a, b := newSide(t, mod), newSide(t, mod)
			b.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2}, VerifyPeerKey: true, HandshakeTimeout: 10 * time.Second})
			a.bind(t, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, VerifyPeerKey: true, HandshakeTimeout: 10 * time.Second})
			if !tc.ok {
				if err := b.waitFailed(t, "server", testutil.Patience); !errors.Is(err, association.ErrPeerKey) {
					t.Fatalf("server: %v, want ErrPeerKey", err)
				}
				return
			}
			waitEstablished(t, a, b)
			info, _ := b.a.Info()
			wantA, _ := pubA.PublicKey()
			if info.PeerCertificate == nil || !wantA.Equal(info.PeerCertificate.PublicKey) {
				t.Fatalf("server sees peer certificate %v", info.PeerCertificate)
			}
			a.sendTo(t, b, "raw keys")
		})
	}
}

// certTypeExt is an RFC 7250 client_certificate_type (19) or
// server_certificate_type (20) extension offering raw public keys only,
// as an RPK-only peer (tinydtls in RIOT) sends it.
type certTypeExt struct{ typ extension.TypeValue }

func (e certTypeExt) TypeValue() extension.TypeValue { return e.typ }
func (e certTypeExt) Marshal() ([]byte, error) {
	return []byte{byte(e.typ >> 8), byte(e.typ), 0, 2, 1, 2}, nil // one type: RawPublicKey (2)
}
func (e certTypeExt) Unmarshal([]byte) error { return nil }

// TestRawPublicKeyOfferIgnored (docs/conformance.md, RIOT 13): a client
// that offers only raw public keys (RFC 7250 client_ and
// server_certificate_type = RawPublicKey) gets an X.509 certificate from a
// mediaport server — pion/dtls does not negotiate the certificate type —
// so a peer that insists on raw public keys cannot complete an ECDSA
// handshake with mediaport. (The pion client used here accepts the
// certificate; tinydtls would not.)
func TestRawPublicKeyOfferIgnored(t *testing.T) {
	priv, pub := rawKeyPair(t)
	c, err := mediaport.RawECDSA(priv, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	mod := openModule(t)
	addECDSA(t, mod, 1, c)
	s := newSide(t, mod)
	p := newPionSocket(t)
	s.bind(t, p.addr, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 10 * time.Second})
	theirs := testutil.SelfSignedCert(t, "rpk-peer")
	p.startWith(t, true, net.UDPAddrFromAddrPort(s.port), []dtls.Option{
		dtls.WithCertificates(theirs.TLS), dtls.WithInsecureSkipVerify(true), dtls.WithFlightInterval(100 * time.Millisecond),
		dtls.WithClientHelloMessageHook(func(m handshake.MessageClientHello) handshake.Message {
			m.Extensions = append(m.Extensions, certTypeExt{19}, certTypeExt{20})
			return &m
		}),
	})
	waitEstablished(t, s)
	if err := p.result(t); err != nil {
		t.Fatalf("pion client: %v", err)
	}
	state, ok := p.conn.ConnectionState()
	if !ok || len(state.PeerCertificates) == 0 {
		t.Fatal("no peer certificate")
	}
	leaf, err := x509.ParseCertificate(state.PeerCertificates[0])
	if err != nil {
		t.Fatalf("the server's Certificate message is not X.509: %v", err)
	}
	want, _ := pub.PublicKey()
	if !want.Equal(leaf.PublicKey) {
		t.Fatalf("certificate key %v, want the raw key", leaf.PublicKey)
	}
}
