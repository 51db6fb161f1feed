package association_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// pskSuite reports whether id is a PSK suite.
func pskSuite(id dtls.CipherSuiteID) bool { return strings.Contains(id.String(), "PSK") }

// tapConn is a pion peer's PacketConn: a UDP socket whose writes are
// recorded and whose reads may drop the first datagram a filter picks.
type tapConn struct {
	*net.UDPConn
	mu      sync.Mutex
	written [][]byte
	drop    func([]byte) bool // drops the first datagram it accepts (then nil)
	dropped atomic.Int32
}

func (c *tapConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		c.mu.Lock()
		d := c.drop
		if d != nil && d(p[:n]) {
			c.drop = nil
			c.mu.Unlock()
			c.dropped.Add(1)
			continue
		}
		c.mu.Unlock()
		return n, addr, err
	}
}

func (c *tapConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, append([]byte(nil), p...))
	c.mu.Unlock()
	return c.UDPConn.WriteTo(p, addr)
}

// rawPeer is a raw pion/dtls peer of one suite on its own socket.
type rawPeer struct {
	tap  *tapConn
	addr netip.AddrPort
	c    *dtls.Conn
	err  chan error
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{tap: &tapConn{UDPConn: u}, addr: u.LocalAddr().(*net.UDPAddr).AddrPort(), err: make(chan error, 1)}
	t.Cleanup(func() {
		if p.c != nil {
			p.c.Close()
		}
		u.Close()
	})
	return p
}

// start runs the peer's handshake with suite towards to; client says its
// role. Wait for it with handshake.
func (p *rawPeer) start(t *testing.T, to netip.AddrPort, suite dtls.CipherSuiteID, client bool, cert testutil.Cert) {
	t.Helper()
	opts := []dtls.Option{dtls.WithCipherSuites(suite), dtls.WithFlightInterval(200 * time.Millisecond),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80)}
	if pskSuite(suite) {
		opts = append(opts, dtls.WithPSK(func([]byte) ([]byte, error) { return []byte(pskKey), nil }),
			dtls.WithPSKIdentityHint([]byte("alice")))
	} else {
		opts = append(opts, dtls.WithCertificates(cert.TLS), dtls.WithInsecureSkipVerify(true))
	}
	raddr := net.UDPAddrFromAddrPort(to)
	var err error
	if client {
		var co []dtls.ClientOption
		for _, o := range opts {
			co = append(co, o)
		}
		p.c, err = dtls.ClientWithOptions(p.tap, raddr, co...)
	} else {
		var so []dtls.ServerOption
		for _, o := range opts {
			so = append(so, o)
		}
		p.c, err = dtls.ServerWithOptions(p.tap, raddr, so...)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		defer cancel()
		p.err <- p.c.HandshakeContext(ctx)
	}()
}

func (p *rawPeer) handshake(t *testing.T) {
	t.Helper()
	if err := <-p.err; err != nil {
		t.Fatalf("pion peer handshake: %v", err)
	}
}

// read reads one record's data from the pion peer.
func (p *rawPeer) read(t *testing.T) string {
	t.Helper()
	p.c.SetReadDeadline(time.Now().Add(testutil.Patience))
	buf := make([]byte, 4096)
	n, err := p.c.Read(buf)
	if err != nil {
		t.Fatalf("pion peer read: %v", err)
	}
	return string(buf[:n])
}

// recordSide binds a mediaport side in role to the pion peer, with the
// credential suite needs.
func recordSide(t *testing.T, suite dtls.CipherSuiteID, role association.Role, cert testutil.Cert, peer netip.AddrPort) *side {
	t.Helper()
	s := recordPort(t, suite, cert)
	s.bindRecord(t, role, peer)
	return s
}

// recordPort is recordSide before the bind.
func recordPort(t *testing.T, suite dtls.CipherSuiteID, cert testutil.Cert) *side {
	t.Helper()
	mod := openModule(t)
	if pskSuite(suite) {
		addPSK(t, mod, 1, "alice", string(pskKey), "")
	} else {
		addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: cert.TLS})
	}
	return newSide(t, mod)
}

