package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readerSys is the recvmmsg state of a Reader: headers, iovecs and source
// address buffers kept between calls, and the functions given to
// RawConn.Read bound once so that a Read allocates nothing.
type readerSys struct {
	hdrs    []unix.Mmsghdr
	iovs    []unix.Iovec
	names   []unix.RawSockaddrInet6
	fn      func(fd uintptr) bool // waits when nothing is queued
	tryFn   func(fd uintptr) bool // never waits
	namelen uint32                // recvfrom's address length (a field: no escape per call)
	oob     []byte                // control buffers: oobLen bytes per slot (GRO, drop count)
	oobLen  int
	gro     bool
	meta    bool // EnableMeta: a one-slot Reader reads every datagram with recvmsg
	plain   int  // one slot, control buffers: reads left before the next with recvmsg (recvOne)
	n       int
	errno   syscall.Errno
}

func (s *readerSys) init(r *Reader) {
	n := len(r.Msgs)
	s.hdrs = make([]unix.Mmsghdr, n)
	s.iovs = make([]unix.Iovec, n)
	s.names = make([]unix.RawSockaddrInet6, n)
	s.fn = s.recvmmsg
	s.tryFn = s.tryRecvmmsg
}

func (s *readerSys) tryRecvmmsg(fd uintptr) bool {
	if !s.recvmmsg(fd) {
		s.n, s.errno = 0, 0 // nothing queued: report it instead of waiting
	}
	return true
}

// recvmmsg reads into the slots with one system call. The receive system
// calls never block — the socket is non-blocking, and waiting for it is
// the netpoller's job (RawConn.Read) — so they go through RawSyscall,
// which leaves out the scheduler's bookkeeping around a system call
// (entersyscall and exitsyscall: some 7 % of a one-datagram read). What
// that bookkeeping buys, handing the P to another thread while the call
// lasts, is not worth it for a call that copies what is queued, at most a
// batch of slots, and returns; except with GRO, whose slots hold up to
// 64 KiB each.
func (s *readerSys) recvmmsg(fd uintptr) bool {
	if len(s.hdrs) == 1 && !s.gro {
		switch {
		case s.oob == nil:
			return s.recvfrom(fd)
		case s.meta:
			return s.recvmsg(fd)
		}
		return s.recvOne(fd)
	}
	syscall6 := unix.RawSyscall6
	if s.gro {
		syscall6 = unix.Syscall6 // GRO: up to GROBufSize bytes per slot to copy
	}
	n, _, errno := syscall6(unix.SYS_RECVMMSG, fd,
		uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false // wait for the socket to become readable
	}
	s.n, s.errno = int(n), errno
	return true
}

// recvfrom is recvmmsg for a one-slot Reader: recvfrom(2) costs less than
// recvmmsg(2) of one message. It fills hdrs[0] as recvmmsg would.
func (s *readerSys) recvfrom(fd uintptr) bool {
	iov := &s.iovs[0]
	s.namelen = unix.SizeofSockaddrInet6
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, // RawSyscall: see recvmmsg
		uintptr(unsafe.Pointer(iov.Base)), uintptr(iov.Len), unix.MSG_TRUNC|unix.MSG_DONTWAIT, // MSG_TRUNC: return the full length
		uintptr(unsafe.Pointer(&s.names[0])), uintptr(unsafe.Pointer(&s.namelen)))
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	if errno != 0 {
		s.n, s.errno = 0, errno
		return true
	}
	h := &s.hdrs[0]
	h.Len, h.Hdr.Namelen, h.Hdr.Flags = uint32(n), s.namelen, 0
	h.Hdr.SetControllen(0) // no control messages (the drop count)
	if uint64(n) > iov.Len {
		h.Len, h.Hdr.Flags = uint32(iov.Len), unix.MSG_TRUNC
	}
	s.n, s.errno = 1, 0
	return true
}

// ctlEvery is how often a one-slot Reader that counts drops reads with
// recvmsg while the socket holds datagrams (recvOne).
const ctlEvery = 32

