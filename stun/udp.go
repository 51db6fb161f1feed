package stun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/rxloop"
	"github.com/mediaport/mediaport/internal/udp"
)

// UDPTransport runs a session over a UDP socket of its own: Serve reads
// datagrams and gives them to the session (OnRxPkt with IsDatagram), Send is
// the session's OnSendMsg. For a media port use vmprx.VMPRx.AttachSTUN and
// SendSTUN instead.
type UDPTransport struct {
	conn *udp.Conn
	once sync.Once
	wg   sync.WaitGroup
	quit chan struct{} // closed by Close: ends a backoff
	err  atomic.Pointer[error]

	serving atomic.Bool // Serve was called: one reader per socket
}

// ListenUDP binds a UDP socket on local (port 0: any) for a session.
func ListenUDP(local netip.AddrPort) (*UDPTransport, error) {
	c, err := udp.Listen(local)
	if err != nil {
		return nil, err
	}
	return &UDPTransport{conn: c, quit: make(chan struct{})}, nil
}

// LocalAddr returns the bound address (the zero value on a nil or zero
// UDPTransport).
func (u *UDPTransport) LocalAddr() netip.AddrPort {
	if u == nil || u.conn == nil {
		return netip.AddrPort{}
	}
	return u.conn.LocalAddr()
}

// SetReadBuffer asks the kernel for a receive buffer of n bytes on the
// socket (SO_RCVBUF, or SO_RCVBUFFORCE beyond net.core.rmem_max where the
// process may) and returns the size the socket reports afterwards (on
// Linux twice what was granted for data; an error matching
// errors.ErrUnsupported elsewhere, after the buffer was set). n must be
// positive and at most 1 GiB (mediaport.ErrInvalidArgument). Call it
// before Serve.
func (u *UDPTransport) SetReadBuffer(n int) (int, error) {
	if u == nil || u.conn == nil {
		return 0, mediaport.ErrNilHandle
	}
	if n <= 0 || n > udp.MaxReadBuffer {
		return 0, fmt.Errorf("stun: %w: ReadBuffer %d", mediaport.ErrInvalidArgument, n)
	}
	got, err := u.conn.SetReadBuffer(n)
	if err != nil {
		return 0, fmt.Errorf("stun: %w", err)
	}
	return got, nil
}

// Send is an OnSendMsg: it sends pkt to dst.
func (u *UDPTransport) Send(_ *Session, _ any, pkt []byte, dst netip.AddrPort) error {
	if u == nil || u.conn == nil {
		return mediaport.ErrNilHandle
	}
	_, err := u.conn.WriteTo(pkt, dst)
	return err
}

// Serve starts the goroutine that feeds s with what the socket receives,
// until Close. On a persistent read error it backs off on the session's
// clock and, after a few in a row, stops reading; Err then returns the
// error. Only the first Serve starts a reader (a socket has one); on a nil
// or zero UDPTransport, or with a nil s, Serve does nothing.
func (u *UDPTransport) Serve(s *Session) {
	if u == nil || u.conn == nil || s == nil || !u.serving.CompareAndSwap(false, true) {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		buf := make([]byte, 65536)
		var bo rxloop.Backoff
		for {
			n, src, err := u.conn.UDPConn().ReadFromUDPAddrPort(buf)
			if err != nil {
				switch {
				case errors.Is(err, net.ErrClosed):
					return
				case udp.Transient(err): // an ICMP error, gone once read
					continue
				}
				d, stop := bo.Fail()
				if stop {
					err = fmt.Errorf("stun: receive: %w", err)
					u.err.Store(&err)
					return
				}
				if !clock.Sleep(s.cfg.Clock.AfterFunc, d, u.quit) {
					return
				}
				continue
			}
			bo.OK()
			s.OnRxPkt(buf[:n], IsDatagram, nil, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
		}
	}()
}

// Err returns the error that made Serve's goroutine stop reading, or nil.
func (u *UDPTransport) Err() error {
	if u == nil || u.conn == nil {
		return mediaport.ErrNilHandle
	}
	if p := u.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close closes the socket and waits for Serve's goroutine.
func (u *UDPTransport) Close() error {
	if u == nil || u.conn == nil {
		return mediaport.ErrNilHandle
	}
	var err error
	u.once.Do(func() {
		close(u.quit)
		err = u.conn.Close()
	})
	u.wg.Wait()
	return err
}
