package udp

import (
	"encoding/binary"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readerSys is the recvmmsg state of a Reader: headers, iovecs and source
// address buffers kept between calls, and the function given to
// RawConn.Read bound once so that a Read allocates nothing.
type readerSys struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	fn    func(fd uintptr) bool // waits when nothing is queued
	tryFn func(fd uintptr) bool // never waits
	n     int
	errno syscall.Errno
}

func (s *readerSys) init(r *Reader) {
	n := len(r.Msgs)
	s.hdrs = make([]unix.Mmsghdr, n)
	s.iovs = make([]unix.Iovec, n)
	s.names = make([]unix.RawSockaddrInet6, n)
	s.rc, _ = r.conn.c.SyscallConn()
	s.fn = s.recvmmsg
	s.tryFn = s.tryRecvmmsg
}

func (s *readerSys) tryRecvmmsg(fd uintptr) bool {
	if !s.recvmmsg(fd) {
		s.n, s.errno = 0, 0 // nothing queued: report it instead of waiting
	}
	return true
}

func (s *readerSys) recvmmsg(fd uintptr) bool {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd,
		uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), 0, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false // wait for the socket to become readable
	}
	s.n, s.errno = int(n), errno
	return true
}

func (s *readerSys) read(r *Reader, wait bool) (int, error) {
	if s.rc == nil {
		return 0, os.ErrInvalid
	}
	for i := range r.Msgs {
		b := r.Msgs[i].Buf
		h := &s.hdrs[i]
		*h = unix.Mmsghdr{}
		if len(b) > 0 {
			s.iovs[i].Base = &b[0]
		} else {
			s.iovs[i].Base = nil
		}
		s.iovs[i].SetLen(len(b))
		h.Hdr.Iov = &s.iovs[i]
		h.Hdr.SetIovlen(1)
		h.Hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	s.n, s.errno = 0, 0
	fn := s.fn
	if !wait {
		fn = s.tryFn
	}
	if err := s.rc.Read(fn); err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", s.errno)
	}
	for i := 0; i < s.n; i++ {
		m := &r.Msgs[i]
		h := &s.hdrs[i]
		m.N = int(h.Len)
		m.Trunc = h.Hdr.Flags&unix.MSG_TRUNC != 0
		if m.N > len(m.Buf) {
			m.N = len(m.Buf)
		}
		m.Src = sockaddrToAddrPort(&s.names[i], h.Hdr.Namelen)
	}
	return s.n, nil
}

// sockaddrToAddrPort decodes a sockaddr_in or sockaddr_in6 without
// allocating.
func sockaddrToAddrPort(sa *unix.RawSockaddrInet6, namelen uint32) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		if namelen < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}
