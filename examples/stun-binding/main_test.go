package main

import (
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
)

func TestBothOnLoopback(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, cred := range []*stun.Credential{nil, {Username: "alice", Password: []byte("secret")}} {
		srv, err := Serve(log, "127.0.0.1:0", cred)
		if err != nil {
			t.Fatal(err)
		}
		mapped, err := Ask(log, srv.Transport.LocalAddr(), cred)
		srv.Close()
		if err != nil || !mapped.Addr().IsLoopback() || mapped.Port() == 0 {
			t.Fatalf("cred %v: %v %v", cred != nil, mapped, err)
		}
	}
	// A client with the wrong password gets the 401.
	srv, _ := Serve(log, "127.0.0.1:0", &stun.Credential{Username: "alice", Password: []byte("secret")})
	defer srv.Close()
	_, err := Ask(log, srv.Transport.LocalAddr(), &stun.Credential{Username: "alice", Password: []byte("nope")})
	var se *stun.StatusError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestAgainstCoturn(t *testing.T) {
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	mapped, err := Ask(slog.New(slog.DiscardHandler), c.Addr, nil)
	if err != nil || mapped.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("coturn: %v %v", mapped, err)
	}
}
