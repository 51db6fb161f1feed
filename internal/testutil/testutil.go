// Package testutil holds what mediaport's tests share: real-peer discovery
// (skip, or fail under MEDIAPORT_REQUIRE_PEERS=1), allocation checks and
// bounded waits.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequirePeers reports whether MEDIAPORT_REQUIRE_PEERS=1 is set: tests that
// need a real peer (openssl, gnutls, coturn) then fail instead of skipping
// when it is missing. CI sets it.
func RequirePeers() bool { return os.Getenv("MEDIAPORT_REQUIRE_PEERS") == "1" }

// Peer returns the path of the named peer binary, or skips the test (fails
// it under MEDIAPORT_REQUIRE_PEERS=1) when it is not installed.
func Peer(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if RequirePeers() {
			t.Fatalf("peer %s not installed and MEDIAPORT_REQUIRE_PEERS=1: %v", name, err)
		}
		t.Skipf("peer %s not installed: %v", name, err)
	}
	return path
}

// NoAllocs fails the test when f allocates on average, except under the
// race detector (where sync.Pool drops items at random).
func NoAllocs(t testing.TB, what string, f func()) {
	t.Helper()
	f() // warm pools and caches; f runs at least once even under -race
	if RaceEnabled {
		t.Logf("%s: allocation check skipped under -race", what)
		return
	}
	if a := testing.AllocsPerRun(100, f); a != 0 {
		t.Errorf("%s allocates %.2f times per call, want 0", what, a)
	}
}
