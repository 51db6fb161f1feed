package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/browser"
	"go.uber.org/goleak"
)

// The browser tests share one headless Chromium: it opens the page in
// driven mode on the hub below, which hands it sessions (/next) and routes
// its requests to the Server of the test that runs (each test has its own
// module, so that one can run on a fake clock).

func TestMain(m *testing.M) {
	code := m.Run()
	shared.close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// hub is the HTTP server the shared browser talks to.
type hub struct {
	queue chan Session
	quit  chan struct{}
	mu    sync.Mutex
	srv   *Server
}

// Session is what the driven page runs: one peer connection.
type Session struct {
	ID    string `json:"id"`
	Media string `json:"media"` // "audio" or "data"
	Setup Role   `json:"setup"` // the DTLS role we answer with
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/next" {
		select {
		case sess := <-h.queue:
			json.NewEncoder(w).Encode(sess)
		case <-time.After(20 * time.Second):
			w.WriteHeader(http.StatusNoContent)
		case <-h.quit:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
		return
	}
	h.mu.Lock()
	srv := h.srv
	h.mu.Unlock()
	if srv == nil {
		if r.URL.Path == "/" {
			w.Write(indexHTML)
			return
		}
		http.Error(w, "no test running", http.StatusServiceUnavailable)
		return
	}
	srv.ServeHTTP(w, r)
}

// page is a headless Chromium on the driven page of its own hub.
type page struct {
	hub    *hub
	http   *httptest.Server
	chrome *browser.Chromium
}

// startPage starts Chromium on a new hub; close kills it.
func startPage() (*page, error) {
	p := &page{hub: &hub{queue: make(chan Session), quit: make(chan struct{})}}
	p.http = httptest.NewServer(p.hub)
	var err error
	if p.chrome, err = browser.StartChromium(p.http.URL + "/?driven"); err != nil {
		p.http.Close()
		return nil, err
	}
	return p, nil
}

// close kills the browser and stops the hub.
func (p *page) close() {
	p.chrome.Close()
	close(p.hub.quit)
	p.http.Close()
}

// needChromium skips t when Chromium is missing (fails it under
// MEDIAPORT_REQUIRE_PEERS=1).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := browser.ChromiumPath(); err != nil {
		browser.Missing(t, "chromium", err)
	}
}

// ownPage starts a browser for t alone, killed when t ends.
func ownPage(t *testing.T) *page {
	t.Helper()
	needChromium(t)
	p, err := startPage()
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

// sharedPage is the browser the tests share, started on first use and
// killed by TestMain.
type sharedPage struct {
	once sync.Once
	err  error
	p    *page
}

var shared sharedPage

// get returns the shared browser, starting it on first use; it skips t
// when Chromium is missing (fails it under MEDIAPORT_REQUIRE_PEERS=1).
func (s *sharedPage) get(t *testing.T) *page {
	t.Helper()
	needChromium(t)
	s.once.Do(func() { s.p, s.err = startPage() })
	if s.err != nil {
		t.Fatalf("starting chromium: %v", s.err)
	}
	if s.p.chrome.Exited() {
		t.Fatalf("chromium exited: %s", tail(s.p.chrome.Output(), 2000))
	}
	return s.p
}

func (s *sharedPage) close() {
	if s.p != nil {
		s.p.close()
	}
}

// use makes srv the server the browser's requests go to until t ends.
func (p *page) use(t *testing.T, srv *Server) {
	p.hub.mu.Lock()
	p.hub.srv = srv
	p.hub.mu.Unlock()
	t.Cleanup(func() {
		p.hub.mu.Lock()
		p.hub.srv = nil
		p.hub.mu.Unlock()
	})
}

// run hands sess to the page.
func (p *page) run(t *testing.T, sess Session) {
	t.Helper()
	select {
	case p.hub.queue <- sess:
	case <-time.After(60 * time.Second):
		t.Fatalf("the page did not ask for a session in 60 s; chromium: %s", tail(p.chrome.Output(), 2000))
	}
}

// logBuffer collects a test's mediaport logs, shown when it fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 1<<20 {
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newServer opens a module (on clk, if not nil) and a Server on it, both
// closed when t ends; the module's logs are shown if t fails.
func newServer(t *testing.T, clk mediaport.Clock) *Server {
	t.Helper()
	logs := &logBuffer{}
	mod, err := mediaport.OpenModule(mediaport.Options{Clock: clk,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(mod, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		mod.Close()
		if t.Failed() {
			t.Logf("mediaport log:\n%s", tail(logs.String(), 20000))
		}
	})
	return srv
}

// waitFor polls cond until it holds; after limit it fails t with what
// describe says of the state.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still waiting for %s\n%s", limit, what, describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe says what the call and its peer reached, for failures.
func describe(srv *Server, id string) func() string {
	return func() string {
		var b strings.Builder
		if c := srv.Call(id); c != nil {
			fmt.Fprintf(&b, "call: %+v\n", c.State())
		} else {
			b.WriteString("call: none\n")
		}
		p := srv.Peer(id)
		fmt.Fprintf(&b, "peer: stats %+v reports %d closed %v errors %q\n", p.Stats, p.Reports, p.Closed, p.Errors)
		if shared.p != nil {
			fmt.Fprintf(&b, "chromium: %s\n", tail(chromeLog(shared.p.chrome.Output()), 3000))
		}
		return b.String()
	}
}

// waitCall waits for the call of session id to exist.
func waitCall(t *testing.T, srv *Server, id string) *Call {
	t.Helper()
	waitFor(t, 60*time.Second, "the offer of "+id, func() bool { return srv.Call(id) != nil }, describe(srv, id))
	return srv.Call(id)
}

// chromeLog drops the lines of Chromium's output about D-Bus, which a
// headless test machine does not run.
func chromeLog(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "dbus/") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// aiortc runs testdata/aiortc_peer.py with the Python that has aiortc
// against srv: it offers (media "audio" or "data"), asks for the DTLS role
// setup, reports to /log as the page does, and closes when told to. It
// skips t when Python or aiortc is missing (fails under
// MEDIAPORT_REQUIRE_PEERS=1).
func aiortc(t *testing.T, srv *Server, id, media string, setup Role) *exec.Cmd {
	t.Helper()
	py, err := browser.AiortcPython()
	if err != nil {
		browser.Missing(t, "python3-aiortc", err)
	}
	hs := httptest.NewServer(srv)
	script, _ := filepath.Abs("testdata/aiortc_peer.py")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, script, hs.URL, id, media, string(setup))
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
		if t.Failed() {
			t.Logf("aiortc output:\n%s", tail(out.String(), 5000))
		}
	})
	return cmd
}
