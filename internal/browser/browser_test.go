package browser

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestChromiumClose: Chromium loads the page it is started on, and Close
// leaves no process of its group and no profile directory behind.
func TestChromiumClose(t *testing.T) {
	if _, err := ChromiumPath(); err != nil {
		Missing(t, "chromium", err)
	}
	loaded := make(chan struct{}, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			select {
			case loaded <- struct{}{}:
			default:
			}
		}
		w.Write([]byte("<!doctype html><title>t</title>"))
	}))
	defer hs.Close()
	c, err := StartChromium(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-loaded:
	case <-time.After(60 * time.Second):
		c.Close()
		t.Fatalf("chromium did not load the page in 60 s: %s", c.Output())
	}
	pgid := c.cmd.Process.Pid
	if err := syscall.Kill(-pgid, 0); err != nil {
		t.Fatalf("no process in chromium's group %d: %v", pgid, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// SIGKILL is immediate, but the kernel may take a moment to reap the
	// children whose parent died first.
	if !testutil.Poll(30*time.Second, func() bool { return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) }) {
		t.Errorf("processes of group %d survive Close", pgid)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("profile directory %s: %v", c.dir, err)
	}
}

func TestAiortcPython(t *testing.T) {
	py, err := AiortcPython()
	if err != nil {
		Missing(t, "python3-aiortc", err)
	}
	if py != "/usr/bin/python3" {
		t.Errorf("python %s", py)
	}
}
