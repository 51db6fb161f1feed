package rxloop

import (
	"math/rand"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		b      Backoff
		delays []time.Duration // then stop
	}{
		{Backoff{}, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond, 500 * time.Millisecond}},
		{Backoff{Limit: 1}, nil},
		{Backoff{Limit: 3, Base: time.Second, Max: 3 * time.Second}, []time.Duration{time.Second, 2 * time.Second}},
		{Backoff{Limit: 5, Base: time.Millisecond, Max: 2 * time.Millisecond}, []time.Duration{time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond}},
	} {
		b := tc.b
		for i, want := range tc.delays {
			d, stop := b.Fail()
			if stop || d != want {
				t.Fatalf("%+v: error %d: Fail = %v, %v; want %v, false", tc.b, i+1, d, stop, want)
			}
		}
		if _, stop := b.Fail(); !stop {
			t.Fatalf("%+v: did not give up after %d errors", tc.b, len(tc.delays)+1)
		}
	}
	// A read that works starts the count again.
	var b Backoff
	for i := 0; i < 3*DefaultLimit; i++ {
		if _, stop := b.Fail(); stop {
			t.Fatalf("gave up after %d errors with reads in between", i)
		}
		if i%2 == 1 {
			b.OK()
		}
	}
}

func TestWatchTable(t *testing.T) {
	type step struct {
		op    string // readable, read, more, error, elapsed
		act   Action
		state State
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"readable signals once", []step{
			{"readable", Signal, Fired}, {"readable", 0, Fired},
		}},
		{"empty read arms", []step{
			{"readable", Signal, Fired}, {"read", Arm, Armed}, {"readable", Signal, Fired},
		}},
		{"full read signals again", []step{
			{"readable", Signal, Fired}, {"more", Signal, Fired}, {"more", Signal, Fired}, {"read", Arm, Armed},
		}},
		{"reads while armed leave the watcher", []step{
			{"more", 0, Armed}, {"read", 0, Armed}, {"readable", Signal, Fired},
		}},
		{"error waits then arms", []step{
			{"readable", Signal, Fired}, {"error", Wait, Delayed}, {"readable", 0, Delayed}, {"read", 0, Delayed}, {"elapsed", Arm, Armed}, {"elapsed", 0, Armed},
		}},
		{"errors reach the limit", []step{
			{"error", Wait, Delayed}, {"elapsed", Arm, Armed}, {"error", Wait, Delayed}, {"error", Stop, Stopped},
			{"readable", 0, Stopped}, {"read", 0, Stopped}, {"error", 0, Stopped}, {"elapsed", 0, Stopped},
		}},
		{"a read between errors resets the count", []step{
			{"error", Wait, Delayed}, {"error", Wait, Delayed}, {"elapsed", Arm, Armed}, {"read", 0, Armed},
			{"error", Wait, Delayed}, {"error", Wait, Delayed}, {"error", Stop, Stopped},
		}},
	} {
		w := Watch{Backoff: Backoff{Limit: 3}}
		for i, s := range tc.steps {
			var act Action
			switch s.op {
			case "readable":
				act = w.Readable()
			case "read":
				act = w.Read(false)
			case "more":
				act = w.Read(true)
			case "error":
				act, _ = w.Error()
			case "elapsed":
				act = w.Elapsed()
			}
			if act != s.act || w.State() != s.state {
				t.Fatalf("%s: step %d (%s): action %b, state %v; want %b, %v", tc.name, i, s.op, act, w.State(), s.act, s.state)
			}
		}
	}
}

// model is a socket, its watcher and its consumers around a Watch, for
// random schedules. The watcher is a goroutine in the real thing; here
// each of its moves is a step of the schedule.
type model struct {
	t        *testing.T
	w        Watch
	clk      *clock.Fake
	queued   int  // datagrams in the socket
	waiting  bool // watcher in the netpoller (armed, not parked)
	woken    bool // the netpoller would wake the watcher: data arrived or queued since it waited
	armToken bool // an Arm not yet taken by the parked watcher
	signaled bool // consumers signalled and not yet read since
	readers  int  // consumers in a read
	failAt   int  // consecutive errors the socket will return
	timer    clock.Timer
	signals  int
	arms     int // armings: Arm actions, plus the first
	wakeups  int // Readable reports
	stopped  bool
	stopErrs int // consecutive errors when Stop was returned
	errs     int // consecutive errors so far
}

