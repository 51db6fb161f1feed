package association_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// sock makes s's pair a Sock (the DTLS[tx] sending from s's port).
func (s *side) sock(t testing.TB, cfg association.ListenerConfig) *association.Sock {
	t.Helper()
	if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil {
		t.Fatal(err)
	}
	k, err := association.CreateSock(s.rx, s.tx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func patience(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	t.Cleanup(cancel)
	return ctx
}

// recvWant calls Recv until it returns something and checks it is want
// (an error to match, or nil for data, returned).
func recvWant(t testing.TB, k *association.Sock, want error) (string, association.SockSession) {
	t.Helper()
	buf := make([]byte, 2048)
	n, sess, err := k.Recv(patience(t), buf)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("Recv: %d, %v, %v: want %v", n, sess.UDPEndpoint(), err, want)
	}
	return string(buf[:n]), sess
}

// opensslPSKServer starts openssl s_server with the PSK of pskCreds.
func opensslPSKServer(t *testing.T) (netip.AddrPort, *testutil.Proc) {
	testutil.Peer(t, "openssl")
	addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
	p := testutil.StartProc(t, "openssl", "s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", "ALL",
		"-nocert", "-psk_hint", "serverhint", "-psk", pskHex, "-psk_identity", "alice")
	if !p.WaitOutput("ACCEPT", testutil.Patience) {
		t.Fatalf("s_server: %s", p.Output())
	}
	return addr, p
}

// TestSockClientOpenSSL: RIOT's client flow against openssl s_server —
// sock_dtls_session_init (and its "exists" answer), sock_dtls_recv
// reporting -SOCK_DTLS_HANDSHAKE, send with timeout 0, the aux and
// scatter-gather sends, recv with timeout 0 (-EAGAIN), with a timeout
// (-ETIMEDOUT), a short buffer (-ENOBUFS), close.
func TestSockClientOpenSSL(t *testing.T) {
	addr, p := opensslPSKServer(t)
	mod := openModule(t)
	pskCreds(t, mod)
	// The port reports receive metadata (Linux), for RecvAux.
	meta := runtime.GOOS == "linux"
	c := newSideWith(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, RecvMeta: meta})
	k := c.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}}})
	if rx, tx := k.UDPSock(); rx != c.rx || tx != c.tx || k.LocalAddr() != c.port || k.Role() != association.Client || k.Listener() != nil {
		t.Fatal("UDPSock / LocalAddr / Role / Listener: not the Sock's")
	}
	if err := c.tx.SendPacket([]byte("x")); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("SendPacket on a Sock's DTLS[tx]: %v, want ErrState (send with Sock.Send)", err)
	}
	// Before any session: timeout 0 is -ENOTCONN.
	if _, err := k.Send(association.NoWait(), association.SockSession{}, []byte("x")); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("Send to no endpoint: %v", err)
	}
	var pending association.SockSession
	pending.SetUDPEndpoint(addr)
	if _, err := k.Send(association.NoWait(), pending, []byte("x")); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Send with timeout 0 and no session: %v, want ErrNotEstablished", err)
	}
	sess, err := k.SessionInit(addr)
	if err != nil || sess.UDPEndpoint() != addr {
		t.Fatalf("SessionInit: %v, %v", sess.UDPEndpoint(), err)
	}
	if again, err := k.SessionInit(addr); !errors.Is(err, association.ErrSessionExists) || again.UDPEndpoint() != addr {
		t.Fatalf("second SessionInit: %v, %v: want ErrSessionExists", again.UDPEndpoint(), err)
	}
	if _, hs := recvWant(t, k, association.ErrHandshakeDone); hs.UDPEndpoint() != addr {
		t.Fatalf("handshake reported for %v, want %v", hs.UDPEndpoint(), addr)
	}
	if !k.Established(sess) {
		t.Fatal("not Established after the handshake")
	}
	if info, err := k.Info(sess); err != nil || string(info.PSKIdentity) != "serverhint" {
		t.Fatalf("Info: %q, %v", info.PSKIdentity, err)
	}
	buf := make([]byte, 64)
	if _, _, err := k.Recv(association.NoWait(), buf); !errors.Is(err, mediaport.ErrNoPacket) {
		t.Fatalf("Recv with timeout 0: %v, want ErrNoPacket (-EAGAIN)", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := k.Recv(short, buf); !errors.Is(err, association.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv with a timeout: %v, want ErrTimedOut and DeadlineExceeded", err)
	}
	var txAux association.AuxTx
	if n, err := k.SendAux(association.NoWait(), sess, []byte("HELLO\n"), &txAux); n != 6 || err != nil {
		t.Fatalf("SendAux: %d, %v", n, err)
	}
	if txAux.Local != c.port || txAux.Timestamp.IsZero() {
		t.Fatalf("AuxTx %+v", txAux)
	}
	if !p.WaitOutput("HELLO", testutil.Patience) {
		t.Fatalf("s_server did not print HELLO:\n%s", p.Output())
	}
	if n, err := k.SendV(association.NoWait(), sess, [][]byte{[]byte("gath"), nil, []byte("ered "), []byte("snips\n")}); n != 15 || err != nil {
		t.Fatalf("SendV: %d, %v", n, err)
	}
	if !p.WaitOutput("gathered snips", testutil.Patience) {
		t.Fatalf("s_server did not print the gathered snips:\n%s", p.Output())
	}
	before := time.Now()
	io.WriteString(p.Stdin, "from openssl\n")
	var rxAux association.AuxRx
	n, from, err := k.RecvAux(patience(t), buf, &rxAux)
	if err != nil || string(buf[:n]) != "from openssl\n" || from.UDPEndpoint() != addr || rxAux.Local != c.port {
		t.Fatalf("RecvAux: %q from %v (%+v), %v", buf[:n], from.UDPEndpoint(), rxAux, err)
	}
	// The record's datagram: its kernel receive time (between the write
	// to openssl and now), TTL and TOS (SOCK_AUX_GET_TIMESTAMP, _TTL).
	if m := rxAux.Meta; meta && (m.Time.Before(before) || m.Time.After(time.Now()) ||
		m.Has&mediaport.RecvTTL == 0 || m.TTL == 0 || m.Has&mediaport.RecvTOS == 0) {
		t.Fatalf("RecvAux meta %+v (sent after %v)", m, before)
	}
	io.WriteString(p.Stdin, "0123456789\n")
	n, _, err = k.Recv(patience(t), buf[:4])
	if !errors.Is(err, mediaport.ErrBufferTooSmall) || n != 11 {
		t.Fatalf("Recv into 4 bytes: %d, %v: want 11, ErrBufferTooSmall", n, err)
	}
	if got, _ := recvWant(t, k, nil); got != "0123456789\n" {
		t.Fatalf("after a short buffer: %q", got)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Recv(association.NoWait(), buf); !errors.Is(err, association.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if _, err := k.Send(association.NoWait(), sess, buf); !errors.Is(err, association.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, err := c.rx.Stats(); err != nil {
		t.Fatalf("the DTLS[rx] after sock_dtls_close: %v (RIOT leaves the UDP sock open)", err)
	}
}

// TestSockSendStartsHandshake: RIOT's blocking handshake — an empty
// session, sock_dtls_session_set_udp_ep, sock_dtls_send with a timeout:
// the send starts the handshake, waits for it and sends. Without a
// server it times out (-ETIMEDOUT).
func TestSockSendStartsHandshake(t *testing.T) {
	addr, p := opensslPSKServer(t)
	mod := openModule(t)
	pskCreds(t, mod)
	c := newSide(t, mod)
	k := c.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}}})
	var sess association.SockSession
	sess.SetUDPEndpoint(addr)
	if n, err := k.Send(patience(t), sess, []byte("blocking send\n")); n != 14 || err != nil {
		t.Fatalf("Send: %d, %v", n, err)
	}
	if !p.WaitOutput("blocking send", testutil.Patience) {
		t.Fatalf("s_server did not print the data:\n%s", p.Output())
	}
	_, hs := recvWant(t, k, association.ErrHandshakeDone) // still reported to Recv
	if hs.UDPEndpoint() != addr {
		t.Fatalf("handshake of %v", hs.UDPEndpoint())
	}
	var silent association.SockSession
	silent.SetUDPEndpoint(netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t)))
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := k.Send(short, silent, []byte("x")); !errors.Is(err, association.ErrTimedOut) {
		t.Fatalf("Send to no server: %v, want ErrTimedOut", err)
	}
}

