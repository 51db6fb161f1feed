// Package browser runs the WebRTC peers of mediaport's tests: headless
// Chromium on a page, and aiortc (Python) scripts. Both are real, installed
// programs (Debian's chromium and python3-aiortc); a test that needs one
// skips when it is missing, and fails instead under
// MEDIAPORT_REQUIRE_PEERS=1 (internal/testutil).
package browser

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// chromiumNames are the names Chromium is installed under.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// ChromiumPath returns the path of Chromium, or an error naming what was
// looked for.
func ChromiumPath() (string, error) {
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %v in PATH", chromiumNames)
}

// Missing skips t (or fails it under MEDIAPORT_REQUIRE_PEERS=1) because
// the named peer cannot run.
func Missing(t testing.TB, peer string, err error) {
	t.Helper()
	if testutil.RequirePeers() {
		t.Fatalf("peer %s unavailable and MEDIAPORT_REQUIRE_PEERS=1: %v", peer, err)
	}
	t.Skipf("peer %s unavailable: %v", peer, err)
}

// Flags are the command-line flags Chromium runs with: headless, no
// sandbox (tests run as root), no GPU, no background traffic, a fake
// microphone that needs no permission prompt, and loopback candidates
// (without --allow-loopback-in-peer-connection a host with only lo gathers
// no candidate and ICE never starts).
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
	"--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync",
	"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
	"--allow-loopback-in-peer-connection",
}

// Chromium is a running headless Chromium, in its own process group, with
// a fresh profile directory.
type Chromium struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}

	mu  sync.Mutex
	out bytes.Buffer // the first 1 MiB of its output
}

// StartChromium starts Chromium on url with Flags and a fresh
// --user-data-dir. Close kills it (its whole process group) and removes
// the directory.
func StartChromium(url string) (*Chromium, error) {
	bin, err := ChromiumPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mediaport-chromium-")
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, Flags...), "--user-data-dir="+dir, url)
	c := &Chromium{cmd: exec.Command(bin, args...), dir: dir, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = (*writer)(c), (*writer)(c)
	// Its own process group: Chromium forks renderer, GPU and network
	// processes, and killing the group ends them all.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	return c, nil
}

type writer Chromium

func (w *writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 1<<20 - w.out.Len(); room > 0 {
		w.out.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// Output returns what Chromium printed so far (its first 1 MiB).
func (c *Chromium) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Exited reports whether the main Chromium process has ended.
func (c *Chromium) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Kill kills Chromium's process group and waits for the main process.
func (c *Chromium) Kill() {
	// The group's id is the main process's pid (Setpgid).
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
	}
}

// Close kills Chromium and removes its profile directory.
func (c *Chromium) Close() error {
	c.Kill()
	if !c.Exited() {
		return errors.New("browser: chromium did not exit after SIGKILL")
	}
	return os.RemoveAll(c.dir)
}

// aiortcPython is the Python that has aiortc: Debian's python3-aiortc
// installs it for the system interpreter only, which a pyenv or venv
// python3 earlier in PATH does not see.
const aiortcPython = "/usr/bin/python3"

var aiortcOnce struct {
	sync.Once
	err error
}

// AiortcPython returns the path of a Python that can import aiortc, or an
// error saying why there is none.
func AiortcPython() (string, error) {
	aiortcOnce.Do(func() {
		out, err := exec.Command(aiortcPython, "-c", "import aiortc").CombinedOutput()
		if err != nil {
			aiortcOnce.err = fmt.Errorf("%s -c 'import aiortc': %v: %s", aiortcPython, err, bytes.TrimSpace(out))
		}
	})
	return aiortcPython, aiortcOnce.err
}
