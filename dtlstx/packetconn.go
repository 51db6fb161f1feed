package dtlstx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/deadline"
)

// NewPacketConn returns a net.PacketConn over a DTLS[rx] and a configured
// DTLS[tx] in pass-through mode, for running an application's own DTLS
// stack (pion/dtls, say) on a VMP[rx]'s port:
//
//	pc, _ := dtlstx.NewPacketConn(rx, tx)
//	conn, err := dtls.ClientWithOptions(pc, peer, opts...)
//
// ReadFrom returns the records rx receives (from any source: the DTLS stack
// decides which it accepts); WriteTo sends through tx, and only to tx's
// destination (another address is an error). Read deadlines are honoured,
// including a deadline set in the past from another goroutine to cancel a
// blocked read. The PacketConn consumes rx's event: use one or the other.
// Close unblocks reads but leaves rx and tx running: stop and destroy them
// yourself (DTLS stacks close their PacketConn when a handshake fails).
func NewPacketConn(rx *dtlsrx.DTLSRx, tx *DTLSTx) (net.PacketConn, error) {
	ev, err := rx.Event()
	if err != nil {
		return nil, err
	}
	if _, err := tx.Destination(); err != nil {
		return nil, err
	}
	c := &packetConn{rx: rx, tx: tx, ev: ev, closed: make(chan struct{})}
	clk := tx.ep.Module().Clock
	c.rd.Clock, c.wd.Clock = clk, clk // deadlines on the module clock
	return c, nil
}

type packetConn struct {
	rx     *dtlsrx.DTLSRx
	tx     *DTLSTx
	ev     *event.Event
	closed chan struct{}
	once   sync.Once
	rd, wd deadline.Deadline
}

func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		select {
		case <-c.closed:
			return 0, nil, net.ErrClosed
		default:
		}
		done := c.rd.Done()
		select {
		case <-done:
			return 0, nil, os.ErrDeadlineExceeded
		default:
		}
		n, src, err := c.rx.GetPacket(p)
		switch {
		case err == nil:
			return n, net.UDPAddrFromAddrPort(src), nil
		case !errors.Is(err, dtlsrx.ErrNoPacket):
			return n, nil, err
		}
		select {
		case <-c.ev.C():
		case <-c.closed:
		case <-done:
		}
	}
}

func (c *packetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if c.wd.Exceeded() {
		return 0, os.ErrDeadlineExceeded
	}
	dst, err := c.tx.Destination()
	if err != nil {
		return 0, err
	}
	if ua, ok := addr.(*net.UDPAddr); ok && addr != nil {
		if ap := ua.AddrPort(); netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) != dst {
			return 0, fmt.Errorf("dtlstx: packet conn sends only to %v, not %v", dst, addr)
		}
	}
	if err := c.tx.SendPacket(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *packetConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.rd.Stop()
		c.wd.Stop()
	})
	return nil
}

func (c *packetConn) LocalAddr() net.Addr {
	a, err := c.tx.LocalAddr()
	if err != nil {
		return &net.UDPAddr{}
	}
	return net.UDPAddrFromAddrPort(a)
}

func (c *packetConn) SetDeadline(t time.Time) error {
	c.rd.Set(t)
	c.wd.Set(t)
	return nil
}

func (c *packetConn) SetReadDeadline(t time.Time) error  { c.rd.Set(t); return nil }
func (c *packetConn) SetWriteDeadline(t time.Time) error { c.wd.Set(t); return nil }