// recvOne is recvmmsg for a one-slot Reader with control buffers (the
// drop count). recvmsg(2), which takes control messages, costs more than
// recvfrom(2), which cannot: some 170 ns more a datagram (15 %) measured
// here. Since the drop count is cumulative, a sample of the datagrams
// suffices: recvOne reads with recvmsg the first datagram after the
// socket was found empty (or the Reader given another socket), then one
// in ctlEvery, and with recvfrom the others, whose Message.Drops is
// then 0. Drops thus show with the first datagram after a wait, or up to
// ctlEvery datagrams late while the socket never empties.
func (s *readerSys) recvOne(fd uintptr) bool {
	if s.plain > 0 {
		ok := s.recvfrom(fd)
		if !ok {
			s.plain = 0 // found empty
		} else if s.n == 1 {
			s.plain--
		}
		return ok
	}
	ok := s.recvmsg(fd)
	if ok && s.n == 1 {
		s.plain = ctlEvery - 1
	}
	return ok
}

// recvmsg is recvmmsg of one message, for a one-slot Reader that takes
// control messages (the drop count), which recvfrom cannot. It fills
// hdrs[0] as recvmmsg would.
func (s *readerSys) recvmsg(fd uintptr) bool {
	h := &s.hdrs[0]
	n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, fd, // RawSyscall: see recvmmsg
		uintptr(unsafe.Pointer(&h.Hdr)), unix.MSG_DONTWAIT)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	if errno != 0 {
		s.n, s.errno = 0, errno
		return true
	}
	h.Len = uint32(n)
	s.n, s.errno = 1, 0
	return true
}

// setup points the headers at the slots' buffers.
func (s *readerSys) setup(r *Reader) {
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
		if s.oob != nil {
			h.Hdr.Control = &s.oob[i*s.oobLen]
			h.Hdr.SetControllen(s.oobLen)
		}
	}
	s.n, s.errno = 0, 0
}

func (s *readerSys) read(r *Reader, wait bool) (int, error) {
	if r.conn == nil || r.conn.rc == nil {
		return 0, os.ErrInvalid
	}
	s.setup(r)
	fn := s.fn
	if !wait {
		fn = s.tryFn
	}
	if err := r.conn.rc.Read(fn); err != nil {
		return 0, err
	}
	return s.finish(r)
}

func (s *readerSys) readFD(r *Reader, fd int) (int, error) {
	if fd < 0 {
		return 0, os.ErrInvalid
	}
	s.setup(r)
	s.tryRecvmmsg(uintptr(fd))
	return s.finish(r)
}

// finish fills the slots from the headers after a recvmmsg.
func (s *readerSys) finish(r *Reader) (int, error) {
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
		m.Seg, m.Drops = 0, 0
		if s.oob != nil && h.Hdr.Controllen > 0 {
			seg, drops := parseControl(s.oob[i*s.oobLen:i*s.oobLen+min(int(h.Hdr.Controllen), s.oobLen)], &m.Meta)
			if s.gro {
				m.Seg = seg
			}
			m.Drops = drops
		} else {
			m.Meta = Meta{}
		}
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

// reset forgets what the reader knew of its socket.
func (s *readerSys) reset() { s.plain = 0 }

func (s *readerSys) enableGRO(r *Reader) error {
	s.gro = true
	s.growControl(r, groControlLen)
	return nil
}

func (s *readerSys) enableMeta(r *Reader) error {
	s.meta = true
	s.growControl(r, metaControlLen)
	return nil
}

func (s *readerSys) enableDropCount(r *Reader) error {
	s.growControl(r, dropControlLen)
	return nil
}

// growControl makes each slot's control buffer at least n bytes.
func (s *readerSys) growControl(r *Reader, n int) {
	if s.oobLen < n {
		s.oobLen = n
		s.oob = make([]byte, len(r.Msgs)*n)
	}
}

func enableGRO(u *Conn) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	if err := u.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("udp: UDP_GRO: %w (%w)", errors.ErrUnsupported, serr)
	}
	return nil
}

func waitReadable(u *Conn) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	if u.peekFn == nil {
		u.peekFn = u.peek
	}
	u.peekErr = 0
	if err := u.rc.Read(u.peekFn); err != nil {
		return err
	}
	if u.peekErr != 0 {
		return os.NewSyscallError("recvfrom", u.peekErr)
	}
	return nil
}

// peek looks at the next datagram without taking it, into a one-byte
// buffer: false (the netpoller waits) while nothing is queued.
func (u *Conn) peek(fd uintptr) bool {
	_, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
		uintptr(unsafe.Pointer(&u.peekBuf[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	u.peekErr = errno
	return true
}
