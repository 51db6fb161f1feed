package association_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
)

const icePass = "server-password-0123456789"

// movingPeer is the far end of a WebRTC transport as a test drives it: two
// UDP sockets on loopback, ICE checks sent from either, and the
// net.PacketConn a pion/dtls client runs over, which sends from the
// socket the peer's ICE selected (cur) and reads DTLS from both.
type movingPeer struct {
	socks  [2]*net.UDPConn
	server *net.UDPAddr
	cur    atomic.Int32
	moved  atomic.Bool
	// afterMove counts the handshake records (content type 22) the client
	// sent after the move.
	afterMove atomic.Int32
	lastSock  atomic.Int32 // the socket the last DTLS datagram came in on

	dtlsIn chan []byte
	stunIn [2]chan []byte

	mu       sync.Mutex
	deadline time.Time
	dlChange chan struct{} // closed when the deadline changes

	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newMovingPeer(t *testing.T, server netip.AddrPort) *movingPeer {
	t.Helper()
	p := &movingPeer{server: net.UDPAddrFromAddrPort(server), dtlsIn: make(chan []byte, 64),
		dlChange: make(chan struct{}), closed: make(chan struct{})}
	for i := range p.socks {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p.socks[i] = c
		p.stunIn[i] = make(chan []byte, 16)
		p.wg.Add(1)
		go p.read(i)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *movingPeer) addr(i int) netip.AddrPort {
	return p.socks[i].LocalAddr().(*net.UDPAddr).AddrPort()
}

// read demultiplexes what socket i receives: STUN answers to stunIn[i],
// DTLS to the client.
func (p *movingPeer) read(i int) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := p.socks[i].Read(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		if n > 0 && b[0] < 4 {
			select {
			case p.stunIn[i] <- b:
			default:
			}
			continue
		}
		select {
		case p.dtlsIn <- append(b, byte(i)): // the socket rides at the end
		case <-p.closed:
			return
		}
	}
}

// check sends an authenticated Binding request from socket i, as a
// controlling agent, again every 200 ms until the success answer comes.
func (p *movingPeer) check(t *testing.T, i int, useCandidate bool) {
	t.Helper()
	setters := []pionstun.Setter{pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("srvu:peer"),
		pionstun.RawAttribute{Type: pionstun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}
	if useCandidate {
		setters = append(setters, pionstun.RawAttribute{Type: pionstun.AttrUseCandidate})
	}
	req := pionstun.MustBuild(append(setters, pionstun.NewShortTermIntegrity(icePass), pionstun.Fingerprint)...)
	deadline := time.After(testutil.Patience)
	for {
		if _, err := p.socks[i].WriteTo(req.Raw, p.server); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-p.stunIn[i]:
			res := &pionstun.Message{Raw: b}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			if res.Type != pionstun.BindingSuccess {
				t.Fatalf("check from socket %d: %v", i, res)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("check from socket %d not answered", i)
		}
	}
}

// move makes the client send from socket i.
func (p *movingPeer) move(i int) {
	p.cur.Store(int32(i))
	p.moved.Store(true)
}

func (p *movingPeer) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		p.mu.Lock()
		dl, change := p.deadline, p.dlChange
		p.mu.Unlock()
		var expire <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer := time.NewTimer(wait)
			defer timer.Stop()
			expire = timer.C
		}
		select {
		case d := <-p.dtlsIn:
			p.lastSock.Store(int32(d[len(d)-1]))
			return copy(b, d[:len(d)-1]), p.server, nil
		case <-expire:
			return 0, nil, os.ErrDeadlineExceeded
		case <-change:
		case <-p.closed:
			return 0, nil, net.ErrClosed
		}
	}
}

func (p *movingPeer) WriteTo(b []byte, _ net.Addr) (int, error) {
	if p.moved.Load() && len(b) > 0 && b[0] == 22 {
		p.afterMove.Add(1)
	}
	return p.socks[p.cur.Load()].WriteTo(b, p.server)
}

func (p *movingPeer) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.deadline = t
	close(p.dlChange)
	p.dlChange = make(chan struct{})
	p.mu.Unlock()
	return nil
}

func (p *movingPeer) SetDeadline(t time.Time) error    { return p.SetReadDeadline(t) }
func (p *movingPeer) SetWriteDeadline(time.Time) error { return nil }
func (p *movingPeer) LocalAddr() net.Addr              { return p.socks[p.cur.Load()].LocalAddr() }

// Close closes both sockets and waits for their readers (pion calls it
// when its Conn closes).
func (p *movingPeer) Close() error {
	p.once.Do(func() {
		close(p.closed)
		for _, c := range p.socks {
			c.Close()
		}
	})
	p.wg.Wait()
	return nil
}

// readPion reads one application-data record from c.
func readPion(t *testing.T, c *dtls.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testutil.Patience))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("peer Read: %v", err)
	}
	return string(buf[:n])
}

