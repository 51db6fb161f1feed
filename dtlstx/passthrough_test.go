package dtlstx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// side is one media endpoint in pass-through mode: a VMP[rx] on an
// rtcp-mux port with a DTLS[rx] attached, and a DTLS[tx] sending from the
// same port.
type side struct {
	mod  *mediaport.Module
	v    *vmprx.VMPRx
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	port netip.AddrPort
}

func newSide(t testing.TB, mod *mediaport.Module) *side {
	t.Helper()
	s := &side{mod: mod}
	var err error
	if s.v, err = vmprx.Create(mod); err != nil {
		t.Fatal(err)
	}
	if err := s.v.Config(vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: 1024}); err != nil {
		t.Fatal(err)
	}
	s.port, _, _ = s.v.Ports()
	if s.rx, err = dtlsrx.Create(mod); err != nil {
		t.Fatal(err)
	}
	if err := s.v.ConfigDTLS(s.rx, false); err != nil {
		t.Fatal(err)
	}
	if s.tx, err = dtlstx.Create(mod); err != nil {
		t.Fatal(err)
	}
	return s
}

// connect points the DTLS[tx] at peer, from the VMP[rx]'s port, and returns
// the PacketConn over the pair.
func (s *side) connect(t testing.TB, peer netip.AddrPort) net.PacketConn {
	t.Helper()
	if err := s.tx.Config(dtlstx.Config{Destination: peer, Local: s.port}); err != nil {
		t.Fatal(err)
	}
	if shared, _ := s.tx.SharesSocket(); !shared {
		t.Fatal("DTLS[tx] does not send from the VMP[rx] port")
	}
	pc, err := dtlstx.NewPacketConn(s.rx, s.tx)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// firstRecord waits for the first DTLS record to arrive and returns it and
// its source: a server learns its peer's address this way.
func (s *side) firstRecord(t testing.TB, limit time.Duration) ([]byte, netip.AddrPort) {
	t.Helper()
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	buf := make([]byte, 4096)
	for {
		n, src, err := s.rx.GetPacket(buf)
		if err == nil {
			return buf[:n], src
		}
		if !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal("no DTLS record arrived")
		}
	}
}

// replay returns first from its first ReadFrom, then reads pc.
type replay struct {
	net.PacketConn
	mu    sync.Mutex
	first []byte
	src   net.Addr
}

func (r *replay) ReadFrom(p []byte) (int, net.Addr, error) {
	r.mu.Lock()
	if r.first != nil {
		n := copy(p, r.first)
		r.first = nil
		r.mu.Unlock()
		return n, r.src, nil
	}
	r.mu.Unlock()
	return r.PacketConn.ReadFrom(p)
}

func handshake(t testing.TB, c *dtls.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

func readString(t testing.TB, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testutil.Patience))
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("reading %q, got %q: %v", want, got.String(), err)
		}
		got.Write(buf[:n])
	}
}

// TestPionOverPassThrough: two mediaport sides in pass-through mode, each
// running pion/dtls over its DTLS[rx]/DTLS[tx] pair, handshake and
// exchange data.
func TestPionOverPassThrough(t *testing.T) {
	mod := openModule(t)
	a, b := newSide(t, mod), newSide(t, mod)
	cert := testutil.SelfSignedCert(t, "server")
	pcA := a.connect(t, b.port)
	pcB := b.connect(t, a.port)
	type result struct {
		c   *dtls.Conn
		err error
	}
	srvc := make(chan result, 1)
	go func() {
		c, err := dtls.ServerWithOptions(pcB, net.UDPAddrFromAddrPort(a.port), dtls.WithCertificates(cert.TLS))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			err = c.HandshakeContext(ctx)
			cancel()
		}
		srvc <- result{c, err}
	}()
	client, err := dtls.ClientWithOptions(pcA, net.UDPAddrFromAddrPort(b.port), dtls.WithInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	handshake(t, client)
	r := <-srvc
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	defer r.c.Close()
	client.Write([]byte("ping over mediaport"))
	readString(t, r.c, "ping over mediaport")
	r.c.Write([]byte("pong over mediaport"))
	readString(t, client, "pong over mediaport")
}

func TestPacketConnDeadlinesAndClose(t *testing.T) {
	mod := openModule(t)
	a := newSide(t, mod)
	pc := a.connect(t, netip.MustParseAddrPort("127.0.0.1:9"))
	// A deadline set in the past from another goroutine unblocks ReadFrom.
	errc := make(chan error, 1)
	go func() {
		_, _, err := pc.ReadFrom(make([]byte, 100))
		errc <- err
	}()
	testutil.WaitBlocked(t, "dtlstx.(*packetConn).ReadFrom")
	pc.SetReadDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-errc:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("ReadFrom after a past deadline: %v, want a timeout", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("a past read deadline did not unblock ReadFrom")
	}
	pc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := pc.ReadFrom(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom with a deadline: %v", err)
	}
	pc.SetReadDeadline(time.Time{})
	if _, err := pc.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}); err == nil {
		t.Fatal("WriteTo another destination succeeded")
	}
	go func() {
		_, _, err := pc.ReadFrom(make([]byte, 100))
		errc <- err
	}()
	testutil.WaitBlocked(t, "dtlstx.(*packetConn).ReadFrom")
	pc.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom after Close: %v", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("Close did not unblock ReadFrom")
	}
	// The pair keeps running after the PacketConn is closed.
	if st, _ := a.rx.Status(); st != dtlsrx.Running {
		t.Fatalf("DTLS[rx] after PacketConn.Close: %v", st)
	}
}

