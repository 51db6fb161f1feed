package association_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/alert"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
)

// Handshake failures against real peers — pion/dtls on its own UDP socket
// and OpenSSL — are reported at once, with their cause. Every module here
// runs on a fake clock that is never advanced: the association's
// handshake timeout (on that clock) cannot fire, so a failure seen is the
// handshake's own, and a handshake that completes did so by itself.

// frozenModule opens a module on a fake clock nobody advances, holding
// ours under tag 1.
func frozenModule(t *testing.T, ours testutil.Cert) *mediaport.Module {
	t.Helper()
	mod := openModuleClock(t, clock.NewFake(time.Unix(1000, 0)))
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: ours.TLS})
	return mod
}

// pionPeer is a pion/dtls Conn on a UDP socket of its own.
type pionPeer struct {
	pc   net.PacketConn
	addr netip.AddrPort
	done chan error // the handshake's result
	conn *dtls.Conn
}

func newPionSocket(t *testing.T) *pionPeer {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &pionPeer{pc: pc, addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), done: make(chan error, 1)}
}

// start runs the handshake with peer in the background (client or
// server); the Conn is closed when the test ends.
func (p *pionPeer) start(t *testing.T, client bool, peer netip.AddrPort, cert testutil.Cert, profiles []dtls.SRTPProtectionProfile, extra ...dtls.Option) {
	t.Helper()
	raddr := net.UDPAddrFromAddrPort(peer)
	opts := []dtls.Option{dtls.WithCertificates(cert.TLS), dtls.WithInsecureSkipVerify(true), dtls.WithFlightInterval(100 * time.Millisecond)}
	opts = append(opts, extra...)
	if len(profiles) > 0 {
		opts = append(opts, dtls.WithSRTPProtectionProfiles(profiles...))
	}
	var err error
	if client {
		var co []dtls.ClientOption
		for _, o := range opts {
			co = append(co, o)
		}
		p.conn, err = dtls.ClientWithOptions(p.pc, raddr, co...)
	} else {
		so := []dtls.ServerOption{dtls.WithClientAuth(dtls.RequireAnyClientCert)}
		for _, o := range opts {
			so = append(so, o)
		}
		p.conn, err = dtls.ServerWithOptions(p.pc, raddr, so...)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	go func() { p.done <- p.conn.HandshakeContext(ctx); cancel() }()
	t.Cleanup(func() { cancel(); p.conn.Close(); <-p.done })
}

// result waits for the pion side's handshake to end.
func (p *pionPeer) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(testutil.Patience):
		t.Fatal("the pion peer's handshake did not end")
		return nil
	}
}

// wantAlert checks that err carries the alert d, sent (received false) or
// received, and, for a sent one, the cause.
func wantAlert(t *testing.T, who string, err error, d association.AlertDescription, received bool, cause error) {
	t.Helper()
	var al *association.AlertError
	if !errors.As(err, &al) || al.Description != d || al.Received != received || !al.Fatal {
		t.Fatalf("%s: %v: want a fatal %v alert (received %v)", who, err, d, received)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("%s: %v: want %v", who, err, cause)
	}
	if errors.Is(err, association.ErrHandshakeTimeout) {
		t.Fatalf("%s: %v: a timeout", who, err)
	}
}

var (
	gcm128 = []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM}
	cm80   = []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80}
)

