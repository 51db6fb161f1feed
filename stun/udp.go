package stun

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/mediaport/mediaport"
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
}

// ListenUDP binds a UDP socket on local (port 0: any) for a session.
func ListenUDP(local netip.AddrPort) (*UDPTransport, error) {
	c, err := udp.Listen(local)
	if err != nil {
		return nil, err
	}
	return &UDPTransport{conn: c}, nil
}

// LocalAddr returns the bound address (the zero value on a nil or zero
// UDPTransport).
func (u *UDPTransport) LocalAddr() netip.AddrPort {
	if u == nil || u.conn == nil {
		return netip.AddrPort{}
	}
	return u.conn.LocalAddr()
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
// until Close. On a nil or zero UDPTransport, or with a nil s, it does
// nothing.
func (u *UDPTransport) Serve(s *Session) {
	if u == nil || u.conn == nil || s == nil {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, src, err := u.conn.UDPConn().ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			s.OnRxPkt(buf[:n], IsDatagram, nil, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
		}
	}()
}

// Close closes the socket and waits for Serve's goroutine.
func (u *UDPTransport) Close() error {
	if u == nil || u.conn == nil {
		return mediaport.ErrNilHandle
	}
	var err error
	u.once.Do(func() { err = u.conn.Close() })
	u.wg.Wait()
	return err
}
