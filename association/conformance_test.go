package association_test

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

// Tests of the points of docs/conformance.md (RIOT, and Prosody 8) that
// the other tests cover only in part. Each asserts what a wrong
// implementation would get wrong; the comment says which point.

// sniffer is a relay (robust_test.go) between a client (side A) and a
// server (side B) that records every datagram, so a test can look at what
// went on the wire (the plaintext epoch-0 records: handshake messages and
// alerts).
type sniffer struct{ *relay }

func newSniffer(t *testing.T, cli, srv netip.AddrPort) *sniffer {
	r := newRelay(t)
	r.toA, r.toB, r.record = cli, srv, true
	r.start()
	return &sniffer{r}
}

// forClient is where the client sends; forServer where the server sends.
func (s *sniffer) forClient() netip.AddrPort { return s.a.LocalAddr() }
func (s *sniffer) forServer() netip.AddrPort { return s.b.LocalAddr() }

// records calls f with the content type and body of every epoch-0 record
// of the datagrams seen in one direction.
func (s *sniffer) records(fromClient bool, f func(ct byte, body []byte)) {
	s.mu.Lock()
	dgs := s.fromB
	if fromClient {
		dgs = s.fromA
	}
	dgs = slices.Clone(dgs)
	s.mu.Unlock()
	for _, b := range dgs {
		for len(b) >= 13 {
			n := int(b[11])<<8 | int(b[12])
			if len(b) < 13+n {
				break
			}
			if b[3] == 0 && b[4] == 0 {
				f(b[0], b[13:13+n])
			}
			b = b[13+n:]
		}
	}
}

// handshakeTypes returns the types of the plaintext handshake messages
// (fragments) sent in one direction.
func (s *sniffer) handshakeTypes(fromClient bool) []byte {
	var out []byte
	s.records(fromClient, func(ct byte, body []byte) {
		for ct == 22 && len(body) >= 12 {
			n := int(body[9])<<16 | int(body[10])<<8 | int(body[11])
			out = append(out, body[0])
			if len(body) < 12+n {
				break
			}
			body = body[12+n:]
		}
	})
	return out
}

// alerts returns the plaintext alerts (level, description) sent in one
// direction.
func (s *sniffer) alerts(fromClient bool) [][2]byte {
	var out [][2]byte
	s.records(fromClient, func(ct byte, body []byte) {
		if ct == 21 && len(body) >= 2 {
			out = append(out, [2]byte{body[0], body[1]})
		}
	})
	return out
}

// waitAlert waits (at most limit) until an alert for which match holds
// went by in one direction: the relay may not have read it yet when the
// sender reports its failure.
func (s *sniffer) waitAlert(fromClient bool, match func([2]byte) bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if slices.ContainsFunc(s.alerts(fromClient), match) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	hsServerKeyExchange = 12
	alertFatal          = 2
	alertBadCertificate = 42
)

// waitFailed waits (at most limit) until s's DTLS[rx] stops and checks it
// stopped with the association's error before any handshake completed;
// it returns the association's error.
func (s *side) waitFailed(t testing.TB, who string, limit time.Duration) error {
	t.Helper()
	seen, err := s.waitRx(t, dtlsrx.Stopped, limit)
	if seen[len(seen)-1] != dtlsrx.Stopped || !errors.Is(err, dtlsrx.ErrAssociation) || slices.Contains(seen, dtlsrx.Handshake) {
		t.Fatalf("%s: statuses %v, %v: want Stopped with the association's error, no Handshake", who, seen, err)
	}
	st, aerr := s.a.State()
	if st != association.Failed || aerr == nil {
		t.Fatalf("%s: association %v %v, want Failed with an error", who, st, aerr)
	}
	return aerr
}

// TestPSKIdentityExact (RIOT 5): the server looks the client's PSK
// identity up exactly. A client offering the right key under a wrong
// identity — another name, a prefix, an extension, one byte different,
// another case — fails the handshake on both sides at once (the server with
// ErrNoCredential, sending a fatal alert; the client on that alert); the
// exact identity succeeds.
func TestPSKIdentityExact(t *testing.T) {
	const key = "0123456789abcdef"
	for _, tc := range []struct {
		name, identity string
		ok             bool
	}{
		{"exact", "alice", true},
		{"other", "bob", false},
		{"prefix", "alic", false},
		{"extension", "alice2", false},
		{"one byte", "alicf", false},
		{"case", "Alice", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The module's clock never moves: a failure is not a timeout.
			mod := openModuleClock(t, clock.NewFake(time.Unix(1000, 0)))
			addPSK(t, mod, 1, "alice", key, "")
			addPSK(t, mod, 2, tc.identity, key, "") // the client's: the same key
			srv, cli := newSide(t, mod), newSide(t, mod)
			const timeout = 30 * time.Second
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: timeout})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{2}, HandshakeTimeout: timeout})
			if tc.ok {
				waitEstablished(t, cli, srv)
				info, err := srv.a.Info()
				if err != nil || string(info.PSKIdentity) != "alice" {
					t.Fatalf("server info %+v %v: want identity alice", info, err)
				}
				cli.sendTo(t, srv, "exact")
				return
			}
			var al *association.AlertError
			cerr := cli.waitFailed(t, "client", testutil.Patience)
			if !errors.As(cerr, &al) || !al.Received || !al.Fatal {
				t.Fatalf("client failed with %v: want the server's fatal alert", cerr)
			}
			serr := srv.waitFailed(t, "server", testutil.Patience)
			if !errors.Is(serr, association.ErrNoCredential) || !errors.As(serr, &al) || al.Received {
				t.Fatalf("server: %v, want ErrNoCredential with the alert it sent", serr)
			}
		})
	}
}

