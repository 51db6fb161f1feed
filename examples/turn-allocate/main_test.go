package main

import (
	"log/slog"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
)

func TestEmbeddedDefault(t *testing.T) {
	if err := Run(slog.New(slog.DiscardHandler), Options{User: "alice", Pass: "secret", Count: 3}); err != nil {
		t.Fatal(err)
	}
}

func TestAgainstCoturn(t *testing.T) {
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	peer := testutil.StartTurnutilsPeer(t)
	if err := Run(slog.New(slog.DiscardHandler), Options{Server: c.Addr.String(), User: c.User, Pass: c.Password, Peer: peer.String(), Count: 3}); err != nil {
		t.Fatal(err)
	}
}
