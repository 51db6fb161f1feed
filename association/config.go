package association

import (
	"fmt"
	"net/netip"
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
	// from the server's hint (sock_dtls_set_client_psk_cb, whose session
	// argument is peer, the server's address). Returning TagEmpty, or a
	// tag with no PSK, falls back to the default choice: the first
	// credential whose hint matches, else the first PSK.
	ClientPSK func(peer netip.AddrPort, hint string, tags []mediaport.CredTag) mediaport.CredTag
	// SelectCertificate chooses the tag of the ECDSA credential to present
	// to peer (sock_dtls_set_rpk_cb, whose session argument is peer);
	// TagEmpty falls back to the first ECDSA credential of Tags.
	SelectCertificate func(peer netip.AddrPort, tags []mediaport.CredTag) mediaport.CredTag
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
	// ForceExtendedMasterSecret makes the extended master secret (RFC
	// 7627) mandatory: a peer that does not negotiate it fails the
	// handshake with ErrNoExtendedMasterSecret (RIOT's
	// CONFIG_DTLS_FORCE_EXTENDED_MASTER_SECRET). Off, it is offered and
	// used when the peer supports it.
	ForceExtendedMasterSecret bool
	// ForceRenegotiationInfo makes the renegotiation_info signal (RFC
	// 5746: the extension, or the SCSV in a ClientHello) mandatory: a peer
	// whose hello lacks it fails the handshake with
	// ErrNoRenegotiationInfo and a handshake_failure alert (RIOT's
	// CONFIG_DTLS_FORCE_RENEGOTIATION_INFO). Off, a client sends it and a
	// server answers it, and neither requires it. mediaport never
	// renegotiates either way.
	ForceRenegotiationInfo bool

	// tags, when set (by CreateSock), replaces Tags with a list that
	// changes at run time (Sock.AddCredential); every session of a Sock
	// shares it.
	tags *tagSet
}

// tagList returns the tags to use now: the Sock's live list, else Tags.
func (cfg *Config) tagList() []mediaport.CredTag {
	if cfg.tags != nil {
		return cfg.tags.load()
	}
	return cfg.Tags
}

// check reports what Bind and Listen refuse in cfg.
func (cfg *Config) check() error {
	if cfg.Version != 0 && cfg.Version != DTLS12 {
		return ErrVersion
	}
	if cfg.Role != Client && cfg.Role != Server {
		return fmt.Errorf("association: %w: role %v", mediaport.ErrInvalidArgument, cfg.Role)
	}
	if len(cfg.PSKHint) > MaxPSKHint {
		return fmt.Errorf("association: %w: PSK hint of %d bytes (max %d)", mediaport.ErrInvalidArgument, len(cfg.PSKHint), MaxPSKHint)
	}
	if _, err := parseFingerprints(cfg.PeerFingerprints); err != nil {
		return err
	}
	for _, p := range cfg.SRTPProfiles {
		if _, _, ok := p.keySalt(); !ok {
			return fmt.Errorf("association: %w: SRTP profile %v", mediaport.ErrInvalidArgument, p)
		}
	}
	return nil
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