// TestSockServerOpenSSL: RIOT's server flow against openssl s_client —
// a Send that waits for the peer's handshake, sock_dtls_recv reporting
// the new session and then its data, the echo, session_destroy.
func TestSockServerOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	mod := openModule(t)
	pskCreds(t, mod)
	s := newSide(t, mod)
	k := s.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, PSKHint: "serverhint"}})
	bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
	if _, err := k.SessionInit(bind); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("SessionInit on a server: %v, want ErrState", err)
	}
	var sess association.SockSession
	sess.SetUDPEndpoint(bind)
	if _, err := k.Send(association.NoWait(), sess, []byte("x")); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Send before the client: %v", err)
	}
	sent := make(chan error, 1)
	ctx := patience(t)
	go func() {
		_, err := k.Send(ctx, sess, []byte("waited for you\n"))
		sent <- err
	}()
	p := testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String(),
		"-psk", pskHex, "-psk_identity", "alice")
	if err := <-sent; err != nil {
		t.Fatalf("Send waiting for the handshake: %v", err)
	}
	if !p.WaitOutput("waited for you", testutil.Patience) {
		t.Fatalf("s_client did not print the data:\n%s", p.Output())
	}
	if _, hs := recvWant(t, k, association.ErrHandshakeDone); hs.UDPEndpoint() != bind {
		t.Fatalf("handshake of %v, want %v", hs.UDPEndpoint(), bind)
	}
	io.WriteString(p.Stdin, "echo me\n")
	got, from := recvWant(t, k, nil)
	if got != "echo me\n" || from.UDPEndpoint() != bind {
		t.Fatalf("Recv %q from %v", got, from.UDPEndpoint())
	}
	if n, err := k.Send(association.NoWait(), from, []byte("echo: "+got)); n != 14 || err != nil {
		t.Fatalf("echo: %d, %v", n, err)
	}
	if !p.WaitOutput("echo: echo me", testutil.Patience) {
		t.Fatalf("s_client did not print the echo:\n%s", p.Output())
	}
	if err := k.SessionDestroy(from); err != nil {
		t.Fatal(err)
	}
	if k.Established(from) {
		t.Fatal("Established after SessionDestroy")
	}
	if _, err := k.Send(association.NoWait(), from, []byte("x")); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Send after SessionDestroy: %v", err)
	}
}

