package association_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// listen makes s a Listener (its DTLS[tx] from its port, no destination).
func (s *side) listen(t testing.TB, cfg association.ListenerConfig) *association.Listener {
	t.Helper()
	if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil {
		t.Fatal(err)
	}
	l, err := association.Listen(s.rx, s.tx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitListener waits for the Listener's next status other than Running.
func waitListener(t testing.TB, l *association.Listener, limit time.Duration) (association.ListenerStatus, *association.Session) {
	t.Helper()
	ev, err := l.Event()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		st, s, err := l.Status()
		if err != nil {
			t.Fatal(err)
		}
		if st != association.ListenerRunning {
			return st, s
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("no listener status in %v (stats %+v)", limit, l.Stats())
		}
	}
}

// readFrom waits for one application-data packet on s's DTLS[rx] and
// returns it with its source.
func (s *side) readFrom(t testing.TB, limit time.Duration) (string, netip.AddrPort) {
	t.Helper()
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	buf := make([]byte, 4096)
	for {
		n, src, err := s.rx.GetPacket(buf)
		if err == nil {
			return string(buf[:n]), src
		}
		if !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("GetPacket: %v", err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal("no application data")
		}
	}
}

// TestListenerManyPeers: one port serves several pion clients at once,
// each on its own port with its own session: each new session and each
// end is reported with its peer, data flows both ways with its source, and
// Close ends the rest with close_notify.
func TestListenerManyPeers(t *testing.T) {
	mod := certModule(t)
	srv := newSide(t, mod)
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1}}})
	const n = 5
	clients := make([]*side, n)
	for i := range clients {
		clients[i] = newSide(t, mod)
		clients[i].bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	}
	sessions := map[netip.AddrPort]*association.Session{}
	for range n {
		st, s := waitListener(t, l, testutil.Patience)
		if st != association.SessionNew || s == nil {
			t.Fatalf("status %v %v, want SessionNew", st, s)
		}
		if sessions[s.Peer()] != nil {
			t.Fatalf("two sessions for %v", s.Peer())
		}
		sessions[s.Peer()] = s
		if l.Session(s.Peer()) != s {
			t.Fatalf("Session(%v) does not find it", s.Peer())
		}
	}
	waitEstablished(t, clients...)
	for i, c := range clients {
		s := sessions[c.port]
		if s == nil {
			t.Fatalf("client %d (%v): no session (have %v)", i, c.port, sessions)
		}
		// An AEAD suite: the session, like a bound association, runs on
		// mediaport's record path once established.
		if !association.SessionRecordPath(s) || !association.RecordPath(c.a) {
			t.Fatalf("client %d: record path: session %v, client %v", i, association.SessionRecordPath(s), association.RecordPath(c.a))
		}
		if _, err := s.SRTPKeys(); !errors.Is(err, mediaport.ErrState) {
			t.Fatal(err)
		}
		if info, err := s.Info(); err != nil || info.CipherSuiteName == "" {
			t.Fatalf("Info: %+v %v", info, err)
		}
		msg := fmt.Sprintf("from client %d", i)
		if err := c.tx.SendPacket([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, src := srv.readFrom(t, testutil.Patience)
		if got != msg || src != c.port {
			t.Fatalf("read %q from %v, want %q from %v", got, src, msg, c.port)
		}
		reply := fmt.Sprintf("to client %d", i)
		if err := s.Send([]byte(reply)); err != nil {
			t.Fatal(err)
		}
		if got := c.read(t, testutil.Patience); got != reply {
			t.Fatalf("client %d read %q", i, got)
		}
	}
	if st := l.Stats(); st.Sessions != n || st.Handshaking != 0 || st.Established != n {
		t.Fatalf("stats %+v", st)
	}
	// A client's close_notify ends its session, reported with its peer.
	clients[0].a.Close()
	st, s := waitListener(t, l, testutil.Patience)
	if st != association.SessionEnded || s.Peer() != clients[0].port || s.Err() != nil {
		t.Fatalf("status %v %v (err %v), want SessionEnded of %v", st, s.Peer(), s.Err(), clients[0].port)
	}
	if l.Session(clients[0].port) != nil {
		t.Fatal("the ended session is still found")
	}
	// Our Close of a session sends close_notify: its client stops cleanly.
	if err := sessions[clients[1].port].Close(); err != nil {
		t.Fatal(err)
	}
	if seen, err := clients[1].waitRx(t, dtlsrx.Stopped, testutil.Patience); seen[len(seen)-1] != dtlsrx.Stopped || err != nil {
		t.Fatalf("client 1 after Session.Close: %v %v", seen, err)
	}
	if err := sessions[clients[1].port].Send([]byte("x")); !errors.Is(err, mediaport.ErrNotEstablished) {
		t.Fatalf("Send after Close: %v", err)
	}
	// Stop of the DTLS[rx] closes the Listener: every client stops.
	srv.rx.Stop()
	if st, _ := waitListener(t, l, testutil.Patience); st != association.ListenerStopped {
		t.Fatalf("after Stop: %v", st)
	}
	if err := l.Err(); !errors.Is(err, mediaport.ErrStopped) || !errors.Is(err, association.ErrListenerClosed) {
		t.Fatalf("Err after its DTLS[rx] stopped: %v", err)
	}
	for _, c := range clients[2:] {
		if seen, err := c.waitRx(t, dtlsrx.Stopped, testutil.Patience); seen[len(seen)-1] != dtlsrx.Stopped || err != nil {
			t.Fatalf("client after Listener close: %v %v", seen, err)
		}
	}
}

// TestListenerLimits: beyond MaxSessions a new peer's ClientHello is
// refused and counted; its client times out; the sessions in place keep
// working.
func TestListenerLimits(t *testing.T) {
	mod := certModule(t)
	srv := newSide(t, mod)
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1}},
		MaxSessions: 2, MaxHandshaking: 1})
	var clients []*side
	for range 2 {
		c := newSide(t, mod)
		c.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
		waitEstablished(t, c)
		clients = append(clients, c)
	}
	extra := newSide(t, mod)
	extra.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
		HandshakeTimeout: 3 * time.Second, FlightInterval: 200 * time.Millisecond})
	seen, err := extra.waitRx(t, dtlsrx.Stopped, testutil.Patience)
	if seen[len(seen)-1] != dtlsrx.Stopped || !errors.Is(err, association.ErrHandshakeTimeout) {
		t.Fatalf("third client: %v %v, want a handshake timeout", seen, err)
	}
	st := l.Stats()
	if st.Refused == 0 || st.Sessions != 2 || st.Created != 2 {
		t.Fatalf("stats %+v: want refusals, 2 sessions", st)
	}
	for i, c := range clients {
		if err := l.Session(c.port).Send([]byte("still here")); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if got := c.read(t, testutil.Patience); got != "still here" {
			t.Fatalf("client %d read %q", i, got)
		}
	}
}

