package event

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSignalMergesAndIsConsumed(t *testing.T) {
	s := NewSource()
	ev := s.Event()
	select {
	case <-ev.C():
		t.Fatal("new event is signalled")
	default:
	}
	s.Signal()
	s.Signal()
	s.Signal()
	if err := ev.Wait(ctxTimeout(t, testutil.Patience)); err != nil {
		t.Fatalf("Wait after Signal: %v", err)
	}
	// Three signals merged into one: the event is no longer signalled.
	// (Signal is synchronous: nothing can arrive later.)
	select {
	case <-ev.C():
		t.Fatal("event still signalled after one Wait consumed three signals")
	default:
	}
}

func TestPermanentSignal(t *testing.T) {
	s := NewSource()
	ev := s.Event()
	ch := ev.C() // obtained before the stop: must see it too
	s.Signal()
	s.SignalPermanently()
	s.SignalPermanently() // no panic, no effect
	s.Signal()            // no panic after permanence
	if !ev.Permanent() {
		t.Fatal("Permanent() = false after SignalPermanently")
	}
	for i := 0; i < 100; i++ {
		if err := ev.Wait(ctxTimeout(t, testutil.Patience)); err != nil {
			t.Fatalf("Wait %d after SignalPermanently: %v", i, err)
		}
		select {
		case <-ch:
		default:
			t.Fatalf("receive %d on C blocked after SignalPermanently", i)
		}
	}
}

func TestWaitContext(t *testing.T) {
	ev := NewSource().Event()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ev.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on cancelled ctx = %v", err)
	}
}

// endpointModel is the pattern every endpoint follows: change state under its
// lock, then signal; Status reads the state under the same lock.
type endpointModel struct {
	mu    sync.Mutex
	count int
	src   *Source
}

func (m *endpointModel) produce() {
	m.mu.Lock()
	m.count++
	m.mu.Unlock()
	m.src.Signal()
}

func (m *endpointModel) status() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// TestNoLostWakeup: several producers change state and signal while a
// consumer waits and polls. If a wake-up were ever lost, the consumer would
// block in Wait with the final state unseen, and the bounded wait fails.
func TestNoLostWakeup(t *testing.T) {
	const producers, perProducer, rounds = 4, 2000, 20
	for r := 0; r < rounds; r++ {
		m := &endpointModel{src: NewSource()}
		ev := m.src.Event()
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perProducer; i++ {
					m.produce()
				}
			}()
		}
		want := producers * perProducer
		for m.status() != want {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			err := ev.Wait(ctx)
			cancel()
			if err != nil {
				t.Fatalf("round %d: lost wake-up: status %d of %d and no signal", r, m.status(), want)
			}
		}
		wg.Wait()
	}
}

// TestNoLostWakeupQueue is TestNoLostWakeup through a Queue with many
// events, each with its own producer.
func TestNoLostWakeupQueue(t *testing.T) {
	const endpoints, perProducer = 16, 1000
	q := NewQueue()
	ms := make([]*endpointModel, endpoints)
	for i := range ms {
		ms[i] = &endpointModel{src: NewSource()}
		if err := q.Attach(ms[i].src.Event(), i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				m.produce()
			}
		}()
	}
	seen := make([]int, endpoints)
	done := 0
	out := make([]Ready, 4)
	for done < endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		n, err := q.Wait(ctx, out)
		cancel()
		if err != nil {
			t.Fatalf("lost wake-up through the queue: %d of %d endpoints finished: %v", done, endpoints, err)
		}
		for _, r := range out[:n] {
			i := r.Tag.(int)
			if ms[i].src.Event() != r.Event {
				t.Fatalf("tag %d reported with the wrong event", i)
			}
			st := ms[i].status()
			if st == perProducer && seen[i] != perProducer {
				done++
			}
			seen[i] = st
		}
	}
	wg.Wait()
}

