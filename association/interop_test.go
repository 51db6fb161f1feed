package association_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// The interop matrix: OpenSSL 3.0 and GnuTLS 3.7, both roles,
// certificates with fingerprint pinning, PSK with a hint, DTLS-SRTP with the
// exported keying material compared byte for byte. Each case checks the
// negotiated suite and profile and that data crosses both ways.

const pskHex = "00112233445566778899aabbccddeeff"

var pskKey, _ = hex.DecodeString(pskHex)

// opensslSuites maps OpenSSL's names of the suites mediaport offers to
// IANA's.
var opensslSuites = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-CCM":        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
	"ECDHE-ECDSA-AES128-CCM8":       "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"PSK-AES128-GCM-SHA256":         "TLS_PSK_WITH_AES_128_GCM_SHA256",
	"PSK-CHACHA20-POLY1305":         "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
	"PSK-AES128-CCM":                "TLS_PSK_WITH_AES_128_CCM",
	"PSK-AES128-CCM8":               "TLS_PSK_WITH_AES_128_CCM_8",
	"PSK-AES256-CCM8":               "TLS_PSK_WITH_AES_256_CCM_8",
	"PSK-AES128-CBC-SHA256":         "TLS_PSK_WITH_AES_128_CBC_SHA256",
	"ECDHE-PSK-AES128-CBC-SHA256":   "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
}

var (
	reOSSLCipher = regexp.MustCompile(`(?:CIPHER is|Cipher is) (\S+)`)
	reOSSLKeys   = regexp.MustCompile(`Keying material: ([0-9A-F]+)`)
	reGnuDesc    = regexp.MustCompile(`Description: \(DTLS1\.2-[^)]*\)-(.*)`)
	reGnuKeys    = regexp.MustCompile(`Key material: ([0-9a-f]+)`)
)

type interopCase struct {
	name    string
	creds   func(t *testing.T, mod *mediaport.Module) // adds tag 1
	cfg     association.Config                        // Tags, Role filled in
	peer    []string                                  // peer arguments
	profile association.SRTPProfile
}

func ecdsaCreds(c testutil.Cert) func(*testing.T, *mediaport.Module) {
	return func(t *testing.T, mod *mediaport.Module) { addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: c.TLS}) }
}

func pskCreds(t *testing.T, mod *mediaport.Module) {
	if err := mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte("alice"), Key: pskKey, Hint: "serverhint"}}); err != nil {
		t.Fatal(err)
	}
}

// checkEstablished waits for the handshake and checks the suite, the
// profile and the keying material against what the peer printed.
func checkEstablished(t *testing.T, s *side, p *testutil.Proc, tc interopCase, gnutls, peerIsServer bool) association.ConnectionInfo {
	t.Helper()
	seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience)
	if err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
		t.Fatalf("statuses %v, %v\npeer output:\n%s", seen, err, p.Output())
	}
	info, err := s.a.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.SRTPProfile != tc.profile {
		t.Fatalf("SRTP profile %v, want %v", info.SRTPProfile, tc.profile)
	}
	if gnutls {
		// gnutls-serv --echo prints nothing of the session: the suite is
		// checked where gnutls-cli prints its description.
		if !peerIsServer {
			m := p.WaitMatch(reGnuDesc, testutil.Patience)
			if m == nil {
				t.Fatalf("gnutls-cli printed no description:\n%s", p.Output())
			}
			parts := strings.Split(m[1], ")-(")
			cipher := strings.Trim(parts[len(parts)-1], "()\r")
			if want := strings.ReplaceAll(cipher, "-", "_"); !strings.Contains(info.CipherSuiteName, want) {
				t.Fatalf("suite %s, gnutls says %s", info.CipherSuiteName, cipher)
			}
		}
	} else {
		m := p.WaitMatch(reOSSLCipher, testutil.Patience)
		if m == nil || opensslSuites[m[1]] != info.CipherSuiteName {
			t.Fatalf("suite %s, openssl says %v:\n%s", info.CipherSuiteName, m, p.Output())
		}
	}
	if tc.profile != 0 {
		keys, err := s.a.SRTPKeys()
		if err != nil {
			t.Fatal(err)
		}
		re, want := reOSSLKeys, strings.ToUpper(hex.EncodeToString(keys.Material))
		if gnutls {
			re, want = reGnuKeys, hex.EncodeToString(keys.Material)
		}
		if gnutls && peerIsServer {
			return info // gnutls-serv prints no keying material
		}
		m := p.WaitMatch(re, testutil.Patience)
		if m == nil || m[1] != want {
			t.Fatalf("keying material\n ours %s\npeer's %v", want, m)
		}
	}
	return info
}

