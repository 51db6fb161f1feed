package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

// Proc is a peer program started for one test, with its output collected.
type Proc struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan struct{}
}

type procWriter struct{ p *Proc }

func (w procWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// StartProc starts the named peer (skipping, or failing under
// MEDIAPORT_REQUIRE_PEERS=1, when it is not installed) with stdin a pipe
// held open until the test ends, and stdout and stderr collected. The
// process is killed when the test ends.
func StartProc(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	bin := Peer(t, name)
	return StartCmd(t, exec.Command(bin, args...))
}

// StartCmd starts cmd as StartProc does.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = procWriter{p}, procWriter{p}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitOutput waits until the output contains s, the process exits, or the
// limit passes; it reports whether s appeared.
func (p *Proc) WaitOutput(s string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if strings.Contains(p.Output(), s) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.Output(), s)
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process ends.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Cert is a self-signed ECDSA P-256 certificate for tests, in memory and as
// PEM files for peers.
type Cert struct {
	TLS      tls.Certificate
	CertPath string
	KeyPath  string
}

// SelfSignedCert generates a self-signed ECDSA P-256 certificate with the
// given common name and writes it as PEM files into a temporary directory.
func SelfSignedCert(t testing.TB, cn string) Cert {
	t.Helper()
	tc, err := selfsign.GenerateSelfSignedWithDNS(cn)
	if err != nil {
		t.Fatal(err)
	}
	der, key := tc.Certificate[0], tc.PrivateKey.(*ecdsa.PrivateKey)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := Cert{
		TLS:      tc,
		CertPath: filepath.Join(dir, cn+"-cert.pem"),
		KeyPath:  filepath.Join(dir, cn+"-key.pem"),
	}
	if err := os.WriteFile(c.CertPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitMatch waits until the output matches re (or the process exits, or
// the limit passes) and returns the submatches, nil if none.
func (p *Proc) WaitMatch(re *regexp.Regexp, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m
		}
		if p.Exited() || time.Now().After(deadline) {
			return re.FindStringSubmatch(p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