func (s *side) bindRecord(t *testing.T, role association.Role, peer netip.AddrPort) {
	t.Helper()
	s.bind(t, peer, association.Config{Role: role, Tags: []mediaport.CredTag{1}, FlightInterval: 50 * time.Millisecond,
		SRTPProfiles: []association.SRTPProfile{association.SRTP_AES128_CM_HMAC_SHA1_80}})
}

// pionOwnGoroutines returns the stacks of goroutines running pion/dtls
// code (the loops of a Conn).
func pionOwnGoroutines() []string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var own []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "created by github.com/pion/dtls") {
			own = append(own, g)
		}
	}
	return own
}

// TestRecordPathSuites: for each suite mediaport offers that takes its
// own record path (AES-GCM, ChaCha20-Poly1305, AES-CCM and CCM_8, with
// certificates and with PSK), in both roles against a raw pion/dtls peer
// held to that suite: the association is on our path, data crosses both
// ways (pion's record layer opens our records and ours pion's: the live
// differential test), the SRTP exporter gives pion's bytes, and a
// close_notify from pion stops the DTLS[rx] cleanly, while one from us
// ends pion's Read with io.EOF.
func TestRecordPathSuites(t *testing.T) {
	cert := newCert(t)
	for _, suite := range association.FastSuites() {
		for _, role := range []association.Role{association.Client, association.Server} {
			t.Run(suite.String()+"/"+role.String(), func(t *testing.T) {
				p := newRawPeer(t)
				var s *side
				if role == association.Server {
					s = recordSide(t, suite, role, cert, p.addr)
					p.start(t, s.port, suite, true, cert)
				} else {
					s = recordPort(t, suite, cert)
					p.start(t, s.port, suite, false, cert)
					s.bindRecord(t, role, p.addr)
				}
				waitEstablished(t, s)
				p.handshake(t)
				if !association.RecordPath(s.a) {
					t.Fatal("not on mediaport's record path")
				}
				info, err := s.a.Info()
				if err != nil || info.CipherSuite != suite {
					t.Fatalf("suite %v, %v", info.CipherSuite, err)
				}
				for i := 0; i < 3; i++ {
					msg := strings.Repeat("m", 1+i*500)
					if err := s.tx.SendPacket([]byte(msg)); err != nil {
						t.Fatal(err)
					}
					if got := p.read(t); got != msg {
						t.Fatalf("pion read %d bytes, want %d", len(got), len(msg))
					}
					if _, err := p.c.Write([]byte(msg + "!")); err != nil {
						t.Fatal(err)
					}
					if got := s.read(t, testutil.Patience); got != msg+"!" {
						t.Fatalf("we read %d bytes, want %d", len(got), len(msg)+1)
					}
				}
				keys, err := s.a.SRTPKeys()
				if err != nil {
					t.Fatal(err)
				}
				st, _ := p.c.ConnectionState()
				want, _ := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
				if !bytes.Equal(keys.Material, want) {
					t.Fatal("SRTP keying material differs from pion's")
				}
				if _, err := s.a.ExportKeyingMaterial("master secret", nil, 8); !errors.Is(err, mediaport.ErrInvalidArgument) {
					t.Fatalf("reserved label: %v", err)
				}
				if role == association.Client {
					// ours: pion's Read ends with io.EOF
					if err := s.tx.Stop(); err != nil {
						t.Fatal(err)
					}
					p.c.SetReadDeadline(time.Now().Add(testutil.Patience))
					if _, err := p.c.Read(make([]byte, 100)); !errors.Is(err, io.EOF) {
						t.Fatalf("pion after our close_notify: %v", err)
					}
				} else {
					// pion's: the DTLS[rx] stops cleanly
					p.c.Close()
					if seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
						t.Fatalf("after pion's close_notify: %v %v", seen, err)
					}
					if st, _ := s.a.State(); st != association.Closed {
						t.Fatalf("state %v", st)
					}
				}
			})
		}
	}
}