// exchange sends data both ways: ours to the peer's stdout, the peer's
// stdin (or echo) back to us.
func exchange(t *testing.T, s *side, p *testutil.Proc, echo bool) {
	t.Helper()
	if err := s.tx.SendPacket([]byte("hello from mediaport\n")); err != nil {
		t.Fatal(err)
	}
	if echo {
		if got := s.read(t, testutil.Patience); got != "hello from mediaport\n" {
			t.Fatalf("echo: %q", got)
		}
		return
	}
	if !p.WaitOutput("hello from mediaport", testutil.Patience) {
		t.Fatalf("peer did not print our data:\n%s", p.Output())
	}
	io.WriteString(p.Stdin, "hello from the peer\n")
	if got := s.read(t, testutil.Patience); !strings.Contains(got, "hello from the peer") {
		t.Fatalf("read %q", got)
	}
}

func TestInteropOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	theirFP := association.Fingerprint(theirs.TLS.Certificate[0])
	cases := []interopCase{
		{name: "ecdsa-pinned", creds: ecdsaCreds(ours), cfg: association.Config{PeerFingerprints: []string{theirFP}},
			peer: []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath}},
		{name: "psk-hint", creds: pskCreds, cfg: association.Config{PSKHint: "serverhint"},
			peer: []string{"-psk", pskHex, "-psk_identity", "alice"}},
		{name: "srtp-aes128-cm-sha1-80", creds: ecdsaCreds(ours), profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
			cfg:  association.Config{SRTPProfiles: []association.SRTPProfile{association.SRTP_AES128_CM_HMAC_SHA1_80}},
			peer: []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath, "-use_srtp", "SRTP_AES128_CM_SHA1_80", "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"}},
		{name: "srtp-aead-aes128-gcm", creds: ecdsaCreds(ours), profile: association.SRTP_AEAD_AES_128_GCM,
			cfg:  association.Config{SRTPProfiles: []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM}},
			peer: []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath, "-use_srtp", "SRTP_AEAD_AES_128_GCM", "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "56"}},
	}
	for _, tc := range cases {
		// mediaport is the client; openssl s_server.
		t.Run("client/"+tc.name, func(t *testing.T) {
			mod := openModule(t)
			tc.creds(t, mod)
			s := newSide(t, mod)
			port := testutil.FreeUDPPort(t)
			addr := netip.AddrPortFrom(lo4, port)
			args := []string{"s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", "ALL"}
			if tc.name == "psk-hint" {
				args = append(args, "-nocert", "-psk_hint", "serverhint")
			}
			p := testutil.StartProc(t, "openssl", append(args, tc.peer...)...)
			if !p.WaitOutput("ACCEPT", testutil.Patience) {
				t.Fatalf("s_server: %s", p.Output())
			}
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout, cfg.PSKHint = association.Client, []mediaport.CredTag{1}, 15*time.Second, ""
			s.bind(t, addr, cfg)
			info := checkEstablished(t, s, p, tc, false, true)
			if tc.name == "psk-hint" && string(info.PSKIdentity) != "serverhint" {
				t.Fatalf("client saw hint %q", info.PSKIdentity)
			}
			if tc.name == "ecdsa-pinned" && info.PeerFingerprint != theirFP {
				t.Fatalf("peer fingerprint %s", info.PeerFingerprint)
			}
			exchange(t, s, p, false)
		})
		// mediaport is the server; openssl s_client.
		t.Run("server/"+tc.name, func(t *testing.T) {
			mod := openModule(t)
			tc.creds(t, mod)
			s := newSide(t, mod)
			bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout = association.Server, []mediaport.CredTag{1}, 15*time.Second
			s.bind(t, bind, cfg)
			p := testutil.StartProc(t, "openssl", append([]string{"s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String()}, tc.peer...)...)
			info := checkEstablished(t, s, p, tc, false, false)
			if tc.name == "psk-hint" && string(info.PSKIdentity) != "alice" {
				t.Fatalf("server saw identity %q", info.PSKIdentity)
			}
			if tc.name == "ecdsa-pinned" && info.PeerFingerprint != theirFP {
				t.Fatalf("client fingerprint %s", info.PeerFingerprint)
			}
			exchange(t, s, p, false)
		})
	}
	// A wrong pin fails the handshake on our side, in both roles.
	t.Run("client/ecdsa-wrong-pin", func(t *testing.T) {
		mod := openModule(t)
		ecdsaCreds(ours)(t, mod)
		s := newSide(t, mod)
		addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		p := testutil.StartProc(t, "openssl", "s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", "ALL", "-cert", theirs.CertPath, "-key", theirs.KeyPath)
		if !p.WaitOutput("ACCEPT", testutil.Patience) {
			t.Fatal(p.Output())
		}
		s.bind(t, addr, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
			PeerFingerprints: []string{association.Fingerprint(ours.TLS.Certificate[0])}, HandshakeTimeout: 10 * time.Second})
		seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience)
		if seen[len(seen)-1] != dtlsrx.Stopped || err == nil {
			t.Fatalf("wrong pin: %v %v", seen, err)
		}
	})
}