// TestFailureWithPion: against a pion/dtls peer, in both roles, a
// fingerprint mismatch, no common SRTP profile, and the peer's alert each
// fail the handshake at once with its cause.
func TestFailureWithPion(t *testing.T) {
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "pion")
	wrongPin := association.Fingerprint(ours.TLS.Certificate[0]) // not the peer's
	for _, tc := range []struct {
		name       string
		role       association.Role
		cfg        association.Config
		peerSRTP   []dtls.SRTPProtectionProfile
		alert      association.AlertDescription
		received   bool  // our error carries the peer's alert, not ours
		cause      error // ours, when we sent the alert
		peerAlerts bool  // the pion peer reports an alert from us
		peerReject bool  // the pion peer rejects our certificate
	}{
		{"server/fingerprint", association.Server, association.Config{PeerFingerprints: []string{wrongPin}}, nil,
			association.AlertBadCertificate, false, association.ErrFingerprint, true, false},
		{"client/fingerprint", association.Client, association.Config{PeerFingerprints: []string{wrongPin}}, nil,
			association.AlertBadCertificate, false, association.ErrFingerprint, true, false},
		{"server/no-srtp-profile", association.Server, association.Config{SRTPProfiles: gcm128}, cm80,
			association.AlertInsufficientSecurity, false, association.ErrNoSRTPProfile, true, false},
		{"client/peer-alert", association.Client, association.Config{SRTPProfiles: gcm128}, cm80,
			association.AlertInsufficientSecurity, true, nil, false, false},
		{"server/peer-alert", association.Server, association.Config{}, nil,
			association.AlertBadCertificate, true, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSide(t, frozenModule(t, ours))
			p := newPionSocket(t)
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout = tc.role, []mediaport.CredTag{1}, 5*time.Second
			var extra []dtls.Option
			if tc.peerReject {
				extra = append(extra, dtls.WithVerifyPeerCertificate(func([][]byte, [][]*x509.Certificate) error {
					return errors.New("not the certificate the signalling named")
				}))
			}
			if tc.role == association.Server {
				s.bind(t, p.addr, cfg)
				p.start(t, true, s.port, theirs, tc.peerSRTP, extra...)
			} else {
				p.start(t, false, s.port, theirs, tc.peerSRTP)
				s.bind(t, p.addr, cfg)
			}
			err := s.waitFailed(t, "mediaport", testutil.Patience)
			wantAlert(t, "mediaport", err, tc.alert, tc.received, tc.cause)
			if rerr := s.rx.Err(); !errors.Is(rerr, err) {
				t.Fatalf("DTLS[rx] Err %v, want the association's %v", rerr, err)
			}
			perr := p.result(t)
			if perr == nil {
				t.Fatal("the pion peer completed its handshake")
			}
			if want := alert.Description(tc.alert).String(); tc.peerAlerts && !strings.Contains(perr.Error(), "alert: Alert Fatal: "+want) {
				t.Fatalf("pion peer: %v, want our fatal %s alert", perr, want)
			}
		})
	}
}

// TestDataChannelOnlyWithPion: a peer that offers use_srtp to a server
// configured with no SRTP profiles (as WebRTC peers do for data channels
// only) completes the handshake — pion's server alone answers
// insufficient_security — and the server reports the profile it answered
// with. A client configured with none completes with a pion server that
// has profiles, negotiating none.
func TestDataChannelOnlyWithPion(t *testing.T) {
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "pion")
	t.Run("server", func(t *testing.T) {
		t.Parallel()
		s := newSide(t, frozenModule(t, ours))
		p := newPionSocket(t)
		s.bind(t, p.addr, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 5 * time.Second})
		p.start(t, true, s.port, theirs, cm80)
		waitEstablished(t, s)
		if err := p.result(t); err != nil {
			t.Fatalf("pion client: %v", err)
		}
		info, _ := s.a.Info()
		prof, ok := p.conn.SelectedSRTPProtectionProfile()
		if info.SRTPProfile != association.SRTP_AES128_CM_HMAC_SHA1_80 || !ok || prof != dtls.SRTP_AES128_CM_HMAC_SHA1_80 {
			t.Fatalf("profiles: ours %v, pion's %v %v: want SRTP_AES128_CM_HMAC_SHA1_80 on both", info.SRTPProfile, prof, ok)
		}
		if _, err := p.conn.Write([]byte("over the data channel")); err != nil {
			t.Fatal(err)
		}
		if got := s.read(t, testutil.Patience); got != "over the data channel" {
			t.Fatalf("read %q", got)
		}
	})
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		s := newSide(t, frozenModule(t, ours))
		p := newPionSocket(t)
		p.start(t, false, s.port, theirs, cm80)
		s.bind(t, p.addr, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 5 * time.Second})
		waitEstablished(t, s)
		if err := p.result(t); err != nil {
			t.Fatalf("pion server: %v", err)
		}
		if info, _ := s.a.Info(); info.SRTPProfile != 0 {
			t.Fatalf("profile %v, want none", info.SRTPProfile)
		}
		if _, err := s.a.SRTPKeys(); !errors.Is(err, mediaport.ErrState) {
			t.Fatalf("SRTPKeys with no profile: %v", err)
		}
	})
}

