//go:build unix && !linux

package udp

import (
	"net/netip"
	"os"
	"syscall"
)

// readFD reads one datagram from the non-blocking descriptor, without the
// poller: 0 when none is queued.
func (s *readerSys) readFD(r *Reader, fd int) (int, error) {
	if fd < 0 {
		return 0, os.ErrInvalid
	}
	m := &r.Msgs[0]
	n, from, err := syscall.Recvfrom(fd, m.Buf, 0)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("recvfrom", err)
	}
	m.N, m.Trunc, m.Seg = n, false, 0
	switch sa := from.(type) {
	case *syscall.SockaddrInet4:
		m.Src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		m.Src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	default:
		m.Src = netip.AddrPort{}
	}
	return 1, nil
}