// rtpFlood sends n RTP packets to v's port and closes done when it is
// done. It keeps at most 32 packets in flight beyond those v has queued
// (or dropped as overrun), well within the socket buffer, so that the
// kernel drops none however late v's receiver runs.
func rtpFlood(t testing.TB, v *vmprx.VMPRx, n int, done chan<- struct{}) {
	s := listen(t, lo4)
	port, _, _ := v.Ports()
	queued := func() uint64 { st, _ := v.Stats(); return st.RTP + st.Overrun }
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			for uint64(i) > queued()+32 {
				time.Sleep(100 * time.Microsecond)
			}
			p := make([]byte, 172)
			p[0], p[1] = 0x80, 0
			binary.BigEndian.PutUint16(p[2:], uint16(i))
			binary.BigEndian.PutUint32(p[8:], 0xfeed)
			s.WriteTo(p, port)
		}
	}()
}

func drainRTP(t testing.TB, v *vmprx.VMPRx, want int) {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(testutil.Patience)
	got := 0
	for got < want {
		pkt, err := v.GetPacket(buf)
		if err == nil {
			if pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:]) != uint16(got) {
				t.Fatalf("RTP %d: %+v seq %d", got, pkt, binary.BigEndian.Uint16(buf[2:]))
			}
			got++
			continue
		}
		if time.Now().After(deadline) {
			st, _ := v.Stats()
			t.Fatalf("%d of %d RTP packets arrived; stats %+v", got, want, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOpenSSLClientToPassThrough: openssl s_client -dtls1_2 connects to the
// VMP[rx]'s RTP port; the application's pion/dtls server runs over the
// DTLS[rx]/DTLS[tx] pair; data crosses both ways; RTP sent to the same port
// during the handshake all lands in the VMP[rx] queue.
func TestOpenSSLClientToPassThrough(t *testing.T) {
	testutil.Peer(t, "openssl")
	mod := openModule(t)
	a := newSide(t, mod)
	cert := testutil.SelfSignedCert(t, "mediaport")
	rtpDone := make(chan struct{})
	rtpFlood(t, a.v, 300, rtpDone)
	cli := testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", a.port.String())
	first, peer := a.firstRecord(t, testutil.Patience)
	pc := a.connect(t, peer)
	srv, err := dtls.ServerWithOptions(&replay{PacketConn: pc, first: first, src: net.UDPAddrFromAddrPort(peer)},
		net.UDPAddrFromAddrPort(peer), dtls.WithCertificates(cert.TLS))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	handshake(t, srv)
	if !cli.WaitOutput("Cipher is", testutil.Patience) {
		t.Fatalf("s_client did not report a cipher:\n%s", cli.Output())
	}
	fmt.Fprintln(cli.Stdin, "hello from openssl")
	readString(t, srv, "hello from openssl")
	srv.Write([]byte("hello from mediaport\n"))
	if !cli.WaitOutput("hello from mediaport", testutil.Patience) {
		t.Fatalf("s_client did not print our data:\n%s", cli.Output())
	}
	<-rtpDone
	drainRTP(t, a.v, 300)
}

// TestPassThroughClientToOpenSSLServer: mediaport's side is the client
// (pion/dtls over the pair, from the VMP[rx] port) against openssl
// s_server -dtls1_2.
func TestPassThroughClientToOpenSSLServer(t *testing.T) {
	testutil.Peer(t, "openssl")
	mod := openModule(t)
	a := newSide(t, mod)
	cert := testutil.SelfSignedCert(t, "openssl")
	port := testutil.FreeUDPPort(t)
	srvAddr := netip.AddrPortFrom(lo4, port)
	srvProc := testutil.StartProc(t, "openssl", "s_server", "-dtls1_2", "-accept", srvAddr.String(),
		"-cert", cert.CertPath, "-key", cert.KeyPath)
	if !srvProc.WaitOutput("ACCEPT", testutil.Patience) {
		t.Fatalf("s_server did not start:\n%s", srvProc.Output())
	}
	rtpDone := make(chan struct{})
	rtpFlood(t, a.v, 300, rtpDone)
	pc := a.connect(t, srvAddr)
	cl, err := dtls.ClientWithOptions(pc, net.UDPAddrFromAddrPort(srvAddr), dtls.WithInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	handshake(t, cl)
	if !srvProc.WaitOutput("CIPHER is", testutil.Patience) {
		t.Fatalf("s_server did not report a cipher:\n%s", srvProc.Output())
	}
	cl.Write([]byte("hello from mediaport\n"))
	if !srvProc.WaitOutput("hello from mediaport", testutil.Patience) {
		t.Fatalf("s_server did not print our data:\n%s", srvProc.Output())
	}
	io.WriteString(srvProc.Stdin, "hello from openssl\n")
	readString(t, cl, "hello from openssl")
	<-rtpDone
	drainRTP(t, a.v, 300)
}