// TestRecordPathNoGoroutines: an established pair on the record path has
// no goroutine of the association's nor of pion's, and still carries
// data both ways and closes.
func TestRecordPathNoGoroutines(t *testing.T) {
	mod := certModule(t)
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	if !association.RecordPath(a.a) || !association.RecordPath(s.a) {
		t.Fatal("not on mediaport's record path")
	}
	testutil.Eventually(t, testutil.Patience, func() bool {
		return len(associationGoroutines()) == 0 && len(pionOwnGoroutines()) == 0
	}, "goroutines left: association %d, pion %d", len(associationGoroutines()), len(pionOwnGoroutines()))
	a.sendTo(t, s, "ping")
	s.sendTo(t, a, "pong")
	if err := a.tx.SendPacket(make([]byte, 4000)); !errors.Is(err, association.ErrTooLarge) || !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("4,000 bytes in one record: %v", err)
	}
	if n := len(associationGoroutines()) + len(pionOwnGoroutines()); n != 0 {
		t.Fatalf("%d goroutines after data", n)
	}
	if err := a.tx.Stop(); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
		t.Fatalf("after close_notify: %v %v", seen, err)
	}
}

// appData reports whether d is one epoch-1 application-data record.
func appData(d []byte) bool { return len(d) > 13 && d[0] == 23 && d[3] == 0 && d[4] == 1 }

// TestRecordPathReplayAndOldEpoch: against a pion client whose datagrams
// are recorded: a record sent again (a replay, or the network
// duplicating it) is dropped and counted in Replayed, a record whose
// bytes were changed in Unauthentic, an epoch-0 application data or alert
// record after the handshake in Rejected (RFC 6347 §4.1: unprotected,
// discarded; it does not end the association); the data arrives once and
// the association goes on.
func TestRecordPathReplayAndOldEpoch(t *testing.T) {
	cert := newCert(t)
	suite := dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	p := newRawPeer(t)
	s := recordSide(t, suite, association.Server, cert, p.addr)
	p.start(t, s.port, suite, true, cert)
	waitEstablished(t, s)
	p.handshake(t)
	if _, err := p.c.Write([]byte("once")); err != nil {
		t.Fatal(err)
	}
	if got := s.read(t, testutil.Patience); got != "once" {
		t.Fatalf("read %q", got)
	}
	p.tap.mu.Lock()
	rec := append([]byte(nil), p.tap.written[len(p.tap.written)-1]...)
	p.tap.mu.Unlock()
	if !appData(rec) {
		t.Fatalf("last datagram is not application data: %x", rec[:13])
	}
	before := s.a.Stats()
	for i := 0; i < 3; i++ {
		p.tap.UDPConn.WriteTo(rec, net.UDPAddrFromAddrPort(s.port))
	}
	forged := append([]byte(nil), rec...)
	forged[10]++ // a fresh sequence number: the tag no longer matches
	p.tap.UDPConn.WriteTo(forged, net.UDPAddrFromAddrPort(s.port))
	old := []byte{23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, 0, 4, 'o', 'l', 'd', '!'}
	p.tap.UDPConn.WriteTo(old, net.UDPAddrFromAddrPort(s.port))
	alert := []byte{21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 100, 0, 2, 2, 40}
	p.tap.UDPConn.WriteTo(alert, net.UDPAddrFromAddrPort(s.port))
	testutil.Eventually(t, testutil.Patience, func() bool {
		st := s.a.Stats()
		return st.Replayed-before.Replayed == 3 && st.Unauthentic-before.Unauthentic == 1 && st.Rejected-before.Rejected == 2
	}, "stats %+v (before %+v)", s.a.Stats(), before)
	if _, err := p.c.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if got := s.read(t, testutil.Patience); got != "next" {
		t.Fatalf("read %q after the replays: the copies were delivered", got)
	}
	if st, _ := s.a.State(); st != association.Established {
		t.Fatalf("state %v", st)
	}
}