// TestClientPSKCallback (RIOT 4): the client's PSK callback runs in a real
// handshake, sees the server's hint and the association's tags, and the
// credential it names is the one used. The client holds two PSKs: tag 10
// (identity unknown to the server) whose hint matches the server's, so
// both default rules (hint match, first PSK) choose it, and tag 20 (the
// one the server knows). Only the callback's choice of 20 succeeds.
func TestClientPSKCallback(t *testing.T) {
	const hint = "srv-hint"
	setup := func(t *testing.T, cb func(netip.AddrPort, string, []mediaport.CredTag) mediaport.CredTag) (cli, srv *side) {
		mod := openModule(t)
		addPSK(t, mod, 10, "first", "key-of-first-psk", hint)
		addPSK(t, mod, 20, "second", "key-of-second-ps", "")
		addPSK(t, mod, 30, "second", "key-of-second-ps", "")
		cli, srv = newSide(t, mod), newSide(t, mod)
		srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{30}, PSKHint: hint, HandshakeTimeout: 10 * time.Second})
		cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{10, 20}, ClientPSK: cb, HandshakeTimeout: 10 * time.Second, FlightInterval: 100 * time.Millisecond})
		return cli, srv
	}
	t.Run("callback chooses", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var hints []string
		var tagsSeen [][]mediaport.CredTag
		var peers []netip.AddrPort
		cli, srv := setup(t, func(peer netip.AddrPort, h string, tags []mediaport.CredTag) mediaport.CredTag {
			mu.Lock()
			defer mu.Unlock()
			hints = append(hints, h)
			peers = append(peers, peer)
			tagsSeen = append(tagsSeen, slices.Clone(tags))
			return 20
		})
		waitEstablished(t, cli, srv)
		mu.Lock()
		defer mu.Unlock()
		if len(hints) == 0 {
			t.Fatal("the client PSK callback was never called")
		}
		for i := range hints {
			if hints[i] != hint || !slices.Equal(tagsSeen[i], []mediaport.CredTag{10, 20}) {
				t.Fatalf("callback call %d saw hint %q, tags %v: want %q, [10 20]", i, hints[i], tagsSeen[i], hint)
			}
			if peers[i] != srv.port { // RIOT's callback gets the session: the server's endpoint
				t.Fatalf("callback call %d saw peer %v, want the server %v", i, peers[i], srv.port)
			}
		}
		if info, err := srv.a.Info(); err != nil || string(info.PSKIdentity) != "second" {
			t.Fatalf("server saw identity %q (%v), want the callback's credential's, second", info.PSKIdentity, err)
		}
		if info, err := cli.a.Info(); err != nil || string(info.PSKIdentity) != hint {
			t.Fatalf("client saw hint %q (%v), want %q", info.PSKIdentity, err, hint)
		}
		cli.sendTo(t, srv, "chosen by the callback")
		srv.sendTo(t, cli, "and back")
	})
	t.Run("callback declines", func(t *testing.T) {
		// The control: with the default choice (tag 10) the same setup
		// fails, so the success above is the callback's doing.
		t.Parallel()
		cli, _ := setup(t, func(netip.AddrPort, string, []mediaport.CredTag) mediaport.CredTag { return mediaport.TagEmpty })
		cli.waitFailed(t, "client", testutil.Patience)
	})
}

// TestClientPSKDefaultChoice (RIOT 4): without a callback the client
// takes, with no hint or a hint no credential answers, the first PSK of
// its tags — in the order of the tags, not the order the credentials were
// added — and with a hint, the credential whose hint matches even when it
// is not the first. Only the right choice completes the handshake: the
// other PSK's identity is unknown to the server.
func TestClientPSKDefaultChoice(t *testing.T) {
	for _, tc := range []struct {
		name, srvHint string
		cliTags       []mediaport.CredTag
	}{
		{"no hint: first of the tags", "", []mediaport.CredTag{20, 10}},
		{"hint matches none: first of the tags", "unknown", []mediaport.CredTag{20, 10}},
		{"hint matches the second", "hint-of-20", []mediaport.CredTag{10, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := openModule(t)
			addPSK(t, mod, 10, "unknown-to-server", "0123456789abcdef", "") // added first
			addPSK(t, mod, 20, "known", "0123456789abcdef", "hint-of-20")
			addPSK(t, mod, 30, "known", "0123456789abcdef", "")
			cli, srv := newSide(t, mod), newSide(t, mod)
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{30}, PSKHint: tc.srvHint})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: tc.cliTags, FlightInterval: 100 * time.Millisecond})
			waitEstablished(t, cli, srv)
			if info, err := srv.a.Info(); err != nil || string(info.PSKIdentity) != "known" {
				t.Fatalf("server saw identity %q (%v), want known", info.PSKIdentity, err)
			}
		})
	}
}