// TestFailureWithOpenSSL: against OpenSSL 3.0 in both roles, a fingerprint
// mismatch (bad_certificate sent), no common SRTP profile (OpenSSL leaves
// use_srtp out or gets our insufficient_security), no common cipher suite
// (OpenSSL's handshake_failure received, or our insufficient_security
// sent) each fail at once with the cause; OpenSSL reports our alert.
func TestFailureWithOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	wrongPin := association.Fingerprint(ours.TLS.Certificate[0])
	cert := []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath}
	for _, tc := range []struct {
		name     string
		role     association.Role
		cfg      association.Config
		peer     []string
		alert    association.AlertDescription
		received bool
		cause    error
	}{
		{"server/fingerprint", association.Server, association.Config{PeerFingerprints: []string{wrongPin}}, cert,
			association.AlertBadCertificate, false, association.ErrFingerprint},
		{"client/fingerprint", association.Client, association.Config{PeerFingerprints: []string{wrongPin}}, cert,
			association.AlertBadCertificate, false, association.ErrFingerprint},
		{"server/no-srtp-profile", association.Server, association.Config{SRTPProfiles: gcm128}, append(cert, "-use_srtp", "SRTP_AES128_CM_SHA1_80"),
			association.AlertInsufficientSecurity, false, association.ErrNoSRTPProfile},
		{"client/no-srtp-profile", association.Client, association.Config{SRTPProfiles: gcm128}, append(cert, "-use_srtp", "SRTP_AES128_CM_SHA1_80"),
			association.AlertInsufficientSecurity, false, association.ErrNoSRTPProfile},
		{"server/no-cipher-suite", association.Server, association.Config{}, append(cert, "-cipher", "ECDHE-ECDSA-AES128-SHA256"),
			association.AlertInsufficientSecurity, false, association.ErrNoCipherSuite},
		{"client/peer-alert", association.Client, association.Config{}, []string{"-nocert", "-psk", pskHex, "-cipher", "PSK-AES128-GCM-SHA256"},
			association.AlertHandshakeFailure, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSide(t, frozenModule(t, ours))
			cfg := tc.cfg
			cfg.Role, cfg.Tags, cfg.HandshakeTimeout = tc.role, []mediaport.CredTag{1}, 5*time.Second
			var p *testutil.Proc
			if tc.role == association.Server {
				bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
				s.bind(t, bind, cfg)
				p = testutil.StartProc(t, "openssl", append([]string{"s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String()}, tc.peer...)...)
			} else {
				addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
				args := []string{"s_server", "-dtls1_2", "-accept", addr.String()}
				if !containsArg(tc.peer, "-cipher") {
					args = append(args, "-cipher", "ALL")
				}
				p = testutil.StartProc(t, "openssl", append(args, tc.peer...)...)
				if !p.WaitOutput("ACCEPT", testutil.Patience) {
					t.Fatalf("s_server: %s", p.Output())
				}
				s.bind(t, addr, cfg)
			}
			err := s.waitFailed(t, "mediaport", testutil.Patience)
			wantAlert(t, "mediaport", err, tc.alert, tc.received, tc.cause)
			if !tc.received {
				// OpenSSL names the alert it received: "... alert bad certificate".
				want := map[association.AlertDescription]string{
					association.AlertBadCertificate:       "alert bad certificate",
					association.AlertInsufficientSecurity: "alert insufficient security",
				}[tc.alert]
				if !p.WaitOutput(want, testutil.Patience) {
					t.Fatalf("openssl did not report %q:\n%s", want, p.Output())
				}
			}
		})
	}
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// TestDataChannelOnlyWithOpenSSL: OpenSSL offering use_srtp (s_client
// -use_srtp) completes against our server configured with no profiles,
// with the same keying material; our client configured with none
// completes against s_server -use_srtp, negotiating none.
func TestDataChannelOnlyWithOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	srtp := []string{"-cert", theirs.CertPath, "-key", theirs.KeyPath, "-use_srtp", "SRTP_AES128_CM_SHA1_80",
		"-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"}
	t.Run("server", func(t *testing.T) {
		t.Parallel()
		s := newSide(t, frozenModule(t, ours))
		bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		tc := interopCase{profile: association.SRTP_AES128_CM_HMAC_SHA1_80}
		s.bind(t, bind, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 5 * time.Second})
		p := testutil.StartProc(t, "openssl", append([]string{"s_client", "-dtls1_2", "-connect", s.port.String(), "-bind", bind.String()}, srtp...)...)
		checkEstablished(t, s, p, tc, false, false)
		exchange(t, s, p, false)
	})
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		s := newSide(t, frozenModule(t, ours))
		addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		p := testutil.StartProc(t, "openssl", append([]string{"s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", "ALL"}, srtp...)...)
		if !p.WaitOutput("ACCEPT", testutil.Patience) {
			t.Fatalf("s_server: %s", p.Output())
		}
		s.bind(t, addr, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 5 * time.Second})
		checkEstablished(t, s, p, interopCase{}, false, true)
		exchange(t, s, p, false)
	})
}