func (m *model) do(act Action, d time.Duration) {
	if act&Signal != 0 {
		m.signaled = true
		m.signals++
	}
	if act&Arm != 0 {
		m.armToken = true
		m.arms++
	}
	if act&Wait != 0 {
		if m.timer != nil {
			m.timer.Stop()
		}
		m.timer = m.clk.AfterFunc(d, func() { m.do(m.w.Elapsed(), 0) })
	}
	if act&Stop != 0 {
		if m.stopped {
			m.t.Fatal("Stop twice")
		}
		m.stopped, m.stopErrs = true, m.errs
	}
}

func TestWatchRandom(t *testing.T) {
	const limit = 4
	for seed := int64(1); seed <= 2000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		m := &model{t: t, w: Watch{Backoff: Backoff{Limit: limit, Base: time.Millisecond, Max: 4 * time.Millisecond}},
			clk: clock.NewFake(time.Unix(0, 0)), waiting: true, arms: 1}
		for step := 0; step < 200 && !m.stopped; step++ {
			switch op := rng.Intn(8); op {
			case 0: // datagrams arrive
				m.queued += 1 + rng.Intn(3)
				if m.waiting {
					m.woken = true
				}
			case 1: // the watcher runs: in the netpoller it peeks when woken; parked, it takes an Arm
				switch {
				case m.waiting && (m.woken || m.queued > 0):
					m.woken = false
					if m.queued > 0 {
						m.wakeups++
						m.waiting = false // it reports and parks
						m.do(m.w.Readable(), 0)
					}
				case !m.waiting && m.armToken:
					m.armToken = false
					m.waiting = true
				}
			case 2, 3: // a signalled consumer reads one batch of up to 2
				if !m.signaled && rng.Intn(4) != 0 {
					break // consumers mostly read when signalled, sometimes not (Status, GetPacket)
				}
				m.signaled = false
				if m.failAt > 0 {
					m.failAt--
					m.errs++
					m.do(m.w.Error())
					break
				}
				m.errs = 0
				n := min(m.queued, 2)
				m.queued -= n
				m.do(m.w.Read(n == 2), 0)
			case 4: // the watcher's peek fails
				if m.waiting && rng.Intn(3) == 0 {
					m.errs++
					m.waiting = false
					m.do(m.w.Error())
				}
			case 5: // the socket starts failing
				if rng.Intn(4) == 0 {
					m.failAt = 1 + rng.Intn(limit+1)
				}
			case 6, 7: // time passes
				m.clk.Advance(time.Duration(rng.Intn(3)) * time.Millisecond)
			}
			m.check(seed, step)
		}
		if m.stopped && m.stopErrs != limit {
			t.Fatalf("seed %d: stopped after %d consecutive errors, want %d", seed, m.stopErrs, limit)
		}
	}
}

func (m *model) check(seed int64, step int) {
	t := m.t
	if m.stopped {
		return
	}
	if m.errs >= limitOf(&m.w) {
		t.Fatalf("seed %d step %d: %d consecutive errors and not stopped", seed, step, m.errs)
	}
	// No lost wake-up: datagrams queued, no one reading: the consumers
	// were signalled, or the watcher is (or will be) armed, or a delay
	// runs that arms it.
	if m.queued > 0 && m.readers == 0 {
		armed := m.w.State() == Armed && (m.waiting || m.armToken)
		if !m.signaled && !armed && m.w.State() != Delayed {
			t.Fatalf("seed %d step %d: %d queued, state %v, watcher waiting %v token %v, not signalled", seed, step, m.queued, m.w.State(), m.waiting, m.armToken)
		}
		if m.w.State() == Delayed && m.clk.Pending() == 0 {
			t.Fatalf("seed %d step %d: delayed with no timer", seed, step)
		}
	}
	// No spin: the watcher reports readable at most once per arming.
	if m.wakeups > m.arms {
		t.Fatalf("seed %d step %d: %d wake-ups for %d armings", seed, step, m.wakeups, m.arms)
	}
}

func limitOf(w *Watch) int {
	if w.Backoff.Limit > 0 {
		return w.Backoff.Limit
	}
	return DefaultLimit
}