// TestClientNoUsablePSK (RIOT 4): a client whose PSK choice finds no
// credential when the server's hint arrives (the credential was removed
// after Bind) fails the handshake at once with ErrNoCredential, sending a
// fatal alert — it neither hangs until its timeout nor goes on with some
// other key.
func TestClientNoUsablePSK(t *testing.T) {
	mod := openModuleClock(t, clock.NewFake(time.Unix(1000, 0))) // never advanced: no timeout
	addPSK(t, mod, 10, "alice", "0123456789abcdef", "")
	addPSK(t, mod, 30, "alice", "0123456789abcdef", "")
	cli, srv := newSide(t, mod), newSide(t, mod)
	sn := newSniffer(t, cli.port, srv.port)
	cli.bind(t, sn.forClient(), association.Config{Role: association.Client, Tags: []mediaport.CredTag{10}, HandshakeTimeout: 20 * time.Second})
	// The ClientHello is out (queued at the unbound server): the client
	// chose its suites with the credential present. Now remove it.
	if seen, err := srv.waitRx(t, dtlsrx.HasPacket, testutil.Patience); seen[len(seen)-1] != dtlsrx.HasPacket {
		t.Fatalf("no ClientHello at the server: %v %v", seen, err)
	}
	if err := mod.RemoveCredential(10, mediaport.CredPSK); err != nil {
		t.Fatal(err)
	}
	srv.bind(t, sn.forServer(), association.Config{Role: association.Server, Tags: []mediaport.CredTag{30}, PSKHint: "h", HandshakeTimeout: 10 * time.Second})
	cerr := cli.waitFailed(t, "client", testutil.Patience)
	if !errors.Is(cerr, association.ErrNoCredential) {
		t.Fatalf("client failed with %v: want ErrNoCredential at once", cerr)
	}
	if !sn.waitAlert(true, func(al [2]byte) bool { return al[0] == alertFatal }, testutil.Patience) {
		t.Fatalf("the client sent no fatal alert (alerts %v)", sn.alerts(true))
	}
	if st, _ := srv.a.State(); st == association.Established {
		t.Fatal("server established without the client having a PSK")
	}
}

// TestSelectCertificate (RIOT 6): the certificate selection callback
// chooses the credential presented (the peer sees its fingerprint), on a
// client and on a server; without it, or when it returns TagEmpty, the
// first ECDSA credential of the association's tags — in the order of the
// tags, not the order the credentials were added — is presented.
func TestSelectCertificate(t *testing.T) {
	mod := openModule(t)
	c1, c2, s1, s2 := testutil.SelfSignedCert(t, "c1"), testutil.SelfSignedCert(t, "c2"), testutil.SelfSignedCert(t, "s1"), testutil.SelfSignedCert(t, "s2")
	both := []crypto.PublicKey{leafKey(t, c1), leafKey(t, c2)}
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: c1.TLS})
	addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: c2.TLS})
	addECDSA(t, mod, 8, mediaport.ECDSA{Certificate: s1.TLS, PeerPublicKeys: both})
	addECDSA(t, mod, 9, mediaport.ECDSA{Certificate: s2.TLS, PeerPublicKeys: both})
	addPSK(t, mod, 3, "psk-only", "0123456789abcdef", "") // tag 3 holds no ECDSA credential
	fp := func(c testutil.Cert) string { return association.Fingerprint(c.TLS.Certificate[0]) }
	var peerMu sync.Mutex
	peers := map[*[]mediaport.CredTag]netip.AddrPort{} // the peer each callback saw
	choose := func(tag mediaport.CredTag, seen *[]mediaport.CredTag, mu *sync.Mutex) func(netip.AddrPort, []mediaport.CredTag) mediaport.CredTag {
		return func(peer netip.AddrPort, tags []mediaport.CredTag) mediaport.CredTag {
			mu.Lock()
			*seen = slices.Clone(tags)
			mu.Unlock()
			peerMu.Lock()
			peers[seen] = peer
			peerMu.Unlock()
			return tag
		}
	}
	for _, tc := range []struct {
		name               string
		cliTags, srvTags   []mediaport.CredTag
		cliSel, srvSel     mediaport.CredTag // the callback's choice; 0: see cliEmpty, srvEmpty
		cliEmpty, srvEmpty bool              // with cliSel/srvSel 0: a callback returning TagEmpty, else none
		wantCli, wantSrv   testutil.Cert
	}{
		{name: "callbacks choose the second", cliTags: []mediaport.CredTag{1, 2}, srvTags: []mediaport.CredTag{8, 9}, cliSel: 2, srvSel: 9, wantCli: c2, wantSrv: s2},
		{name: "callbacks choose the first", cliTags: []mediaport.CredTag{2, 1}, srvTags: []mediaport.CredTag{9, 8}, cliSel: 1, srvSel: 8, wantCli: c1, wantSrv: s1},
		{name: "no callback", cliTags: []mediaport.CredTag{1, 2}, srvTags: []mediaport.CredTag{8, 9}, wantCli: c1, wantSrv: s1},
		{name: "no callback, tag order", cliTags: []mediaport.CredTag{3, 2, 1}, srvTags: []mediaport.CredTag{9, 8}, wantCli: c2, wantSrv: s2},
		{name: "callback returns TagEmpty", cliTags: []mediaport.CredTag{2, 1}, srvTags: []mediaport.CredTag{8, 9}, cliEmpty: true, srvEmpty: true, wantCli: c2, wantSrv: s1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var cliSeen, srvSeen []mediaport.CredTag
			cliCfg := association.Config{Role: association.Client, Tags: tc.cliTags}
			srvCfg := association.Config{Role: association.Server, Tags: tc.srvTags, VerifyPeerKey: true} // asks for the client's certificate
			switch {
			case tc.cliSel != 0:
				cliCfg.SelectCertificate = choose(tc.cliSel, &cliSeen, &mu)
			case tc.cliEmpty:
				cliCfg.SelectCertificate = choose(mediaport.TagEmpty, &cliSeen, &mu)
			}
			switch {
			case tc.srvSel != 0:
				srvCfg.SelectCertificate = choose(tc.srvSel, &srvSeen, &mu)
			case tc.srvEmpty:
				srvCfg.SelectCertificate = choose(mediaport.TagEmpty, &srvSeen, &mu)
			}
			cli, srv := newSide(t, mod), newSide(t, mod)
			srv.bind(t, cli.port, srvCfg)
			cli.bind(t, srv.port, cliCfg)
			waitEstablished(t, cli, srv)
			ci, err := cli.a.Info()
			if err != nil {
				t.Fatal(err)
			}
			si, err := srv.a.Info()
			if err != nil {
				t.Fatal(err)
			}
			if si.PeerFingerprint != fp(tc.wantCli) {
				t.Errorf("the server saw the client's certificate %s, want %s", si.PeerFingerprint, fp(tc.wantCli))
			}
			if ci.PeerFingerprint != fp(tc.wantSrv) {
				t.Errorf("the client saw the server's certificate %s, want %s", ci.PeerFingerprint, fp(tc.wantSrv))
			}
			mu.Lock()
			defer mu.Unlock()
			if cliCfg.SelectCertificate != nil && !slices.Equal(cliSeen, tc.cliTags) {
				t.Errorf("client callback saw tags %v, want %v", cliSeen, tc.cliTags)
			}
			if srvCfg.SelectCertificate != nil && !slices.Equal(srvSeen, tc.srvTags) {
				t.Errorf("server callback saw tags %v, want %v", srvSeen, tc.srvTags)
			}
			peerMu.Lock()
			defer peerMu.Unlock()
			if cliCfg.SelectCertificate != nil && peers[&cliSeen] != srv.port {
				t.Errorf("client callback saw peer %v, want the server %v", peers[&cliSeen], srv.port)
			}
			if srvCfg.SelectCertificate != nil && peers[&srvSeen] != cli.port {
				t.Errorf("server callback saw peer %v, want the client %v", peers[&srvSeen], cli.port)
			}
		})
	}
}

