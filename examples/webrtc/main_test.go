package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer the test reads while run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun: the program prints its URL, serves the page and answers an
// offer, and returns when its context ends.
func TestRun(t *testing.T) {
	if err := run(context.Background(), "127.0.0.1:0", "both", slog.New(slog.DiscardHandler), io.Discard); err == nil {
		t.Error("run accepted -setup both")
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", Active, slog.New(slog.DiscardHandler), out) }()
	re := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/) in a browser`)
	var url string
	waitFor(t, 30*time.Second, "the URL", func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	}, out.String)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "RTCPeerConnection") {
		t.Errorf("page: %.200s", page)
	}
	resp, err = http.Post(url+"offer?id=t", "application/sdp", strings.NewReader(readOffer(t, "chromium_audio.sdp")))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// -setup active: the default role when the page asks for none.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), "a=setup:active") {
		t.Errorf("%d %s", resp.StatusCode, answer)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