// TestListenerOpenSSLAndPion: openssl s_client peers and pion clients at
// once on one Listener port, each its own session with data both ways.
func TestListenerOpenSSLAndPion(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours := testutil.SelfSignedCert(t, "mediaport")
	mod := openModule(t)
	ecdsaCreds(ours)(t, mod)
	srv := newSide(t, mod)
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1},
		SRTPProfiles: []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM, association.SRTP_AES128_CM_HMAC_SHA1_80}}})
	const nSSL, nPion = 3, 2
	procs := map[netip.AddrPort]*testutil.Proc{}
	for range nSSL {
		bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		procs[bind] = testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", srv.port.String(), "-bind", bind.String(),
			"-use_srtp", "SRTP_AES128_CM_SHA1_80")
	}
	pions := map[netip.AddrPort]*side{}
	for range nPion {
		c := newSide(t, mod)
		c.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
			SRTPProfiles: []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM}})
		pions[c.port] = c
	}
	keys := map[string]bool{}
	for range nSSL + nPion {
		st, s := waitListener(t, l, testutil.Patience)
		if st != association.SessionNew {
			t.Fatalf("status %v, want SessionNew", st)
		}
		k, err := s.SRTPKeys()
		if err != nil {
			t.Fatal(err)
		}
		want := association.SRTP_AEAD_AES_128_GCM
		if procs[s.Peer()] != nil {
			want = association.SRTP_AES128_CM_HMAC_SHA1_80
		} else if pions[s.Peer()] == nil {
			t.Fatalf("session of unknown peer %v", s.Peer())
		}
		if k.Profile != want {
			t.Fatalf("peer %v: profile %v, want %v", s.Peer(), k.Profile, want)
		}
		keys[fmt.Sprintf("%x", k.LocalKey)] = true
	}
	if len(keys) != nSSL+nPion {
		t.Fatalf("%d distinct keys for %d sessions", len(keys), nSSL+nPion)
	}
	for peer, p := range procs {
		msg := fmt.Sprintf("to %v\n", peer)
		if err := l.Session(peer).Send([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if !p.WaitOutput(msg[:len(msg)-1], testutil.Patience) {
			t.Fatalf("openssl %v did not print %q:\n%s", peer, msg, p.Output())
		}
		fmt.Fprintf(p.Stdin, "from %v\n", peer)
		got, src := srv.readFrom(t, testutil.Patience)
		if src != peer || got != fmt.Sprintf("from %v\n", peer) {
			t.Fatalf("read %q from %v, want from %v", got, src, peer)
		}
	}
	for peer, c := range pions {
		if err := c.tx.SendPacket([]byte("pion")); err != nil {
			t.Fatal(err)
		}
		if got, src := srv.readFrom(t, testutil.Patience); got != "pion" || src != peer {
			t.Fatalf("read %q from %v, want from %v", got, src, peer)
		}
	}
}
