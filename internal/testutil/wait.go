package testutil

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Patience is how long a test waits for something that must happen: long
// enough for a loaded machine under -race, where a step that takes a
// millisecond on an idle one can take seconds. Waiting costs nothing when
// things go right, since waits end as soon as the condition holds.
const Patience = 30 * time.Second

// Eventually polls cond until it returns true, and fails the test (with
// the message format and args) when it still returns false after timeout.
// It is the way to wait for an effect: never sleep then assert.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("after %v: "+format, append([]any{timeout}, args...)...)
	}
}

// Poll polls cond until it returns true (it returns true) or timeout has
// passed (it returns false). The interval grows from 100 µs to 10 ms.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(wait)
	}
}

// WaitBlocked waits (at most Patience) until some goroutine is blocked — in
// a channel operation, select, lock, condition or I/O wait, not running —
// with a function whose name contains fn on its stack, such as
// "(*Queue).Wait". It is how a test makes sure a call is waiting before it
// does what must wake it, instead of sleeping and hoping.
func WaitBlocked(t testing.TB, fn string) {
	t.Helper()
	Eventually(t, Patience, func() bool { return blockedIn(fn) }, "no goroutine blocked in %s", fn)
}

// WaitNotIn waits (at most Patience) until no goroutine has a function
// whose name contains fn on its stack: until a loop has left a phase (a
// read session, say) that it leaves on its own.
func WaitNotIn(t testing.TB, fn string) {
	t.Helper()
	Eventually(t, Patience, func() bool { return !strings.Contains(stacks(), fn) }, "a goroutine is still in %s", fn)
}

// stacks returns the stacks of all goroutines.
func stacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// blockedIn reports whether a goroutine is blocked with fn on its stack.
func blockedIn(fn string) bool {
	for _, g := range strings.Split(stacks(), "\n\n") {
		header, stack, _ := strings.Cut(g, "\n")
		// "goroutine 7 [chan receive, 2 minutes]:"
		_, state, _ := strings.Cut(header, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",")
		if state != "running" && state != "runnable" && state != "" && strings.Contains(stack, fn) {
			return true
		}
	}
	return false
}

// SpareGoroutines starts n goroutines that all exist at once and then
// end, so that the runtime holds n goroutine descriptors for reuse: a
// memory benchmark then charges neither of its sides for descriptors the
// other side's goroutines left behind.
func SpareGoroutines(n int) {
	var started, ended sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	ended.Add(n)
	for range n {
		go func() {
			started.Done()
			<-release
			ended.Done()
		}()
	}
	started.Wait()
	close(release)
	ended.Wait()
}
