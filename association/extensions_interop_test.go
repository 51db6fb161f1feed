package association_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// opensslNoEMS writes an OpenSSL configuration that turns the extended
// master secret off (Options = -ExtendedMasterSecret, i.e.
// SSL_OP_NO_EXTENDED_MASTER_SECRET) for every SSL_CTX, and returns the
// environment that makes openssl read it.
func opensslNoEMS(t *testing.T) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "noems.cnf")
	conf := `openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "OPENSSL_CONF="+path)
}

// TestForceExtensionsOpenSSL (docs/conformance.md, RIOT 14): against
// OpenSSL 3 s_server / s_client -dtls1_2, in both roles.
// ForceExtendedMasterSecret: OpenSSL with the extended master secret
// completes, OpenSSL without it (SSL_OP_NO_EXTENDED_MASTER_SECRET) fails
// with ErrNoExtendedMasterSecret — and completes when the option is off.
// ForceRenegotiationInfo: OpenSSL always signals renegotiation_info, so
// the handshake completes with the option on.
func TestForceExtensionsOpenSSL(t *testing.T) {
	bin := testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	for _, tc := range []struct {
		name      string
		cfg       association.Config
		noEMS     bool // OpenSSL without the extended master secret
		wantFail  bool
		wantCause error
	}{
		{"ems-forced", association.Config{ForceExtendedMasterSecret: true}, false, false, nil},
		{"ems-forced/openssl-no-ems", association.Config{ForceExtendedMasterSecret: true}, true, true, association.ErrNoExtendedMasterSecret},
		{"ems-requested/openssl-no-ems", association.Config{}, true, false, nil},
		{"ri-forced", association.Config{ForceRenegotiationInfo: true}, false, false, nil},
		{"both-forced", association.Config{ForceRenegotiationInfo: true, ForceExtendedMasterSecret: true}, false, false, nil},
	} {
		for _, role := range []association.Role{association.Client, association.Server} {
			t.Run(role.String()+"/"+tc.name, func(t *testing.T) {
				mod := openModule(t)
				addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: ours.TLS})
				s := newSide(t, mod)
				cfg := tc.cfg
				cfg.Role, cfg.Tags, cfg.HandshakeTimeout = role, []mediaport.CredTag{1}, 15*time.Second
				var cmd *exec.Cmd
				var peer netip.AddrPort
				if role == association.Client {
					peer = netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
					cmd = exec.Command(bin, "s_server", "-dtls1_2", "-accept", peer.String(), "-cipher", "ALL", "-cert", theirs.CertPath, "-key", theirs.KeyPath)
				} else {
					peer = netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
					cmd = exec.Command(bin, "s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", peer.String(), "-cert", theirs.CertPath, "-key", theirs.KeyPath)
				}
				if tc.noEMS {
					cmd.Env = opensslNoEMS(t)
				}
				if role == association.Server {
					s.bind(t, peer, cfg)
				}
				p := testutil.StartCmd(t, cmd)
				if role == association.Client {
					if !p.WaitOutput("ACCEPT", testutil.Patience) {
						t.Fatalf("s_server: %s", p.Output())
					}
					s.bind(t, peer, cfg)
				}
				if tc.wantFail {
					err := s.waitFailed(t, "mediaport", testutil.Patience)
					if !errors.Is(err, tc.wantCause) {
						t.Fatalf("%v, want %v\nopenssl:\n%s", err, tc.wantCause, p.Output())
					}
					return
				}
				seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience)
				if err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
					t.Fatalf("statuses %v, %v\nopenssl:\n%s", seen, err, p.Output())
				}
				want := "Extended master secret: yes"
				if tc.noEMS {
					want = "Extended master secret: no"
				}
				if role == association.Server && !p.WaitOutput(want, testutil.Patience) { // s_server prints no such line
					t.Fatalf("s_client did not print %q:\n%s", want, p.Output())
				}
				exchange(t, s, p, false)
			})
		}
	}
}

// TestForceRenegotiationInfoGnuTLS (docs/conformance.md, RIOT 14): a
// GnuTLS client with safe renegotiation disabled
// (%DISABLE_SAFE_RENEGOTIATION: neither the extension nor the SCSV) fails
// against a server with ForceRenegotiationInfo, with
// ErrNoRenegotiationInfo and a handshake_failure alert, and completes
// against one without it; a GnuTLS client with its defaults completes
// with the option on.
func TestForceRenegotiationInfoGnuTLS(t *testing.T) {
	testutil.Peer(t, "gnutls-cli")
	ours := testutil.SelfSignedCert(t, "mediaport")
	for _, tc := range []struct {
		name     string
		force    bool
		priority string
		wantFail bool
	}{
		{"forced/gnutls-without", true, "NORMAL:%DISABLE_SAFE_RENEGOTIATION", true},
		{"requested/gnutls-without", false, "NORMAL:%DISABLE_SAFE_RENEGOTIATION", false},
		{"forced/gnutls-default", true, "NORMAL", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: ours.TLS})
			s := newSide(t, mod)
			if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil {
				t.Fatal(err)
			}
			a, err := association.Bind(s.rx, s.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1},
				HandshakeTimeout: 15 * time.Second, ForceRenegotiationInfo: tc.force})
			if err != nil {
				t.Fatal(err)
			}
			s.a = a
			p := testutil.StartProc(t, "gnutls-cli", "--udp", "-p", fmt.Sprint(s.port.Port()), "--insecure", "--priority", tc.priority, "127.0.0.1")
			if tc.wantFail {
				err := s.waitFailed(t, "mediaport", testutil.Patience)
				var al *association.AlertError
				if !errors.Is(err, association.ErrNoRenegotiationInfo) || !errors.As(err, &al) || al.Description != association.AlertDescription(40) || al.Received {
					t.Fatalf("%v, want ErrNoRenegotiationInfo with a handshake_failure sent\ngnutls-cli:\n%s", err, p.Output())
				}
				if strings.Contains(p.Output(), "Handshake was completed") {
					t.Fatalf("gnutls-cli completed its handshake:\n%s", p.Output())
				}
				return
			}
			seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience)
			if err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
				t.Fatalf("statuses %v, %v\ngnutls-cli:\n%s", seen, err, p.Output())
			}
			exchange(t, s, p, false)
		})
	}
}