func TestQueueHundredThousand(t *testing.T) {
	const n = 100_000
	q := NewQueue()
	srcs := make([]*Source, n)
	for i := range srcs {
		srcs[i] = NewSource()
		if err := q.Attach(srcs[i].Event(), i); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != n {
		t.Fatalf("Len = %d, want %d", q.Len(), n)
	}
	// A random subset, some signalled several times: each reported once.
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[int]bool{}
	for i := 0; i < 3000; i++ {
		k := rng.IntN(n)
		want[k] = true
		srcs[k].Signal()
	}
	got := drain(t, q, 256)
	if len(got) != len(want) {
		t.Fatalf("Wait reported %d events, want %d distinct", len(got), len(want))
	}
	for k := range want {
		if got[k] != 1 {
			t.Fatalf("event %d reported %d times, want 1", k, got[k])
		}
	}
	// Every event signalled: all reported, in signal order.
	for _, s := range srcs {
		s.Signal()
	}
	out := make([]Ready, 1000)
	next := 0
	for next < n {
		k, err := q.Wait(ctxTimeout(t, testutil.Patience), out)
		if err != nil {
			t.Fatalf("after %d of %d: %v", next, n, err)
		}
		for _, r := range out[:k] {
			if r.Tag.(int) != next {
				t.Fatalf("reported tag %d, want %d (FIFO)", r.Tag, next)
			}
			next++
		}
	}
	for _, s := range srcs {
		s.Detach()
	}
	if q.Len() != 0 {
		t.Fatalf("Len after detaching all = %d", q.Len())
	}
	srcs[7].Signal()
	if k, _ := q.poll(out); k != 0 {
		t.Fatalf("detached event reported")
	}
}

// drain collects every ready event without blocking once the queue is empty.
func drain(t *testing.T, q *Queue, batch int) map[int]int {
	t.Helper()
	got := map[int]int{}
	out := make([]Ready, batch)
	for {
		n, err := q.poll(out)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return got
		}
		for _, r := range out[:n] {
			got[r.Tag.(int)]++
		}
	}
}

func TestQueuePermanentReportedUntilDetached(t *testing.T) {
	q := NewQueue()
	a, b := NewSource(), NewSource()
	if err := q.Attach(a.Event(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := q.Attach(b.Event(), "b"); err != nil {
		t.Fatal(err)
	}
	a.SignalPermanently()
	out := make([]Ready, 4)
	for i := 0; i < 3; i++ {
		n, err := q.Wait(ctxTimeout(t, testutil.Patience), out)
		if err != nil || n != 1 || out[0].Tag != "a" || !out[0].Permanent {
			t.Fatalf("Wait %d = %d %v %+v, want the permanent event a", i, n, err, out[0])
		}
	}
	b.Signal()
	n, _ := q.Wait(ctxTimeout(t, testutil.Patience), out)
	if n != 2 {
		t.Fatalf("Wait = %d events, want a and b", n)
	}
	a.Detach()
	n, _ = q.poll(out)
	if n != 0 {
		t.Fatalf("detached permanent event still reported (%d)", n)
	}
}

func TestQueueAttachSignalledAndErrors(t *testing.T) {
	q := NewQueue()
	s := NewSource()
	s.Signal()
	if err := q.Attach(s.Event(), 1); err != nil {
		t.Fatal(err)
	}
	out := make([]Ready, 1)
	if n, err := q.Wait(ctxTimeout(t, testutil.Patience), out); n != 1 || err != nil {
		t.Fatalf("event signalled before Attach not reported: %d %v", n, err)
	}
	q2 := NewQueue()
	if err := q2.Attach(s.Event(), 2); !errors.Is(err, ErrAttached) {
		t.Fatalf("attach to a second queue = %v, want ErrAttached", err)
	}
	if err := q2.Detach(s.Event()); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("detach from the wrong queue = %v, want ErrNotAttached", err)
	}
	if err := q.Attach(nil, 0); !errors.Is(err, ErrNilEvent) {
		t.Fatalf("attach nil = %v", err)
	}
	if _, err := q.Wait(context.Background(), nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Wait(nil) = %v", err)
	}
	// Signal, then detach before Wait: not reported.
	s.Signal()
	if err := q.Detach(s.Event()); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.poll(out); n != 0 {
		t.Fatal("event detached while ready was reported")
	}
	// Close wakes a waiter; the event can then move to another queue.
	if err := s.Event().Wait(ctxTimeout(t, testutil.Patience)); err != nil { // consume the signal
		t.Fatal(err)
	}
	if err := q.Attach(s.Event(), 1); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := q.Wait(context.Background(), make([]Ready, 1))
		errc <- err
	}()
	testutil.WaitBlocked(t, "event.(*Queue).Wait") // Close must wake it, not find it late
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrQueueClosed) {
			t.Fatalf("Wait on closed queue = %v", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("Close did not wake the waiter")
	}
	if err := q.Close(); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if err := q.Attach(NewSource().Event(), 0); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("Attach on closed queue = %v", err)
	}
	if err := q2.Attach(s.Event(), 2); err != nil {
		t.Fatalf("attach after the first queue closed: %v", err)
	}
}

