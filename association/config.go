package association

import (
	"fmt"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
)

// Role is the DTLS role of an association (SOCK_DTLS_CLIENT,
// SOCK_DTLS_SERVER).
type Role int

const (
	// Client starts the handshake.
	Client Role = iota + 1
	// Server answers it.
	Server
)

func (r Role) String() string {
	switch r {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Version is the DTLS version (SOCK_DTLS_1_2). Only DTLS 1.2 is supported.
type Version int

// DTLS12 is DTLS 1.2, the default.
const DTLS12 Version = 12

// SRTPProfile is a DTLS-SRTP protection profile (RFC 5764, RFC 7714), by its
// IANA number.
type SRTPProfile uint16

// The profiles an association can negotiate.
const (
	SRTP_AES128_CM_HMAC_SHA1_80 SRTPProfile = 0x0001 //nolint:revive // IANA name
	SRTP_AES128_CM_HMAC_SHA1_32 SRTPProfile = 0x0002 //nolint:revive // IANA name
	SRTP_AEAD_AES_128_GCM       SRTPProfile = 0x0007 //nolint:revive // IANA name
	SRTP_AEAD_AES_256_GCM       SRTPProfile = 0x0008 //nolint:revive // IANA name
)

func (p SRTPProfile) String() string {
	switch p {
	case SRTP_AES128_CM_HMAC_SHA1_80:
		return "SRTP_AES128_CM_HMAC_SHA1_80"
	case SRTP_AES128_CM_HMAC_SHA1_32:
		return "SRTP_AES128_CM_HMAC_SHA1_32"
	case SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM"
	case SRTP_AEAD_AES_256_GCM:
		return "SRTP_AEAD_AES_256_GCM"
	case 0:
		return "none"
	}
	return fmt.Sprintf("SRTPProfile(%#04x)", uint16(p))
}

// keySalt returns the master key and salt lengths of the profile.
func (p SRTPProfile) keySalt() (key, salt int, ok bool) {
	switch p {
	case SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AES128_CM_HMAC_SHA1_32:
		return 16, 14, true
	case SRTP_AEAD_AES_128_GCM:
		return 16, 12, true
	case SRTP_AEAD_AES_256_GCM:
		return 32, 12, true
	}
	return 0, 0, false
}

// MaxPSKHint is the longest server PSK identity hint accepted.
const MaxPSKHint = 128

// Config configures an association (sock_dtls_create and the
// sock_dtls_set_* calls).
type Config struct {
	// Role is Client or Server (required).
	Role Role
	// Version must be 0 or DTLS12.
	Version Version
	// Tags are the credential tags the association may use, in order of
	// preference (sock_dtls_create's tag, sock_dtls_add_credential). A
	// client whose tags hold both PSK and ECDSA credentials first offers
	// the certificate suites and, if that attempt fails other than by its
	// own check of the server (PeerFingerprints, VerifyPeerKey), the PSK
	// suites; a server offers both at once.
	Tags []mediaport.CredTag
	// PSKHint is the PSK identity hint a server sends
	// (sock_dtls_set_server_psk_id_hint); empty sends none.
	PSKHint string
	// ClientPSK chooses, on a client, the tag of the PSK credential to use
	// from the server's hint (sock_dtls_set_client_psk_cb). Returning
	// TagEmpty, or a tag with no PSK, falls back to the default choice:
	// the first credential whose hint matches, else the first PSK.
	ClientPSK func(hint string, tags []mediaport.CredTag) mediaport.CredTag
	// SelectCertificate chooses the tag of the ECDSA credential to present
	// (sock_dtls_set_rpk_cb); TagEmpty falls back to the first ECDSA
	// credential of Tags.
	SelectCertificate func(tags []mediaport.CredTag) mediaport.CredTag
	// VerifyPeerKey accepts a peer only if its certificate's public key is
	// in the presenting credential's PeerPublicKeys (the RIOT
	// sock_dtls_verify_public_key module); ECDSA suites only.
	VerifyPeerKey bool
	// PeerFingerprints, when set, accepts a peer only if its certificate
	// matches one of these SDP a=fingerprint lines (RFC 8122 §5:
	// "sha-256 AB:CD:…", optionally prefixed "a=fingerprint:"). The hash
	// may be sha-1, sha-224, sha-256, sha-384 or sha-512, its name and
	// the hex digits in either case. Lines naming another hash are
	// ignored; Bind fails with ErrNoUsableFingerprint if all do, and with
	// mediaport.ErrInvalidArgument on a malformed line. A mismatch fails
	// the handshake at once (ErrFingerprint, bad_certificate sent).
	PeerFingerprints []string
	// SRTPProfiles offered (client) or accepted (server), in order of
	// preference (the server's order wins). With profiles, a peer that
	// shares none fails the handshake with ErrNoSRTPProfile; a client
	// that offers no use_srtp to a server with profiles negotiates none.
	// Empty: a client offers no DTLS-SRTP, and a server negotiates none
	// unless the client offers use_srtp, as WebRTC peers do even for data
	// channels only; it then answers with the first of AEAD_AES_128_GCM,
	// AEAD_AES_256_GCM, AES128_CM_HMAC_SHA1_80, AES128_CM_HMAC_SHA1_32
	// that the client offered (Info and SRTPKeys report it) rather than
	// fail, because pion/dtls's server cannot leave use_srtp out of its
	// answer (RFC 5764 §4.1.1) and pion's client aborts when it is left
	// out.
	SRTPProfiles []SRTPProfile
	// MTU bounds the datagrams the association sends (default 1200).
	MTU int
	// HandshakeTimeout bounds the handshake (default 30 s).
	HandshakeTimeout time.Duration
	// FlightInterval is the first retransmission interval of a handshake
	// flight; it doubles on each retransmission (default 1 s, pion's).
	FlightInterval time.Duration
	// QueueLen bounds the records waiting for the DTLS stack (default: the
	// module's QueueLen).
	QueueLen int
}

// answerProfiles are what a server with no SRTPProfiles answers a
// use_srtp offer with, in order of preference.
var answerProfiles = []SRTPProfile{SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM, SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AES128_CM_HMAC_SHA1_32}

func pionProfiles(ps []SRTPProfile) []dtls.SRTPProtectionProfile {
	out := make([]dtls.SRTPProtectionProfile, 0, len(ps))
	for _, p := range ps {
		out = append(out, dtls.SRTPProtectionProfile(p))
	}
	return out
}

var (
	ecdsaSuites = []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	}
	pskSuites = []dtls.CipherSuiteID{
		dtls.TLS_PSK_WITH_AES_128_GCM_SHA256,
		dtls.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
		dtls.TLS_PSK_WITH_AES_128_CCM,
		dtls.TLS_PSK_WITH_AES_128_CCM_8,
		dtls.TLS_PSK_WITH_AES_256_CCM_8,
		dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
		dtls.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
	}
)