// TestMixedCredentialClient (RIOT 4, 6): a client whose tags hold a PSK
// and an ECDSA credential — RIOT's own example registers both under one
// tag — completes a handshake with a certificate-only, a PSK-only and a
// mixed server, promptly (pion's client, given a PSK callback, cannot
// finish a certificate suite: offered together it waited for the
// timeout). A failed check of the server's certificate is not retried
// with the PSK.
func TestMixedCredentialClient(t *testing.T) {
	// The module's clock never moves: a handshake that waited for its
	// timeout would never complete.
	mod := openModuleClock(t, clock.NewFake(time.Unix(1000, 0)))
	cliCert, srvCert := newCert(t), newCert(t)
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: cliCert.TLS})
	addPSK(t, mod, 1, "alice", "0123456789abcdef", "")
	addECDSA(t, mod, 8, mediaport.ECDSA{Certificate: srvCert.TLS})
	addPSK(t, mod, 9, "alice", "0123456789abcdef", "")
	for _, tc := range []struct {
		name    string
		srvTags []mediaport.CredTag
		pin     string // the client's PeerFingerprints
		suite   string // part of the suite's name; "" fails
	}{
		{"certificate server", []mediaport.CredTag{8}, "", "ECDSA"},
		{"PSK server", []mediaport.CredTag{9}, "", "PSK"},
		{"mixed server", []mediaport.CredTag{8, 9}, "", "ECDSA"},
		{"mixed server, pinned", []mediaport.CredTag{8, 9}, association.Fingerprint(srvCert.TLS.Certificate[0]), "ECDSA"},
		{"mixed server, wrong pin", []mediaport.CredTag{8, 9}, association.Fingerprint(cliCert.TLS.Certificate[0]), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cli, srv := newSide(t, mod), newSide(t, mod)
			var pins []string
			if tc.pin != "" {
				pins = []string{tc.pin}
			}
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: tc.srvTags, HandshakeTimeout: 5 * time.Second})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, PeerFingerprints: pins,
				HandshakeTimeout: 20 * time.Second, FlightInterval: 100 * time.Millisecond})
			if tc.suite == "" {
				if err := cli.waitFailed(t, "client", testutil.Patience); !errors.Is(err, association.ErrFingerprint) {
					t.Fatalf("client: %v, want ErrFingerprint (no PSK retry)", err)
				}
				return
			}
			// Promptly: a client that waited for its timeout would fail
			// with ErrHandshakeTimeout here, not establish.
			waitEstablished(t, cli, srv)
			info, _ := cli.a.Info()
			if !strings.Contains(info.CipherSuiteName, tc.suite) {
				t.Fatalf("suite %s, want a %s suite", info.CipherSuiteName, tc.suite)
			}
			cli.sendTo(t, srv, "mixed")
		})
	}
}