// TestRecordPathFinalFlightResent: the pion client never gets our
// server's final flight (ChangeCipherSpec, Finished) the first time: it
// repeats its own, which reaches an association already on our record
// path, which sends the flight pion wrote again (RFC 6347 §4.2.4); the
// client completes and data flows.
func TestRecordPathFinalFlightResent(t *testing.T) {
	cert := newCert(t)
	suite := dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	p := newRawPeer(t)
	p.tap.drop = func(d []byte) bool {
		for b := d; len(b) >= 13; b = b[13+int(b[11])<<8|int(b[12]):] {
			if b[0] == 20 {
				return true // the server's ChangeCipherSpec
			}
			if 13+(int(b[11])<<8|int(b[12])) > len(b) {
				break
			}
		}
		return false
	}
	s := recordSide(t, suite, association.Server, cert, p.addr)
	p.start(t, s.port, suite, true, cert)
	waitEstablished(t, s)
	testutil.Eventually(t, testutil.Patience, func() bool { return association.RecordPath(s.a) }, "server not on the record path")
	p.handshake(t)
	if p.tap.dropped.Load() != 1 {
		t.Fatalf("dropped %d", p.tap.dropped.Load())
	}
	if _, err := p.c.Write([]byte("after the lost flight")); err != nil {
		t.Fatal(err)
	}
	if got := s.read(t, testutil.Patience); got != "after the lost flight" {
		t.Fatalf("read %q", got)
	}
	if n := association.FlightsResent(s.a); n == 0 {
		t.Fatal("the final flight was not resent on the record path")
	}
	if err := s.tx.SendPacket([]byte("and back")); err != nil {
		t.Fatal(err)
	}
	if got := p.read(t); got != "and back" {
		t.Fatalf("pion read %q", got)
	}
}

// TestPionPathSuites: the CBC suites mediaport offers stay on pion's
// record path, in both roles, and carry data both ways.
func TestPionPathSuites(t *testing.T) {
	cert := newCert(t)
	for _, suite := range []dtls.CipherSuiteID{dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_PSK_WITH_AES_128_CBC_SHA256} {
		for _, role := range []association.Role{association.Client, association.Server} {
			t.Run(suite.String()+"/"+role.String(), func(t *testing.T) {
				p := newRawPeer(t)
				s := recordPort(t, suite, cert)
				if role == association.Server {
					s.bindRecord(t, role, p.addr)
					p.start(t, s.port, suite, true, cert)
				} else {
					p.start(t, s.port, suite, false, cert)
					s.bindRecord(t, role, p.addr)
				}
				waitEstablished(t, s)
				p.handshake(t)
				if association.RecordPath(s.a) {
					t.Fatal("a CBC suite on mediaport's record path")
				}
				if err := s.tx.SendPacket([]byte("cbc out")); err != nil {
					t.Fatal(err)
				}
				if got := p.read(t); got != "cbc out" {
					t.Fatalf("pion read %q", got)
				}
				p.c.Write([]byte("cbc in"))
				if got := s.read(t, testutil.Patience); got != "cbc in" {
					t.Fatalf("read %q", got)
				}
			})
		}
	}
}

// TestRecordPathCloseAtOnce: a pion server that closes the moment its
// handshake completes sends its close_notify right behind its final
// flight, while our client's pion may still be reading: the client ends
// Closed, its DTLS[rx] stopped cleanly, wherever the alert was taken.
func TestRecordPathCloseAtOnce(t *testing.T) {
	cert := newCert(t)
	suite := dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	for i := 0; i < 20; i++ {
		p := newRawPeer(t)
		s := recordPort(t, suite, cert)
		p.start(t, s.port, suite, false, cert)
		s.bindRecord(t, association.Client, p.addr)
		p.handshake(t)
		p.c.Close()
		seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience)
		if err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
			t.Fatalf("round %d: after the server's close_notify: %v %v", i, seen, err)
		}
		if st, _ := s.a.State(); st != association.Closed {
			t.Fatalf("round %d: state %v", i, st)
		}
	}
}