// gnutlsPriority is the priority string gnutls-serv needs for every suite
// the matrix tries (CCM, CBC and PSK suites are not in NORMAL).
const gnutlsPriority = "NORMAL:+PSK:+ECDHE-PSK:+AES-128-CCM-8:+AES-256-CCM-8:+AES-128-CBC:+AES-256-CBC:+SHA1:+SHA256"

func TestInteropGnuTLS(t *testing.T) {
	testutil.Peer(t, "gnutls-serv")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "gnutls")
	pskFile := filepath.Join(t.TempDir(), "psk.txt")
	os.WriteFile(pskFile, []byte("alice:"+pskHex+"\n"), 0o600)
	srtp := []association.SRTPProfile{association.SRTP_AES128_CM_HMAC_SHA1_80}
	for _, tc := range []interopCase{
		{name: "cert", creds: ecdsaCreds(ours), profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
			cfg: association.Config{SRTPProfiles: srtp, PeerFingerprints: []string{association.Fingerprint(theirs.TLS.Certificate[0])}}},
		{name: "psk", creds: pskCreds, profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
			cfg: association.Config{SRTPProfiles: srtp, PSKHint: "serverhint"}},
	} {
		// mediaport is the client; gnutls-serv --echo in a namespace of its own.
		t.Run("client/"+tc.name, func(t *testing.T) {
			args := []string{"--udp", "-p", "5556", "--echo", "--priority", gnutlsPriority, "--srtp-profiles", "SRTP_AES128_CM_HMAC_SHA1_80"}
			if tc.name == "cert" {
				args = append(args, "--x509certfile", theirs.CertPath, "--x509keyfile", theirs.KeyPath)
			} else {
				args = append(args, "--pskpasswd", pskFile, "--pskhint", "serverhint")
			}
			p := testutil.StartInNetns(t, "gnutls-serv", args...)
			if !p.WaitOutput("listening", testutil.Patience) {
				t.Fatalf("gnutls-serv: %s", p.Output())
			}
			mod := openModule(t)
			tc.creds(t, mod)
			s := &side{mod: mod}
			s.v, _ = vmprx.Create(mod)
			var cerr error
			testutil.InNetns(t, p.Cmd.Process.Pid, func() { cerr = s.v.Config(vmprx.Config{Local: lo4, RTCPMux: true}) })
			if cerr != nil {
				t.Fatal(cerr)
			}
			s.port, _, _ = s.v.Ports()
			s.rx, _ = dtlsrx.Create(mod)
			s.v.ConfigDTLS(s.rx, false)
			s.tx, _ = dtlstx.Create(mod)
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout, cfg.PSKHint = association.Client, []mediaport.CredTag{1}, 15*time.Second, ""
			s.bind(t, netip.AddrPortFrom(lo4, 5556), cfg)
			info := checkEstablished(t, s, p, tc, true, true)
			if tc.name == "psk" && string(info.PSKIdentity) != "serverhint" {
				t.Fatalf("client saw hint %q", info.PSKIdentity)
			}
			exchange(t, s, p, true)
		})
		// mediaport is the server (learning its peer: gnutls-cli cannot
		// bind a port); gnutls-cli connects from the host.
		t.Run("server/"+tc.name, func(t *testing.T) {
			mod := openModule(t)
			tc.creds(t, mod)
			s := newSide(t, mod)
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout = association.Server, []mediaport.CredTag{1}, 15*time.Second
			cfg.PeerFingerprints = nil // gnutls-cli presents no certificate
			if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil {
				t.Fatal(err)
			}
			a, err := association.Bind(s.rx, s.tx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.a = a
			args := []string{"--udp", "-p", fmt.Sprint(s.port.Port()), "--insecure", "--srtp-profiles", "SRTP_AES128_CM_HMAC_SHA1_80",
				"--keymatexport", "EXTRACTOR-dtls_srtp", "--keymatexportsize", "60"}
			if tc.name == "psk" {
				// ECDHE-PSK crashes gnutls-cli 3.7: plain PSK only.
				args = append(args, "--priority", "NORMAL:-KX-ALL:+PSK", "--pskusername", "alice", "--pskkey", pskHex)
			}
			p := testutil.StartProc(t, "gnutls-cli", append(args, "127.0.0.1")...)
			info := checkEstablished(t, s, p, tc, true, false)
			if tc.name == "cert" && info.PeerCertificate != nil {
				t.Fatalf("gnutls-cli sent a certificate: %v", info.PeerCertificate.Subject)
			}
			if tc.name == "psk" && string(info.PSKIdentity) != "alice" {
				t.Fatalf("server saw identity %q", info.PSKIdentity)
			}
			exchange(t, s, p, false)
		})
	}
}