// TestPeerKeyVerification (RIOT 6): with public-key verification on, the
// peer's key is checked against the list of the credential presented —
// the one the selection callback chose. The server's tag 8 accepts the
// client's key, tag 9 does not: choosing 9 fails the handshake on both
// sides at once (the server with ErrPeerKey, sending bad_certificate; the
// client on that alert), choosing 8 succeeds. With verification off any key is
// accepted.
func TestPeerKeyVerification(t *testing.T) {
	// The module's clock never moves: a failure is not a timeout.
	mod := openModuleClock(t, clock.NewFake(time.Unix(1000, 0)))
	c, s8, s9, stranger := newCert(t), testutil.SelfSignedCert(t, "s8"), testutil.SelfSignedCert(t, "s9"), testutil.SelfSignedCert(t, "x")
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: c.TLS})
	addECDSA(t, mod, 8, mediaport.ECDSA{Certificate: s8.TLS, PeerPublicKeys: []crypto.PublicKey{leafKey(t, c)}})
	addECDSA(t, mod, 9, mediaport.ECDSA{Certificate: s9.TLS, PeerPublicKeys: []crypto.PublicKey{leafKey(t, stranger)}})
	for _, tc := range []struct {
		name   string
		tag    mediaport.CredTag
		verify bool
		ok     bool
	}{
		{"listed key", 8, true, true},
		{"unlisted key", 9, true, false},
		{"verification off", 9, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cli, srv := newSide(t, mod), newSide(t, mod)
			sn := newSniffer(t, cli.port, srv.port)
			srv.bind(t, sn.forServer(), association.Config{Role: association.Server, Tags: []mediaport.CredTag{9, 8}, VerifyPeerKey: tc.verify,
				PeerFingerprints:  []string{association.Fingerprint(c.TLS.Certificate[0])}, // a client certificate is asked for either way
				SelectCertificate: func(netip.AddrPort, []mediaport.CredTag) mediaport.CredTag { return tc.tag }, HandshakeTimeout: time.Hour})
			cli.bind(t, sn.forClient(), association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: time.Hour})
			if tc.ok {
				waitEstablished(t, cli, srv)
				cli.sendTo(t, srv, "accepted")
				return
			}
			var al *association.AlertError
			if cerr := cli.waitFailed(t, "client", testutil.Patience); !errors.As(cerr, &al) || !al.Received || al.Description != association.AlertBadCertificate {
				t.Fatalf("client failed with %v: want the server's bad_certificate alert", cerr)
			}
			serr := srv.waitFailed(t, "server", testutil.Patience)
			if !errors.Is(serr, association.ErrPeerKey) || !errors.As(serr, &al) || al.Received || al.Description != association.AlertBadCertificate {
				t.Fatalf("server: %v, want ErrPeerKey with bad_certificate sent", serr)
			}
			if rerr := srv.rx.Err(); !errors.Is(rerr, association.ErrPeerKey) {
				t.Fatalf("server DTLS[rx] Err %v, want ErrPeerKey", rerr)
			}
			if !sn.waitAlert(false, func(al [2]byte) bool { return al == [2]byte{alertFatal, alertBadCertificate} }, testutil.Patience) {
				t.Fatalf("server alerts %v: want a fatal bad_certificate", sn.alerts(false))
			}
		})
	}
}

// TestHandshakeStartedAndTimeout (RIOT 7): right after Bind the
// association is handshaking, nothing is reported to read and nothing can
// be sent or exported; records from the peer during the handshake go to
// the association, never to GetPacket; a handshake nobody answers ends
// with ErrHandshakeTimeout when the module's clock reaches
// Config.HandshakeTimeout — for a client, a server bound to its peer and a
// server learning its peer. The module runs on a fake clock: the timeout
// is the clock's, however long the wall clock takes.
func TestHandshakeStartedAndTimeout(t *testing.T) {
	const timeout = 30 * time.Second
	for _, tc := range []struct {
		name     string
		role     association.Role
		withPeer bool
	}{
		{"client", association.Client, true},
		{"server", association.Server, true},
		{"learning server", association.Server, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Unix(1000, 0))
			mod := openModuleClock(t, clk)
			addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: newCert(t).TLS})
			s := newSide(t, mod)
			silent, err := udp.Listen(netip.AddrPortFrom(lo4, 0)) // reads nothing
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			dst := netip.AddrPort{}
			if tc.withPeer {
				dst = silent.LocalAddr()
			}
			if err := s.tx.Config(dtlstx.Config{Destination: dst, Local: s.port}); err != nil {
				t.Fatal(err)
			}
			s.tx.ConfigNotify(1200, false)
			a, err := association.Bind(s.rx, s.tx, association.Config{Role: tc.role, Tags: []mediaport.CredTag{1}, HandshakeTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			s.a = a
			if st, err := a.State(); st != association.Handshaking || err != nil {
				t.Fatalf("right after Bind: %v %v, want handshaking", st, err)
			}
			if st, err := s.rx.Status(); st != dtlsrx.Running || err != nil {
				t.Fatalf("DTLS[rx] right after Bind: %v %v, want Running", st, err)
			}
			if st, _ := s.tx.Status(); st != dtlstx.Running {
				t.Fatalf("DTLS[tx] right after Bind: %v, want Running (no capacity)", st)
			}
			if err := s.tx.SendPacket([]byte("early")); !errors.Is(err, dtlstx.ErrNotEstablished) {
				t.Fatalf("SendPacket while handshaking: %v", err)
			}
			if err := association.Write(a, []byte("early")); !errors.Is(err, association.ErrNotEstablished) {
				t.Fatalf("Write while handshaking: %v", err)
			}
			if _, err := a.SRTPKeys(); !errors.Is(err, association.ErrNotEstablished) {
				t.Fatalf("SRTPKeys while handshaking: %v", err)
			}
			if _, err := a.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60); !errors.Is(err, association.ErrNotEstablished) {
				t.Fatalf("ExportKeyingMaterial while handshaking: %v", err)
			}
			if tc.withPeer {
				// A record from the peer while handshaking (epoch-0
				// application data, held for after the handshake) is the
				// association's: no HasPacket.
				rec := []byte{23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4}
				if _, err := silent.WriteTo(rec, s.port); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(30 * time.Second)
				for s.a.Stats().Records == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if st := s.a.Stats(); st.Records != 1 {
					t.Fatalf("stats %+v: the peer's record did not reach the association", st)
				}
				if st, err := s.rx.Status(); st != dtlsrx.Running {
					t.Fatalf("DTLS[rx] after a record from the peer: %v %v, want Running", st, err)
				}
			}
			if next, ok := clk.Next(); !ok || next != timeout {
				t.Fatalf("next timer on the module clock in %v (%v), want the handshake's in %v", next, ok, timeout)
			}
			clk.Advance(timeout)
			seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience)
			if seen[len(seen)-1] != dtlsrx.Stopped || !errors.Is(err, dtlsrx.ErrAssociation) || !errors.Is(err, association.ErrHandshakeTimeout) ||
				slices.Contains(seen, dtlsrx.HasPacket) || slices.Contains(seen, dtlsrx.Handshake) {
				t.Fatalf("statuses %v, %v: want Stopped with the handshake timeout", seen, err)
			}
			if st, aerr := a.State(); st != association.Failed || !errors.Is(aerr, association.ErrHandshakeTimeout) {
				t.Fatalf("association %v %v, want Failed with ErrHandshakeTimeout", st, aerr)
			}
			if err := association.Write(a, []byte("late")); !errors.Is(err, association.ErrNotEstablished) {
				t.Fatalf("Write after the failure: %v", err)
			}
		})
	}
}

