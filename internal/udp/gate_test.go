package udp

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestGateHandOver: a receive goroutine in ReadHolding and a poller share
// one Reader. While the poller holds the gate, datagrams arrive; the
// receive goroutine must not read them (it cannot enter), and the poller's
// Leave must report that it has to poll again. Every datagram is read
// exactly once, in order, and nothing is left behind.
func TestGateHandOver(t *testing.T) {
	r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer s.Close()
	rd := NewReader(r, 4, 64)
	var g Gate
	var mu sync.Mutex
	var got []byte // first byte of each datagram, in the order read
	record := func(n int) {
		mu.Lock()
		for _, m := range rd.Msgs[:n] {
			got = append(got, m.Buf[0])
		}
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := rd.ReadHolding(&g)
			if err != nil {
				return
			}
			record(n)
			g.Release()
		}
	}()
	send := func(from, to byte) {
		for i := from; i < to; i++ {
			if _, err := s.WriteTo([]byte{i}, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	waitFor := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("read %d datagrams, want %d", count(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Nobody holds the gate: the receive goroutine reads.
	send(0, 3)
	waitFor(3)

	// A poller holds the gate while 10 datagrams arrive: the receive
	// goroutine wakes, cannot enter, and says so.
	for !g.TryEnter() {
		time.Sleep(time.Millisecond)
	}
	send(3, 13)
	deadline := time.Now().Add(5 * time.Second)
	for !g.missed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the receive goroutine did not report the skipped wake-up")
		}
		time.Sleep(time.Millisecond)
	}
	if count() != 3 {
		t.Fatalf("the receive goroutine read while the gate was held: %d", count())
	}
	n, err := rd.Poll()
	if err != nil || n != 4 {
		t.Fatalf("Poll = %d, %v; want 4 (a full reader)", n, err)
	}
	record(n)
	if !g.Leave() {
		t.Fatal("Leave did not report the skipped wake-up")
	}
	// Poll again as told, until the socket is empty.
	for g.TryEnter() {
		n, err := rd.Poll()
		if err != nil {
			t.Fatal(err)
		}
		record(n)
		if !g.Leave() && n == 0 {
			break
		}
	}
	waitFor(13)
	// The receive goroutine still reads what arrives later.
	send(13, 15)
	waitFor(15)
	r.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 15 {
		t.Fatalf("read %d datagrams, want 15: %v", len(got), got)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("datagrams out of order or repeated: %v", got)
		}
	}
}
