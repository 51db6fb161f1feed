package association_test

import (
	"encoding/hex"
	"fmt"
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

// The record path against OpenSSL and GnuTLS, suite by suite: each AEAD
// suite mediaport takes onto its own record path, in both roles, with
// application data both ways, the exporter's bytes compared with the
// peer's, and close_notify sent by us (the peer reports it) and by the
// peer (our DTLS[rx] stops cleanly).

// recordSuitesOpenSSL are OpenSSL's names of the suites of the record path.
var recordSuitesOpenSSL = []string{
	"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
	"ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES128-CCM8",
	"PSK-AES128-GCM-SHA256", "PSK-CHACHA20-POLY1305", "PSK-AES128-CCM", "PSK-AES128-CCM8", "PSK-AES256-CCM8",
}

const exporterLabel = "EXPORTER-mediaport-test"

// interopModule returns a module with the credential the suite needs as
// tag 1.
func interopModule(t *testing.T, psk bool, cert testutil.Cert) *mediaport.Module {
	mod := openModule(t)
	if psk {
		pskCreds(t, mod)
	} else {
		addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
	}
	return mod
}

// checkRecordPath checks the suite, the path and the exporter against the
// hex the peer printed (upper case for OpenSSL).
func checkRecordPath(t *testing.T, s *side, p *testutil.Proc, suite string, keys *regexp.Regexp, upper bool) {
	t.Helper()
	if seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
		t.Fatalf("statuses %v, %v\npeer output:\n%s", seen, err, p.Output())
	}
	info, err := s.a.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.CipherSuiteName != suite {
		t.Fatalf("suite %s, want %s", info.CipherSuiteName, suite)
	}
	if !association.RecordPath(s.a) {
		t.Fatal("not on mediaport's record path")
	}
	if keys == nil {
		return
	}
	ours, err := s.a.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(ours)
	if upper {
		want = strings.ToUpper(want)
	}
	m := p.WaitMatch(keys, testutil.Patience)
	if m == nil || m[1] != want {
		t.Fatalf("exporter\n ours %s\npeer's %v\n%s", want, m, p.Output())
	}
}

// waitClosed waits for the DTLS[rx] to stop cleanly on the peer's
// close_notify.
func waitClosed(t *testing.T, s *side, p *testutil.Proc) {
	t.Helper()
	seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience)
	if err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
		t.Fatalf("after the peer's close_notify: %v %v\n%s", seen, err, p.Output())
	}
	if st, _ := s.a.State(); st != association.Closed {
		t.Fatalf("state %v", st)
	}
}

func TestRecordPathOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	export := []string{"-keymatexport", exporterLabel, "-keymatexportlen", "32"}
	for _, name := range recordSuitesOpenSSL {
		psk := strings.HasPrefix(name, "PSK")
		peerCred := []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath}
		if psk {
			peerCred = []string{"-psk", pskHex, "-psk_identity", "alice"}
		}
		// mediaport is the client and closes; s_server reports it.
		t.Run("client/"+name, func(t *testing.T) {
			s := newSide(t, interopModule(t, psk, ours))
			addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
			args := []string{"s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", name}
			if psk {
				args = append(args, "-nocert", "-psk_hint", "serverhint")
			}
			p := testutil.StartProc(t, "openssl", append(append(args, peerCred...), export...)...)
			if !p.WaitOutput("ACCEPT", testutil.Patience) {
				t.Fatalf("s_server: %s", p.Output())
			}
			s.bind(t, addr, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 15 * time.Second})
			checkRecordPath(t, s, p, opensslSuites[name], reOSSLKeys, true)
			exchange(t, s, p, false)
			if strings.Contains(p.Output(), "DONE") {
				t.Fatalf("s_server done before our close_notify:\n%s", p.Output())
			}
			if err := s.tx.Stop(); err != nil {
				t.Fatal(err)
			}
			if !p.WaitOutput("DONE", testutil.Patience) { // s_server's answer to a close_notify
				t.Fatalf("s_server did not see our close_notify:\n%s", p.Output())
			}
		})
		// mediaport is the server; s_client closes ("Q").
		t.Run("server/"+name, func(t *testing.T) {
			s := newSide(t, interopModule(t, psk, ours))
			bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
			s.bind(t, bind, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 15 * time.Second, PSKHint: "serverhint"})
			args := []string{"s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String(), "-cipher", name}
			if psk {
				args = append(args, "-psk", pskHex, "-psk_identity", "alice")
			}
			p := testutil.StartProc(t, "openssl", append(args, export...)...)
			checkRecordPath(t, s, p, opensslSuites[name], reOSSLKeys, true)
			exchange(t, s, p, false)
			fmt.Fprintln(p.Stdin, "Q")
			waitClosed(t, s, p)
		})
	}
}