// TestDTLSBoundToICE: a VMP[rx] running an ICE-lite agent with a learning
// DTLS server association, and a pion/dtls client behind a peer with two
// sockets, as a browser. The ClientHello sent before any check is dropped
// and counted; after one successful check (no USE-CANDIDATE yet, as
// Chrome does) the retransmitted ClientHello is taken and the handshake
// completes. When the peer nominates its second socket, checked in
// between, the association's peer and its DTLS[tx]'s destination follow
// it at once; data flows both ways from and to the second socket, and the
// client sends no handshake record after the move.
func TestDTLSBoundToICE(t *testing.T) {
	mod := certModule(t)
	s := newSide(t, mod)
	lite, err := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "srvu", LocalPassword: icePass,
		OnSendMsg: s.v.SendSTUN})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if err := s.v.AttachSTUN(lite.Session()); err != nil {
		t.Fatal(err)
	}
	if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil { // no destination: the server learns it
		t.Fatal(err)
	}
	if s.a, err = association.Bind(s.rx, s.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}}); err != nil {
		t.Fatal(err)
	}

	peer := newMovingPeer(t, s.port)
	type result struct {
		c   *dtls.Conn
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	go func() {
		c, err := dtls.ClientWithOptions(peer, peer.server, dtls.WithCertificates(newCert(t).TLS), dtls.WithInsecureSkipVerify(true))
		if err == nil {
			if err = c.HandshakeContext(ctx); err != nil {
				c.Close()
			}
		}
		done <- result{c, err}
	}()

	// Before any check: the ClientHello is dropped at the port.
	testutil.Eventually(t, testutil.Patience, func() bool {
		st, _ := s.v.Stats()
		return st.DTLSUnchecked >= 1
	}, "no ClientHello dropped before the check")
	if p := s.a.Peer(); p.IsValid() || s.a.Stats().Records != 0 {
		t.Fatalf("the association took DTLS before any check: peer %v, %+v", p, s.a.Stats())
	}

	// One check from socket 0, no nomination: the retransmitted
	// ClientHello gets through.
	peer.check(t, 0, false)
	if st, _ := lite.Status(); st != stun.ICEConnected {
		t.Fatalf("after the first check: %v", st)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("client handshake: %v", r.err)
	}
	client := r.c
	defer client.Close()
	waitEstablished(t, s)
	if s.a.Peer() != peer.addr(0) {
		t.Fatalf("peer %v, want socket 0 %v", s.a.Peer(), peer.addr(0))
	}
	if _, err := client.Write([]byte("from socket 0")); err != nil {
		t.Fatal(err)
	}
	if got := s.read(t, testutil.Patience); got != "from socket 0" {
		t.Fatalf("read %q", got)
	}
	if err := s.tx.SendPacket([]byte("to socket 0")); err != nil {
		t.Fatal(err)
	}
	if got := readPion(t, client); got != "to socket 0" || peer.lastSock.Load() != 0 {
		t.Fatalf("peer read %q on socket %d", got, peer.lastSock.Load())
	}

	// Nominate socket 0, validate socket 1, then nominate it.
	peer.check(t, 0, true)
	peer.check(t, 1, false)
	if st, _ := lite.Status(); st != stun.ICENominated || s.a.Peer() != peer.addr(0) {
		t.Fatalf("after nominating socket 0 and checking 1: %v, peer %v", st, s.a.Peer())
	}
	peer.check(t, 1, true)
	if st, _ := lite.Status(); st != stun.ICEMoved {
		t.Fatalf("after nominating socket 1: %v, want Moved", st)
	}
	if sel, ok, _ := lite.Selected(); !ok || sel.Remote != peer.addr(1) || !sel.Nominated {
		t.Fatalf("selected %+v", sel)
	}
	// The agent records a check before it answers: the association has
	// moved by the time the peer holds the answer.
	dst, _ := s.tx.Destination()
	if s.a.Peer() != peer.addr(1) || dst != peer.addr(1) || s.a.Stats().Moves != 1 {
		t.Fatalf("after the nomination: peer %v, DTLS[tx] destination %v, want %v; %+v", s.a.Peer(), dst, peer.addr(1), s.a.Stats())
	}

	peer.move(1)
	if err := s.tx.SendPacket([]byte("to socket 1")); err != nil {
		t.Fatal(err)
	}
	if got := readPion(t, client); got != "to socket 1" || peer.lastSock.Load() != 1 {
		t.Fatalf("peer read %q on socket %d, want socket 1", got, peer.lastSock.Load())
	}
	if _, err := client.Write([]byte("from socket 1")); err != nil {
		t.Fatal(err)
	}
	if got := s.read(t, testutil.Patience); got != "from socket 1" {
		t.Fatalf("read %q", got)
	}
	if n := peer.afterMove.Load(); n != 0 {
		t.Fatalf("the client sent %d handshake records after the move", n)
	}
	if st, err := s.a.State(); st != association.Established || err != nil {
		t.Fatalf("association %v %v", st, err)
	}
	if st := s.a.Stats(); st.Foreign != 0 {
		t.Fatalf("records dropped as foreign: %+v", st)
	}

	if err := client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}
