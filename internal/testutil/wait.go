package testutil

import (
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