// recordSuitesGnuTLS are the suites of the record path with GnuTLS's
// cipher names and whether they are PSK suites.
var recordSuitesGnuTLS = []struct {
	cipher, suite string
	psk           bool
}{
	{"AES-128-GCM", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false},
	{"AES-256-GCM", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false},
	{"CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false},
	{"AES-128-CCM", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", false},
	{"AES-128-CCM-8", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", false},
	{"AES-128-GCM", "TLS_PSK_WITH_AES_128_GCM_SHA256", true},
	{"CHACHA20-POLY1305", "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", true},
	{"AES-128-CCM", "TLS_PSK_WITH_AES_128_CCM", true},
	{"AES-128-CCM-8", "TLS_PSK_WITH_AES_128_CCM_8", true},
	{"AES-256-CCM-8", "TLS_PSK_WITH_AES_256_CCM_8", true},
}

func TestRecordPathGnuTLS(t *testing.T) {
	testutil.Peer(t, "gnutls-cli")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "gnutls")
	pskFile := filepath.Join(t.TempDir(), "psk.txt")
	os.WriteFile(pskFile, []byte("alice:"+pskHex+"\n"), 0o600)
	for i, sc := range recordSuitesGnuTLS {
		kx := "+ECDHE-ECDSA"
		if sc.psk {
			kx = "+PSK"
		}
		priority := "NORMAL:-KX-ALL:" + kx + ":-CIPHER-ALL:+" + sc.cipher
		// mediaport is the server; gnutls-cli prints the exporter, and
		// either we close (gnutls-cli reports it) or it does (stdin's end).
		t.Run("server/"+sc.suite, func(t *testing.T) {
			s := newSide(t, interopModule(t, sc.psk, ours))
			s.bind(t, netip.AddrPort{}, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 15 * time.Second})
			args := []string{"--udp", "-p", fmt.Sprint(s.port.Port()), "--insecure", "--priority", priority,
				"--keymatexport", exporterLabel, "--keymatexportsize", "32"}
			if sc.psk {
				args = append(args, "--pskusername", "alice", "--pskkey", pskHex)
			}
			p := testutil.StartProc(t, "gnutls-cli", append(args, "127.0.0.1")...)
			checkRecordPath(t, s, p, sc.suite, reGnuKeys, false)
			exchange(t, s, p, false)
			if i%2 == 0 {
				if err := s.tx.Stop(); err != nil {
					t.Fatal(err)
				}
				if !p.WaitOutput("Peer has closed", testutil.Patience) {
					t.Fatalf("gnutls-cli did not see our close_notify:\n%s", p.Output())
				}
				return
			}
			p.Stdin.Close() // gnutls-cli sends close_notify at the end of its input
			waitClosed(t, s, p)
		})
		// mediaport is the client of gnutls-serv --echo (in a namespace of
		// its own); gnutls-serv prints no exporter.
		t.Run("client/"+sc.suite, func(t *testing.T) {
			args := []string{"--udp", "-p", "5556", "--echo", "--priority", priority}
			if sc.psk {
				args = append(args, "--pskpasswd", pskFile)
			} else {
				args = append(args, "--x509certfile", theirs.CertPath, "--x509keyfile", theirs.KeyPath)
			}
			p := testutil.StartInNetns(t, "gnutls-serv", args...)
			if !p.WaitOutput("listening", testutil.Patience) {
				t.Fatalf("gnutls-serv: %s", p.Output())
			}
			s := netnsSide(t, interopModule(t, sc.psk, ours), p)
			s.bind(t, netip.AddrPortFrom(lo4, 5556), association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 15 * time.Second})
			checkRecordPath(t, s, p, sc.suite, nil, false)
			exchange(t, s, p, true)
			if err := s.tx.Stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// netnsSide is a side whose VMP[rx] port lives in the network namespace
// of the peer process p.
func netnsSide(t *testing.T, mod *mediaport.Module, p *testutil.Proc) *side {
	t.Helper()
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
	return s
}
