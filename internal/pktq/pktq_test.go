package pktq

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
)

func fill(pool *Pool, s string) *Packet {
	p := pool.Get()
	p.N = copy(p.Buf, s)
	p.Src = netip.MustParseAddrPort("192.0.2.1:5000")
	return p
}

func TestQueueOrderOverrunEpisodes(t *testing.T) {
	pool := NewPool(64)
	q := NewQueue(3, pool)
	for i := 0; i < 3; i++ {
		if !q.Push(fill(pool, fmt.Sprint(i))) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.Pending() != true || q.TakeOverrun() {
		t.Fatal("overrun reported without overflow")
	}
	// An episode of 5 drops: one Overrun.
	for i := 0; i < 5; i++ {
		if q.Push(fill(pool, "x")) {
			t.Fatal("push into a full queue accepted")
		}
	}
	if !q.TakeOverrun() || q.TakeOverrun() || q.Drops() != 5 {
		t.Fatalf("first episode: overrun must be reported once; drops %d", q.Drops())
	}
	// Still full, more drops: the same episode, no new Overrun.
	q.Push(fill(pool, "y"))
	if q.TakeOverrun() {
		t.Fatal("drops within one episode reported twice")
	}
	buf := make([]byte, 64)
	pp, ok, err := q.Pop(buf)
	if !ok || err != nil || string(buf[:pp.N]) != "0" || !pp.More {
		t.Fatalf("Pop = %q %v %v more=%v, want the oldest, more queued", buf[:pp.N], ok, err, pp.More)
	}
	if !q.Push(fill(pool, "3")) { // accepted: the episode ends
		t.Fatal("push refused with room")
	}
	q.Push(fill(pool, "z")) // a new episode
	if !q.TakeOverrun() {
		t.Fatal("a second episode was not reported")
	}
	for _, want := range []string{"1", "2", "3"} {
		pp, ok, err := q.Pop(buf)
		if !ok || err != nil || string(buf[:pp.N]) != want || pp.Src.Port() != 5000 || pp.More != (want != "3") {
			t.Fatalf("Pop = %q more=%v, want %q", buf[:pp.N], pp.More, want)
		}
	}
	if pp, ok, _ := q.Pop(buf); ok || pp.More || q.Pending() {
		t.Fatal("empty queue popped or pending")
	}
}

func TestPopBufferTooSmallKeepsPacket(t *testing.T) {
	pool := NewPool(64)
	q := NewQueue(4, pool)
	q.Push(fill(pool, "hello world"))
	pp, ok, err := q.Pop(make([]byte, 5))
	if !errors.Is(err, ErrBufferTooSmall) || !ok || pp.N != 11 || !pp.More {
		t.Fatalf("Pop into 5 bytes = %+v %v %v, want ErrBufferTooSmall with the length 11", pp, ok, err)
	}
	buf := make([]byte, 11)
	pp, ok, err = q.Pop(buf)
	if err != nil || !ok || string(buf[:pp.N]) != "hello world" || pp.More {
		t.Fatalf("packet lost after a short buffer: %q %v", buf[:pp.N], err)
	}
}

func TestCloseAndReset(t *testing.T) {
	pool := NewPool(8)
	q := NewQueue(4, pool)
	q.Push(fill(pool, "a"))
	q.Close()
	if q.Push(fill(pool, "b")) {
		t.Fatal("push after Close accepted")
	}
	if q.Len() != 1 {
		t.Fatal("Close dropped queued packets")
	}
	q.Reset()
	if q.Len() != 0 || q.Pending() {
		t.Fatal("Reset left packets")
	}
}

func TestNoAllocs(t *testing.T) {
	pool := NewPool(2048)
	q := NewQueue(16, pool)
	buf := make([]byte, 2048)
	testutil.NoAllocs(t, "Get+Push+Pop", func() {
		p := pool.Get()
		p.N = 1200
		q.Push(p)
		q.Pop(buf)
	})
}

func TestQueueGrowsToBound(t *testing.T) {
	pool := NewPool(16)
	q := NewQueue(100, pool)
	if q.ring != nil {
		t.Fatalf("a new queue holds a ring of %d", len(q.ring))
	}
	// Pop two first so that the ring has wrapped when it grows.
	buf := make([]byte, 16)
	for i := 0; i < 5; i++ {
		q.Push(fill(pool, fmt.Sprint(i)))
		if len(q.ring) != initialRing {
			t.Fatalf("ring of %d after %d pushes, want %d", len(q.ring), i+1, initialRing)
		}
	}
	if len(q.ring) != initialRing {
		t.Fatalf("initial ring %d", len(q.ring))
	}
	q.Pop(buf)
	q.Pop(buf)
	for i := 5; q.Len() < 100; i++ {
		if !q.Push(fill(pool, fmt.Sprint(i))) {
			t.Fatalf("push %d refused with %d queued, bound 100", i, q.Len())
		}
	}
	if q.Push(fill(pool, "over")) || q.Drops() != 1 || len(q.ring) != 100 {
		t.Fatalf("push beyond the bound: drops %d, ring %d", q.Drops(), len(q.ring))
	}
	for want := 2; want < 102; want++ {
		pp, ok, _ := q.Pop(buf)
		if !ok || string(buf[:pp.N]) != fmt.Sprint(want) {
			t.Fatalf("pop %q, want %d: order lost in growth", buf[:pp.N], want)
		}
	}
}

// TestPopMoreReportsOverrun: an empty queue with an Overrun not yet
// reported still has something pending, and Pop says so.
func TestPopMoreReportsOverrun(t *testing.T) {
	pool := NewPool(8)
	q := NewQueue(1, pool)
	q.Push(fill(pool, "a"))
	q.Push(fill(pool, "b")) // dropped: Overrun
	buf := make([]byte, 8)
	if pp, ok, _ := q.Pop(buf); !ok || !pp.More {
		t.Fatalf("Pop = %+v %v, want a packet and more (the Overrun)", pp, ok)
	}
	if pp, ok, _ := q.Pop(buf); ok || !pp.More {
		t.Fatalf("empty Pop = %+v %v, want no packet, more (the Overrun)", pp, ok)
	}
	q.TakeOverrun()
	if pp, ok, _ := q.Pop(buf); ok || pp.More {
		t.Fatalf("empty Pop after the Overrun was reported = %+v %v", pp, ok)
	}
}

// TestTake: Take hands over the packets in order, with their ownership,
// and leaves the queue empty and not pending.
func TestTake(t *testing.T) {
	pool := NewPool(64)
	q := NewQueue(4, pool)
	if _, ok := q.Take(); ok {
		t.Fatal("Take from an empty queue")
	}
	for _, s := range []string{"a", "b"} {
		q.Push(fill(pool, s))
	}
	for _, want := range []string{"a", "b"} {
		p, ok := q.Take()
		if !ok || string(p.Bytes()) != want {
			t.Fatalf("Take = %v %v, want %q", p, ok, want)
		}
		p.N = copy(p.Buf, "reused") // ours now: the queue no longer sees it
	}
	if _, ok := q.Take(); ok || q.Pending() || q.Len() != 0 {
		t.Fatal("queue not empty after taking everything")
	}
	q.Push(fill(pool, "c"))
	buf := make([]byte, 8)
	if pp, ok, _ := q.Pop(buf); !ok || string(buf[:pp.N]) != "c" {
		t.Fatalf("Pop after Take = %q", buf[:pp.N])
	}
}

func TestQueueTrim(t *testing.T) {
	pool := NewPool(16)
	q := NewQueue(100, pool)
	buf := make([]byte, 16)
	for i := 0; i < 10; i++ {
		q.Push(fill(pool, fmt.Sprint(i)))
	}
	q.Pop(buf)
	q.Trim() // not empty: kept
	if len(q.ring) != 2*initialRing || q.Len() != 9 {
		t.Fatalf("Trim of a queue of %d: ring %d", q.Len(), len(q.ring))
	}
	for q.Len() > 0 {
		q.Pop(buf)
	}
	q.Trim()
	if q.ring != nil {
		t.Fatalf("empty queue keeps a ring of %d after Trim", len(q.ring))
	}
	for i := 0; i < 3; i++ { // in order again
		q.Push(fill(pool, fmt.Sprint(i)))
	}
	for i := 0; i < 3; i++ {
		if pp, ok, err := q.Pop(buf); !ok || err != nil || string(buf[:pp.N]) != fmt.Sprint(i) {
			t.Fatalf("pop %d after Trim: %q %v %v", i, buf[:pp.N], ok, err)
		}
	}
}

// TestReservedQueue: Push stops at the bound, PushReserved goes on into
// the reserve and stops there, and the reserve only ever holds reserved
// packets' worth: a full queue means at least reserve of them wait.
func TestReservedQueue(t *testing.T) {
	pool := NewPool(64)
	q := NewReservedQueue(4, 2, pool)
	push := func(reserved bool, kind uint8) bool {
		p := pool.Get()
		p.N, p.Kind = 1, kind
		if reserved {
			return q.PushReserved(p)
		}
		return q.Push(p)
	}
	for i := range 6 {
		if got := push(false, 1); got != (i < 4) {
			t.Fatalf("Push %d: %v", i, got)
		}
	}
	if !q.TakeOverrun() || q.Drops() != 2 {
		t.Fatalf("overrun not recorded: drops %d", q.Drops())
	}
	for i := range 3 {
		if got := push(true, 2); got != (i < 2) {
			t.Fatalf("PushReserved %d: %v", i, got)
		}
	}
	if q.Len() != 6 || q.Drops() != 3 {
		t.Fatalf("len %d drops %d", q.Len(), q.Drops())
	}
	// Pop one RTP: Push may take its place, not beyond.
	buf := make([]byte, 64)
	if pp, ok, _ := q.Pop(buf); !ok || pp.Kind != 1 {
		t.Fatalf("pop: %+v %v", pp, ok)
	}
	if push(false, 1) {
		t.Fatal("Push took room while the queue held its bound (4 of 5 with reserved ones)")
	}
	// Reserved packets first in an empty queue use the common room; Push
	// then stops at the bound all the same.
	q.Reset()
	for range 4 {
		if !push(true, 2) {
			t.Fatal("PushReserved refused in an empty queue")
		}
	}
	if push(false, 1) {
		t.Fatal("Push beyond the bound")
	}
	for i, want := range []bool{true, true, false} {
		if push(true, 2) != want {
			t.Fatalf("PushReserved %d beyond the bound: want %v (bound 4, reserve 2)", i, want)
		}
	}
	q.Reset()
	plain := NewQueue(2, pool)
	for i, want := range []bool{true, true, false} {
		if plain.PushReserved(pool.Get()) != want {
			t.Fatalf("PushReserved %d on a queue of 2 without reserve: want %v, as Push", i, want)
		}
	}
}

// TestQueueMeta: a packet's receive metadata comes out of Pop with it,
// also when the buffer is too small, and a packet back in the pool
// carries none.
func TestQueueMeta(t *testing.T) {
	pool := NewPool(64)
	q := NewQueue(4, pool)
	want := udp.Meta{Time: 1234567890, TTL: 64, TOS: 0xb8, Flags: udp.MetaTTL | udp.MetaTOS}
	p := fill(pool, "hello")
	p.Meta = want
	q.Push(p)
	q.Push(fill(pool, "none"))
	if pp, _, err := q.Pop(make([]byte, 1)); !errors.Is(err, ErrBufferTooSmall) || pp.Meta != want {
		t.Fatalf("short buffer: %+v, %v; want Meta %+v", pp, err, want)
	}
	if pp, ok, _ := q.Pop(make([]byte, 64)); !ok || pp.Meta != want {
		t.Fatalf("Pop: %+v; want Meta %+v", pp, want)
	}
	if pp, ok, _ := q.Pop(make([]byte, 64)); !ok || pp.Meta != (udp.Meta{}) {
		t.Fatalf("Pop of a packet without: %+v", pp)
	}
	p.Meta = want
	pool.Put(p)
	if p.Meta != (udp.Meta{}) {
		t.Fatalf("Put left Meta %+v", p.Meta)
	}
}
