package association_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
)

// TestListenerMisuse: bad configurations, nil handles, a taken pair, and
// calls after Close fail with errors errors.Is can match.
func TestListenerMisuse(t *testing.T) {
	mod := certModule(t)
	srv := newSide(t, mod)
	if err := srv.tx.Config(dtlstx.Config{Local: srv.port}); err != nil {
		t.Fatal(err)
	}
	tags := []mediaport.CredTag{1}
	for _, cfg := range []association.ListenerConfig{
		{Config: association.Config{Role: association.Client, Tags: tags}},
		{Config: association.Config{Tags: tags}, MaxSessions: -1},
		{Config: association.Config{Tags: tags, Version: 13}},
	} {
		if _, err := association.Listen(srv.rx, srv.tx, cfg); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
	if _, err := association.Listen(srv.rx, srv.tx, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{9}}}); !errors.Is(err, association.ErrNoCredential) {
		t.Fatalf("no credential: %v", err)
	}
	if _, err := association.Listen(nil, srv.tx, association.ListenerConfig{Config: association.Config{Tags: tags}}); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("nil rx: %v", err)
	}
	var nl *association.Listener
	if _, _, err := nl.Status(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatal(err)
	}
	if err := nl.Close(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatal(err)
	}
	var ns *association.Session
	if err := ns.Send(nil); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatal(err)
	}
	l, err := association.Listen(srv.rx, srv.tx, association.ListenerConfig{Config: association.Config{Tags: tags}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(netip.AddrPort{}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("Admit of nothing: %v", err)
	}
	var last error
	for i := range 4*64 + 1 { // 4 × the default MaxSessions, then one more
		last = l.Admit(netip.AddrPortFrom(lo4, uint16(1000+i)))
	}
	if !errors.Is(last, mediaport.ErrLimit) {
		t.Fatalf("Admit beyond the bound: %v", last)
	}
	l.Revoke(netip.AddrPortFrom(lo4, 1000))
	if err := l.Admit(netip.AddrPortFrom(lo4, 5000)); err != nil {
		t.Fatalf("Admit after a Revoke: %v", err)
	}
	// The pair is taken: by a second Listener, by Bind; SendPacket on the
	// DTLS[tx] has no one peer.
	if _, err := association.Listen(srv.rx, srv.tx, association.ListenerConfig{Config: association.Config{Tags: tags}}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("second Listen: %v", err)
	}
	if _, err := association.Bind(srv.rx, srv.tx, association.Config{Role: association.Server, Tags: tags}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("Bind on a Listener's pair: %v", err)
	}
	if err := srv.tx.SendPacket([]byte("x")); err == nil {
		t.Fatal("SendPacket on a Listener's DTLS[tx] succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := l.Admit(netip.AddrPortFrom(lo4, 1)); !errors.Is(err, association.ErrListenerClosed) {
		t.Fatalf("Admit after Close: %v", err)
	}
	ev, _ := l.Event()
	if !ev.Permanent() {
		t.Fatal("event not permanently signalled after Close")
	}
	if st, s, err := l.Status(); st != association.ListenerStopped || s != nil || err != nil {
		t.Fatalf("after Close: %v %v %v", st, s, err)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err after the application's Close: %v", err)
	}
	// Negative limits are refused.
	for _, cfg := range []association.ListenerConfig{{MaxUnproved: -1}, {VerifyWindow: -1}, {VerifyGrace: -1}} {
		cfg.Tags = tags
		if _, err := association.Listen(srv.rx, srv.tx, cfg); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}