// TestSockCredentialsAtRunTime: sock_dtls_add_credential and
// sock_dtls_remove_credential on a live server, and the empty tag list
// (CREDMAN_TAG_EMPTY): a server created without a tag refuses openssl's
// ClientHellos until a tag is added; removed again, a new client fails.
func TestSockCredentialsAtRunTime(t *testing.T) {
	testutil.Peer(t, "openssl")
	mod := openModule(t)
	pskCreds(t, mod)
	s := newSide(t, mod)
	k := s.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Server}})
	if tags := k.Credentials(); len(tags) != 0 {
		t.Fatalf("Credentials of a CREDMAN_TAG_EMPTY sock: %v", tags)
	}
	bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
	p := testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String(),
		"-psk", pskHex, "-psk_identity", "alice")
	testutil.Eventually(t, testutil.Patience, func() bool { return k.Listener().Stats().Refused > 0 },
		"no ClientHello refused for want of a credential")
	if err := k.AddCredential(1); err != nil {
		t.Fatal(err)
	}
	if err := k.AddCredential(1); err != nil || !slices.Equal(k.Credentials(), []mediaport.CredTag{1}) {
		t.Fatalf("adding tag 1 twice: %v, %v", err, k.Credentials())
	}
	// openssl retransmits its ClientHello: now it gets a session.
	if _, hs := recvWant(t, k, association.ErrHandshakeDone); hs.UDPEndpoint() != bind {
		t.Fatalf("handshake of %v", hs.UDPEndpoint())
	}
	if _, err := k.Send(association.NoWait(), association.SockSession{}, nil); err == nil {
		t.Fatal("Send to no endpoint")
	}
	var sess association.SockSession
	sess.SetUDPEndpoint(bind)
	if _, err := k.Send(association.NoWait(), sess, []byte("added at run time\n")); err != nil {
		t.Fatal(err)
	}
	if !p.WaitOutput("added at run time", testutil.Patience) {
		t.Fatalf("s_client:\n%s", p.Output())
	}
	if err := k.RemoveCredential(1); err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveCredential(1); !errors.Is(err, mediaport.ErrCredentialNotFound) {
		t.Fatalf("removing tag 1 twice: %v", err)
	}
	if err := k.AddCredential(mediaport.TagEmpty); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("AddCredential(TagEmpty): %v", err)
	}
	refused := k.Listener().Stats().Refused
	bind2 := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
	testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind2.String(),
		"-psk", pskHex, "-psk_identity", "alice")
	testutil.Eventually(t, testutil.Patience, func() bool { return k.Listener().Stats().Refused > refused },
		"a ClientHello was not refused after RemoveCredential")
	if !k.Established(sess) {
		t.Fatal("the established session ended with the removal")
	}
}

// TestSockClientEmptyTags: a client Sock created with an empty tag list
// cannot start a handshake (ErrNoCredential) until a tag is added.
func TestSockClientEmptyTags(t *testing.T) {
	addr, _ := opensslPSKServer(t)
	mod := openModule(t)
	pskCreds(t, mod)
	c := newSide(t, mod)
	k := c.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client}})
	if _, err := k.SessionInit(addr); !errors.Is(err, association.ErrNoCredential) {
		t.Fatalf("SessionInit without tags: %v, want ErrNoCredential", err)
	}
	if err := k.AddCredential(1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.SessionInit(addr); err != nil {
		t.Fatal(err)
	}
	recvWant(t, k, association.ErrHandshakeDone)
}

