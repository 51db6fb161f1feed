package udp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// gatePair is a Reader of 4 slots shared through a Gate by a receive
// goroutine (ReadHolding) and the test as poller; the first byte of each
// datagram read, by either, is recorded in order.
type gatePair struct {
	t      *testing.T
	r, s   *Conn
	rd     *Reader
	g      Gate
	mu     sync.Mutex
	got    []byte
	done   chan struct{}
	leftAt time.Time // the last Leave(true): the last lease
}

func newGatePair(t *testing.T, lease time.Duration) *gatePair {
	p := &gatePair{t: t, done: make(chan struct{})}
	p.r, _ = Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	p.s, _ = Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	t.Cleanup(func() { p.s.Close() })
	p.rd = NewReader(p.r, 4, 64)
	p.g.SetLease(lease)
	go func() {
		defer close(p.done)
		for {
			n, err := p.rd.ReadHolding(&p.g)
			if err != nil {
				return
			}
			p.record(n)
			p.g.Release()
		}
	}()
	return p
}

func (p *gatePair) record(n int) {
	p.mu.Lock()
	for _, m := range p.rd.Msgs[:n] {
		p.got = append(p.got, m.Buf[0])
	}
	p.mu.Unlock()
}

func (p *gatePair) send(from, to byte) {
	for i := from; i < to; i++ {
		if _, err := p.s.WriteTo([]byte{i}, p.r.LocalAddr()); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *gatePair) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }

func (p *gatePair) waitFor(n int) {
	deadline := time.Now().Add(5 * time.Second)
	for p.count() < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("read %d datagrams, want %d", p.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold takes the gate, runs send, and waits until the receive goroutine
// has found the gate held.
func (p *gatePair) hold(send func()) {
	for !p.g.TryEnter() {
		time.Sleep(time.Millisecond)
	}
	send()
	deadline := time.Now().Add(5 * time.Second)
	for !p.g.missed.Load() {
		if time.Now().After(deadline) {
			p.t.Fatal("the receive goroutine did not report the skipped wake-up")
		}
		time.Sleep(time.Millisecond)
	}
}

// poll reads once with the gate held and leaves it; it returns Leave's
// report.
func (p *gatePair) poll(want int) (again bool) {
	n, err := p.rd.Poll()
	if err != nil || n != want {
		p.t.Fatalf("Poll = %d, %v; want %d", n, err, want)
	}
	p.record(n)
	drained := n < len(p.rd.Msgs)
	if !drained {
		p.leftAt = time.Now()
	}
	return p.g.Leave(!drained)
}

// end closes the socket and checks that every datagram [0, n) was read
// exactly once, in order.
func (p *gatePair) end(n int) {
	p.r.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) != n {
		p.t.Fatalf("read %d datagrams, want %d: %v", len(p.got), n, p.got)
	}
	for i, b := range p.got {
		if b != byte(i) {
			p.t.Fatalf("datagrams out of order or repeated: %v", p.got)
		}
	}
}

// TestGateHandOver: a receive goroutine in ReadHolding and a poller share
// one Reader. While the poller holds the gate, datagrams arrive; the
// receive goroutine must not read them (it cannot enter), nor while the
// poller, which reads full batches, keeps the gate leased. A poll that
// finds the socket empty ends the lease; when the receive goroutine
// stepped back during that poll, Leave says to poll again. Every datagram
// is read exactly once, in order, and nothing is left behind.
func TestGateHandOver(t *testing.T) {
	p := newGatePair(t, time.Hour) // the lease never runs out here

	// Nobody holds the gate: the receive goroutine reads.
	p.send(0, 3)
	p.waitFor(3)

	// A poller holds the gate while 10 datagrams arrive: the receive
	// goroutine wakes, cannot enter, and says so.
	p.hold(func() { p.send(3, 13) })
	if p.count() != 3 {
		t.Fatalf("the receive goroutine read while the gate was held: %d", p.count())
	}
	if p.poll(4) {
		t.Fatal("Leave after a full batch said to poll again: the lease covers the rest")
	}
	// Leased: more traffic wakes the receive goroutine, which steps back.
	p.send(13, 14)
	time.Sleep(20 * time.Millisecond)
	if p.count() != 7 {
		t.Fatalf("the receive goroutine read a leased port: %d", p.count())
	}
	for !p.g.TryEnter() { // the receive goroutine may be stepping back
		time.Sleep(time.Millisecond)
	}
	if p.poll(4) {
		t.Fatal("Leave after a full batch said to poll again")
	}
	for !p.g.TryEnter() { // the receive goroutine may be stepping back
		time.Sleep(time.Millisecond)
	}
	p.poll(3) // 11, 12, 13: the socket is empty, the lease ends

	// A poll finds the socket empty; a datagram arrives before it leaves:
	// Leave says to poll again, and that poll reads it.
	p.hold(func() {
		n, err := p.rd.Poll()
		if err != nil || n != 0 {
			t.Fatalf("Poll of an empty socket = %d, %v", n, err)
		}
		p.send(14, 15)
	})
	if !p.g.Leave(false) {
		t.Fatal("Leave did not report the datagram that arrived after an empty poll")
	}
	if !p.g.TryEnterOwing() {
		t.Fatal("the gate is held")
	}
	p.poll(1)

	// The lease has ended: the receive goroutine reads what arrives.
	p.send(15, 17)
	p.waitFor(17)
	p.end(17)
}

// TestGateLeaseExpires: when the pollers that leased the gate stop
// polling, the receive goroutine reads what they left once the lease time
// has passed without a poll, and not before.
func TestGateLeaseExpires(t *testing.T) {
	const lease = 100 * time.Millisecond
	p := newGatePair(t, lease)
	p.hold(func() { p.send(0, 6) })
	if p.poll(4) {
		t.Fatal("Leave after a full batch said to poll again")
	}
	p.waitFor(6)
	if since := time.Since(p.leftAt); since < lease {
		t.Fatalf("the receive goroutine read the leased port %v after the last poll (lease %v)", since, lease)
	}
	p.send(6, 8)
	p.waitFor(8)
	p.end(8)
}

// TestCloseWaitsForPoller: Poll uses the socket's descriptor without a
// reference, so Close waits until the poller holding the gate leaves: the
// descriptor stays open (and cannot be reused) until then. Later Polls
// report net.ErrClosed, and the receive goroutine ends.
func TestCloseWaitsForPoller(t *testing.T) {
	p := newGatePair(t, time.Hour)
	for !p.g.TryEnter() {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.rd.Close(&p.g) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a poller held the gate", err)
	default:
	}
	p.send(0, 1)
	if n, err := p.rd.Poll(); err != nil || n != 1 || p.rd.Msgs[0].Buf[0] != 0 {
		t.Fatalf("Poll while Close waits = %d, %v; want the datagram", n, err)
	}
	p.g.Leave(false)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for !p.g.TryEnter() {
		time.Sleep(time.Millisecond)
	}
	if n, err := p.rd.Poll(); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Poll after Close = %d, %v; want net.ErrClosed", n, err)
	}
	p.g.Leave(false)
	<-p.done
}