// TestServerWaitsOnceForPSKSuites (DTLS 1): a server holding only a PSK,
// offered only certificate suites, sends insufficient_security and waits
// once for the client's next ClientHello (a mediaport client holding both
// kinds offers the PSK suites next). Another certificate-only ClientHello
// from the same peer then fails it at once with ErrNoCipherSuite; a client
// that never comes back leaves it to fail at its timeout, with the cause.
func TestServerWaitsOnceForPSKSuites(t *testing.T) {
	theirs := testutil.SelfSignedCert(t, "pion")
	// waiting is the server's log of a failed attempt it waits after.
	const waiting = "association handshake attempt failed, waiting for a retry"
	pskServer := func(t *testing.T, clk *clock.Fake, peer netip.AddrPort) (*side, *recorder) {
		rec := &recorder{level: slog.LevelDebug}
		mod, err := mediaport.OpenModule(mediaport.Options{Clock: clk, Logger: slog.New(rec)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mod.Close() })
		pskCreds(t, mod)
		s := newSide(t, mod)
		s.bind(t, peer, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 10 * time.Second})
		return s, rec
	}
	// certHello runs a pion client offering certificate suites only from
	// local, on a socket of its own (pion closes it when the attempt
	// fails, and no reader of the last attempt is left to take datagrams
	// meant for the next).
	certHello := func(t *testing.T, local, srv netip.AddrPort) error {
		pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		c, err := dtls.ClientWithOptions(pc, net.UDPAddrFromAddrPort(srv), dtls.WithCertificates(theirs.TLS),
			dtls.WithInsecureSkipVerify(true), dtls.WithFlightInterval(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		defer cancel()
		return c.HandshakeContext(ctx)
	}
	t.Run("second attempt", func(t *testing.T) {
		t.Parallel()
		local := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		s, _ := pskServer(t, clock.NewFake(time.Unix(1000, 0)), local) // never advanced
		for i := range 2 {
			if err := certHello(t, local, s.port); err == nil || !strings.Contains(err.Error(), "InsufficientSecurity") {
				st, serr := s.a.State()
				t.Fatalf("pion attempt %d: %v, want our insufficient_security (server %v %v)", i+1, err, st, serr)
			}
		}
		err := s.waitFailed(t, "server", testutil.Patience)
		wantAlert(t, "server", err, association.AlertInsufficientSecurity, false, association.ErrNoCipherSuite)
	})
	t.Run("no second attempt", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewFake(time.Unix(1000, 0))
		local := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
		s, rec := pskServer(t, clk, local)
		if err := certHello(t, local, s.port); err == nil {
			t.Fatal("pion completed a certificate suite with a PSK-only server")
		}
		testutil.Eventually(t, testutil.Patience, func() bool { return rec.has(waiting) }, "the server logged no failed attempt")
		clk.Advance(10 * time.Second)
		err := s.waitFailed(t, "server", testutil.Patience)
		if !errors.Is(err, association.ErrHandshakeTimeout) || !errors.Is(err, association.ErrNoCipherSuite) {
			t.Fatalf("server: %v, want the timeout with ErrNoCipherSuite", err)
		}
	})
}

// has reports whether a record with message msg was kept.
func (r *recorder) has(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Message == msg {
			return true
		}
	}
	return false
}