// BenchmarkQueueSignal measures the cost of one Signal on an attached event,
// including its share of the Wait that collects it, with 1,000 and 100,000
// events attached; the signals fall on 1,000 of them chosen at random. The
// two should cost the same: a signal is O(1) whatever the number attached.
func BenchmarkQueueSignal(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("attached=%d", n), func(b *testing.B) { benchSignal(b, n, 1_000) })
	}
}

// BenchmarkQueueSignalSpread is BenchmarkQueueSignal with the signals spread
// over every attached event. With 100,000 events (about 6 MB of them) nearly
// every signal misses the CPU caches, so the difference between the two
// sizes is memory latency, not work done by the queue.
func BenchmarkQueueSignalSpread(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("attached=%d", n), func(b *testing.B) { benchSignal(b, n, n) })
	}
}

func benchSignal(b *testing.B, attached, active int) {
	q := NewQueue()
	srcs := make([]*Source, attached)
	for i := range srcs {
		srcs[i] = NewSource()
		if err := q.Attach(srcs[i].Event(), i); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	set := rng.Perm(attached)[:active]
	order := make([]*Source, 1<<16)
	for i := range order {
		order[i] = srcs[set[rng.IntN(active)]]
	}
	out := make([]Ready, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order[i&(len(order)-1)].Signal()
		if i&63 == 63 {
			for {
				k, _ := q.poll(out)
				if k < len(out) {
					break
				}
			}
		}
	}
}

// TestSourceInit: a Source held by value is a nil handle until Init, and
// then works as one NewSource made.
func TestSourceInit(t *testing.T) {
	var owner struct {
		n   int
		src Source
	}
	if ev := owner.src.Event(); ev != nil {
		t.Fatal("a zero Source has an Event")
	}
	owner.src.Signal() // no effect, no panic
	owner.src.Init()
	ev := owner.src.Event()
	if ev == nil || ev != owner.src.Event() {
		t.Fatal("Init: no Event, or not the same one")
	}
	select {
	case <-ev.C():
		t.Fatal("Init: event signalled")
	default:
	}
	owner.src.Signal()
	if err := ev.Wait(ctxTimeout(t, testutil.Patience)); err != nil {
		t.Fatalf("Wait after Signal: %v", err)
	}
	owner.src.SignalPermanently()
	if !ev.Permanent() {
		t.Fatal("SignalPermanently: not permanent")
	}
}

// TestSourceInitNil: Init on a nil Source does nothing.
func TestSourceInitNil(t *testing.T) {
	var s *Source
	s.Init()
	if s.Event() != nil {
		t.Fatal("a nil Source has an Event")
	}
}

// TestSignalBeforeChannelMerges: signals before C made the channel merge
// into one (Signal then only looks), C hands it over, and a Signal after
// it was consumed signals again.
func TestSignalBeforeChannelMerges(t *testing.T) {
	s := NewSource()
	ev := s.Event()
	s.Signal()
	s.Signal() // merges into the pending one
	ch := ev.C()
	select {
	case <-ch:
	default:
		t.Fatal("signals before C lost")
	}
	select {
	case <-ch:
		t.Fatal("two signals before C not merged")
	default:
	}
	s.Signal()
	s.Signal() // merges into the token in ch
	select {
	case <-ch:
	default:
		t.Fatal("signal after the token was consumed lost")
	}
	select {
	case <-ch:
		t.Fatal("two signals not merged")
	default:
	}
}