// TestHandshakeTimeoutNotBefore: a handshake that completes when the
// module's clock is 1 ms short of Config.HandshakeTimeout succeeds, for a
// server bound to its peer and a learning server (the client's module runs
// on the system clock with the default timeout).
func TestHandshakeTimeoutNotBefore(t *testing.T) {
	const timeout = 30 * time.Second
	for _, learn := range []bool{false, true} {
		t.Run(fmt.Sprintf("learn=%v", learn), func(t *testing.T) {
			t.Parallel()
			cert := newCert(t)
			clk := clock.NewFake(time.Unix(1000, 0))
			smod := openModuleClock(t, clk)
			addECDSA(t, smod, 1, mediaport.ECDSA{Certificate: cert.TLS})
			cmod := openModule(t)
			addECDSA(t, cmod, 1, mediaport.ECDSA{Certificate: cert.TLS})
			srv, cli := newSide(t, smod), newSide(t, cmod)
			peer := cli.port
			if learn {
				peer = netip.AddrPort{}
			}
			srv.bind(t, peer, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: timeout})
			clk.Advance(timeout - time.Millisecond)
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
			waitEstablished(t, cli, srv)
			cli.sendTo(t, srv, "in time")
			if next, ok := clk.Next(); ok && next > 50*time.Millisecond {
				t.Fatalf("a timer due in %v is left on the module clock once established (the handshake's not stopped)", next)
			}
		})
	}
}