// TestSockSessionDestroyReinit: sock_dtls_session_destroy sends
// close_notify (openssl s_server, which serves one DTLS connection,
// ends on it) and forgets the session; sock_dtls_session_init with the
// same endpoint then starts a new handshake (1, not 0) from the same
// port, which completes with a new s_server there.
func TestSockSessionDestroyReinit(t *testing.T) {
	addr, p := opensslPSKServer(t)
	mod := openModule(t)
	pskCreds(t, mod)
	c := newSide(t, mod)
	k := c.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}}})
	sess, err := k.SessionInit(addr)
	if err != nil {
		t.Fatal(err)
	}
	recvWant(t, k, association.ErrHandshakeDone)
	if err := k.SessionDestroy(sess); err != nil {
		t.Fatal(err)
	}
	if k.Established(sess) {
		t.Fatal("Established after SessionDestroy")
	}
	if !p.WaitOutput("DONE", testutil.Patience) { // what s_server prints on close_notify
		t.Fatalf("s_server saw no close_notify:\n%s", p.Output())
	}
	if _, err := k.Send(association.NoWait(), sess, []byte("x")); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Send after SessionDestroy: %v", err)
	}
	p.Stdin.Close() // s_server exits at the end of its stdin
	select {
	case <-p.Done():
	case <-time.After(testutil.Patience):
		t.Fatalf("s_server did not exit after its connection:\n%s", p.Output())
	}
	p2 := testutil.StartProc(t, "openssl", "s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", "ALL",
		"-nocert", "-psk", pskHex, "-psk_identity", "alice")
	if !p2.WaitOutput("ACCEPT", testutil.Patience) {
		t.Fatalf("s_server: %s", p2.Output())
	}
	if _, err := k.SessionInit(addr); err != nil {
		t.Fatalf("SessionInit after SessionDestroy: %v, want a new handshake", err)
	}
	recvWant(t, k, association.ErrHandshakeDone)
	if _, err := k.Send(association.NoWait(), sess, []byte("second session\n")); err != nil {
		t.Fatal(err)
	}
	if !p2.WaitOutput("second session", testutil.Patience) {
		t.Fatalf("s_server did not print the second session's data:\n%s", p2.Output())
	}
}

// TestSockHandshakeFailureReported: a client's handshake that fails
// (openssl s_server knows another PSK) ends a Send waiting for it with
// its cause, before the Send's own deadline, and Recv reports it for the
// session instead of blocking.
func TestSockHandshakeFailureReported(t *testing.T) {
	addr, _ := opensslPSKServer(t)
	mod := openModule(t)
	addPSK(t, mod, 1, "alice", "not the server's key", "")
	c := newSide(t, mod)
	// OpenSSL drops the Finished it cannot authenticate without an alert
	// (DTLS discards bad records): the handshake ends at its timeout.
	k := c.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
		HandshakeTimeout: time.Second, FlightInterval: 100 * time.Millisecond}})
	var sess association.SockSession
	sess.SetUDPEndpoint(addr)
	_, err := k.Send(patience(t), sess, []byte("x"))
	if !errors.Is(err, association.ErrHandshakeTimeout) || errors.Is(err, association.ErrTimedOut) {
		t.Fatalf("Send with a wrong PSK: %v, want the handshake's own failure, not the Send's deadline", err)
	}
	_, from := recvWant(t, k, err)
	if from.UDPEndpoint() != addr {
		t.Fatalf("failure reported for %v", from.UDPEndpoint())
	}
}

// TestSockRecvNoAllocs: a Recv of queued data allocates nothing.
func TestSockRecvNoAllocs(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{QueueLen: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	addPSK(t, mod, 1, "id", "a pre-shared secret", "")
	srv, cli := newSide(t, mod), newSide(t, mod)
	ks := srv.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}}})
	kc := cli.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}}})
	var sess association.SockSession
	sess.SetUDPEndpoint(srv.port)
	if _, err := kc.Send(patience(t), sess, []byte("x")); err != nil {
		t.Fatal(err)
	}
	recvWant(t, ks, association.ErrHandshakeDone)
	recvWant(t, ks, nil)
	const n = 110 // NoAllocs calls Recv 102 times
	for range n + 1 {
		if _, err := kc.Send(association.NoWait(), sess, []byte("payload")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, testutil.Patience, func() bool { st, _ := srv.rx.Stats(); return st.Packets >= n+2 }, "data not queued")
	buf := make([]byte, 64)
	ctx := context.Background()
	testutil.NoAllocs(t, "Sock.Recv", func() {
		if n, _, err := ks.Recv(ctx, buf); err != nil || string(buf[:n]) != "payload" {
			t.Fatalf("Recv: %q, %v", buf[:n], err)
		}
	})
}