// TestSendNotEstablished (RIOT 8): sending before the session is
// established fails with the not-established error at both layers and
// puts nothing on the wire; once established the same call works, and
// after Close it fails again. (There is no send-with-timeout path: RIOT's
// "send with a timeout handshakes first" has no counterpart in the API.)
func TestSendNotEstablished(t *testing.T) {
	mod := certModule(t)
	cli, srv := newSide(t, mod), newSide(t, mod)
	sn := newSniffer(t, cli.port, srv.port)
	srv.bind(t, sn.forServer(), association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	for i := 0; i < 3; i++ {
		if err := srv.tx.SendPacket([]byte("too early")); !errors.Is(err, dtlstx.ErrNotEstablished) || !errors.Is(err, mediaport.ErrState) {
			t.Fatalf("SendPacket before the handshake: %v", err)
		}
		if err := association.Write(srv.a, []byte("too early")); !errors.Is(err, association.ErrNotEstablished) || !errors.Is(err, mediaport.ErrState) {
			t.Fatalf("Write before the handshake: %v", err)
		}
	}
	cli.bind(t, sn.forClient(), association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	waitEstablished(t, cli, srv)
	srv.sendTo(t, cli, "now")
	if err := association.Write(srv.a, []byte("via Write")); err != nil {
		t.Fatalf("Write once established: %v", err)
	}
	if got := cli.read(t, testutil.Patience); got != "via Write" {
		t.Fatalf("read %q", got)
	}
	appData := 0
	sn.records(false, func(ct byte, _ []byte) {
		if ct == 23 {
			appData++
		}
	})
	if appData != 0 {
		t.Fatalf("%d epoch-0 application data records from the server: data went out unencrypted", appData)
	}
	if err := srv.a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := association.Write(srv.a, []byte("too late")); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// rtpPacket is a minimal RTP packet (PT 0).
func rtpPacket(seq byte) []byte {
	return []byte{0x80, 0x00, 0, seq, 0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef}
}

// getRTP waits (bounded) for one RTP packet on the VMP[rx].
func getRTP(t *testing.T, v *vmprx.VMPRx, limit time.Duration) ([]byte, vmprx.Packet) {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(limit)
	for {
		p, err := v.GetPacket(buf)
		if err == nil {
			return buf[:p.Len], p
		}
		if !errors.Is(err, vmprx.ErrNoPacket) || time.Now().After(deadline) {
			t.Fatalf("no RTP on the VMP[rx]: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCloseNotifyKeepsSocket (RIOT 9): session_destroy — the association's
// Close, or Stop of its DTLS[rx] or DTLS[tx] — sends close_notify: the
// peer's DTLS[rx] stops cleanly (no error) and its association is Closed;
// the closing side's State is Closed as soon as the call returns.
// The VMP[rx] whose port carried the association stays open: RTP sent to
// that port afterwards still reaches its queue.
func TestCloseNotifyKeepsSocket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(*side) error
	}{
		{"Close", func(s *side) error { return s.a.Close() }},
		{"DTLS[rx] Stop", func(s *side) error { return s.rx.Stop() }},
		{"DTLS[tx] Stop", func(s *side) error { return s.tx.Stop() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := certModule(t)
			a, b := newSide(t, mod), newSide(t, mod)
			mediaportPair(t, mod, a, b)
			a.sendTo(t, b, "before")
			if err := tc.close(a); err != nil {
				t.Fatal(err)
			}
			if st, _ := a.a.State(); st != association.Closed {
				t.Fatalf("closing side: %v, want closed", st)
			}
			seen, err := b.waitRx(t, dtlsrx.Stopped, testutil.Patience)
			if seen[len(seen)-1] != dtlsrx.Stopped || err != nil {
				t.Fatalf("peer after close_notify: %v %v, want Stopped without error", seen, err)
			}
			if st, aerr := b.a.State(); st != association.Closed || aerr != nil {
				t.Fatalf("peer association %v %v, want closed", st, aerr)
			}
			// The VMP[rx] port is still open and still delivers RTP.
			if st, _ := a.v.Status(); st == vmprx.Stopped {
				t.Fatal("the VMP[rx] stopped with the association")
			}
			src, err := udp.Listen(netip.AddrPortFrom(lo4, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			want := rtpPacket(7)
			if _, err := src.WriteTo(want, a.port); err != nil {
				t.Fatal(err)
			}
			got, p := getRTP(t, a.v, testutil.Patience)
			if !bytes.Equal(got, want) || p.Class != vmprx.ClassRTP || p.Src != src.LocalAddr() {
				t.Fatalf("VMP[rx] got % x (%v from %v), want % x from %v", got, p.Class, p.Src, want, src.LocalAddr())
			}
		})
	}
}

// TestBindRoleVersionHint (RIOT 1, 3): roles other than client and server
// and versions other than DTLS 1.2 are refused; a server PSK hint of
// MaxPSKHint bytes is accepted, one byte more refused. A refused Bind
// leaves the pair free.
func TestBindRoleVersionHint(t *testing.T) {
	mod := openModule(t)
	addPSK(t, mod, 10, "id", "key", "")
	s := newSide(t, mod)
	if err := s.tx.Config(dtlstx.Config{Destination: s.port, Local: s.port}); err != nil {
		t.Fatal(err)
	}
	tags := []mediaport.CredTag{10}
	for _, tc := range []struct {
		name string
		cfg  association.Config
		want error
	}{
		{"role 0", association.Config{Role: 0, Tags: tags}, mediaport.ErrInvalidArgument},
		{"role 3", association.Config{Role: 3, Tags: tags}, mediaport.ErrInvalidArgument},
		{"role -1", association.Config{Role: -1, Tags: tags}, mediaport.ErrInvalidArgument},
		{"version 1.0", association.Config{Role: association.Client, Version: 10, Tags: tags}, association.ErrVersion},
		{"version 1.3", association.Config{Role: association.Client, Version: 13, Tags: tags}, association.ErrVersion},
		{"hint max+1", association.Config{Role: association.Server, Tags: tags, PSKHint: strings.Repeat("h", association.MaxPSKHint+1)}, mediaport.ErrInvalidArgument},
	} {
		if a, err := association.Bind(s.rx, s.tx, tc.cfg); !errors.Is(err, tc.want) || a != nil {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if !errors.Is(association.ErrVersion, mediaport.ErrInvalidArgument) {
		t.Error("ErrVersion does not match ErrInvalidArgument")
	}
	a, err := association.Bind(s.rx, s.tx, association.Config{Role: association.Server, Version: association.DTLS12, Tags: tags,
		PSKHint: strings.Repeat("h", association.MaxPSKHint), HandshakeTimeout: time.Second})
	if err != nil {
		t.Fatalf("hint of MaxPSKHint bytes: %v", err)
	}
	a.Close()
}

// TestPSKHintOnTheWire (RIOT 3): the server's hint reaches the client's
// PSK callback intact, up to MaxPSKHint bytes; an empty hint sends none —
// no ServerKeyExchange on a plain PSK suite — and the callback sees an
// empty hint.
func TestPSKHintOnTheWire(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", association.MaxPSKHint/16)
	for _, tc := range []struct {
		name, hint string
	}{
		{"none", ""},
		{"short", "h"},
		{"max", long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := openModule(t)
			addPSK(t, mod, 10, "alice", "0123456789abcdef", "")
			addPSK(t, mod, 30, "alice", "0123456789abcdef", "")
			cli, srv := newSide(t, mod), newSide(t, mod)
			sn := newSniffer(t, cli.port, srv.port)
			var mu sync.Mutex
			var hints []string
			srv.bind(t, sn.forServer(), association.Config{Role: association.Server, Tags: []mediaport.CredTag{30}, PSKHint: tc.hint})
			cli.bind(t, sn.forClient(), association.Config{Role: association.Client, Tags: []mediaport.CredTag{10},
				ClientPSK: func(_ netip.AddrPort, h string, _ []mediaport.CredTag) mediaport.CredTag {
					mu.Lock()
					hints = append(hints, h)
					mu.Unlock()
					return mediaport.TagEmpty
				}})
			waitEstablished(t, cli, srv)
			info, _ := cli.a.Info()
			if strings.Contains(info.CipherSuiteName, "ECDHE") {
				t.Fatalf("suite %s: want a plain PSK suite (ServerKeyExchange optional)", info.CipherSuiteName)
			}
			mu.Lock()
			got := slices.Clone(hints)
			mu.Unlock()
			if len(got) == 0 {
				t.Fatal("the client PSK callback was never called")
			}
			for _, h := range got {
				if h != tc.hint {
					t.Fatalf("callback saw hint %q, want %q", h, tc.hint)
				}
			}
			ske := bytes.Count(sn.handshakeTypes(false), []byte{hsServerKeyExchange})
			if tc.hint == "" && ske != 0 {
				t.Fatalf("empty hint: the server sent %d ServerKeyExchange messages (handshake types %v)", ske, sn.handshakeTypes(false))
			}
			if tc.hint != "" && ske == 0 {
				t.Fatalf("hint %q: no ServerKeyExchange carried it (handshake types %v)", tc.hint, sn.handshakeTypes(false))
			}
		})
	}
}

// TestSRTPKeySplit (Prosody 8, RFC 5764 §4.2): the EXTRACTOR-dtls_srtp
// output is client key | server key | client salt | server salt; each
// side's SRTPKeys splits it by role, the client's local block (key +
// salt, 30 bytes for SRTP_AES128_CM_HMAC_SHA1_80) being the server's
// remote block and vice versa, and Material is the raw exported material.
func TestSRTPKeySplit(t *testing.T) {
	mod := certModule(t)
	for _, tc := range []struct {
		profile   association.SRTPProfile
		key, salt int
	}{
		{association.SRTP_AES128_CM_HMAC_SHA1_80, 16, 14},
		{association.SRTP_AES128_CM_HMAC_SHA1_32, 16, 14},
		{association.SRTP_AEAD_AES_128_GCM, 16, 12},
		{association.SRTP_AEAD_AES_256_GCM, 32, 12},
	} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			cli, srv := newSide(t, mod), newSide(t, mod)
			profiles := []association.SRTPProfile{tc.profile}
			srv.bind(t, cli.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, SRTPProfiles: profiles})
			cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, SRTPProfiles: profiles})
			waitEstablished(t, cli, srv)
			k, s := tc.key, tc.salt
			n := 2 * (k + s)
			raw, err := cli.a.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, n)
			if err != nil {
				t.Fatal(err)
			}
			rawS, err := srv.a.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, n)
			if err != nil || !bytes.Equal(raw, rawS) {
				t.Fatalf("the sides export different material (%v)", err)
			}
			ck, err := cli.a.SRTPKeys()
			if err != nil {
				t.Fatal(err)
			}
			sk, err := srv.a.SRTPKeys()
			if err != nil {
				t.Fatal(err)
			}
			if ck.Profile != tc.profile || sk.Profile != tc.profile {
				t.Fatalf("profiles %v / %v, want %v", ck.Profile, sk.Profile, tc.profile)
			}
			clientKey, serverKey := raw[:k], raw[k:2*k]
			clientSalt, serverSalt := raw[2*k:2*k+s], raw[2*k+s:]
			for _, c := range []struct {
				what      string
				got, want []byte
			}{
				{"client Material", ck.Material, raw},
				{"server Material", sk.Material, raw},
				{"client LocalKey", ck.LocalKey, clientKey},
				{"client LocalSalt", ck.LocalSalt, clientSalt},
				{"client RemoteKey", ck.RemoteKey, serverKey},
				{"client RemoteSalt", ck.RemoteSalt, serverSalt},
				{"server LocalKey", sk.LocalKey, serverKey},
				{"server LocalSalt", sk.LocalSalt, serverSalt},
				{"server RemoteKey", sk.RemoteKey, clientKey},
				{"server RemoteSalt", sk.RemoteSalt, clientSalt},
			} {
				if !bytes.Equal(c.got, c.want) {
					t.Errorf("%s: % x, want % x", c.what, c.got, c.want)
				}
			}
			block := func(key, salt []byte) []byte { return append(slices.Clone(key), salt...) }
			cliLocal, cliRemote := block(ck.LocalKey, ck.LocalSalt), block(ck.RemoteKey, ck.RemoteSalt)
			srvLocal, srvRemote := block(sk.LocalKey, sk.LocalSalt), block(sk.RemoteKey, sk.RemoteSalt)
			if len(cliLocal) != k+s || !bytes.Equal(cliLocal, srvRemote) || !bytes.Equal(cliRemote, srvLocal) || bytes.Equal(cliLocal, cliRemote) {
				t.Fatalf("blocks: client local % x remote % x; server local % x remote % x", cliLocal, cliRemote, srvLocal, srvRemote)
			}
			if tc.profile == association.SRTP_AES128_CM_HMAC_SHA1_80 && (len(raw) != 60 || len(cliLocal) != 30) {
				t.Fatalf("SRTP_AES128_CM_HMAC_SHA1_80: %d bytes of material, blocks of %d, want 60 and 30", len(raw), len(cliLocal))
			}
			// A different label or length exports something else: the
			// comparison above is with EXTRACTOR-dtls_srtp itself.
			other, _ := cli.a.ExportKeyingMaterial("EXTRACTOR-other", nil, n)
			if bytes.Equal(other, raw) {
				t.Fatal("the exporter ignores its label")
			}
		})
	}
}
