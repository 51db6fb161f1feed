package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
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
	r     *Reader
	fn    func(fd uintptr) bool // waits when nothing is queued
	tryFn func(fd uintptr) bool // never waits
	// holdFn waits, and enters the gate for each attempt: it returns
	// holding it when it read datagrams.
	holdFn func(fd uintptr) bool
	// pollFD is the socket's descriptor for Poll, which holds the Gate
	// instead of a reference (see Reader.Close); -1 once closed.
	pollFD    int
	gate      *Gate         // given to ReadHolding; used by holdFn only
	lessee    lessee        // the receive goroutine's: used by holdFn and readHolding only
	holdErrno syscall.Errno // the error of holdFn's last attempt, read without the gate
	namelen   uint32        // recvfrom's address length (a field: no escape per call)
	oob       []byte        // GRO: groControlLen bytes per slot
	n         int
	errno     syscall.Errno
}

func (s *readerSys) init(r *Reader) {
	n := len(r.Msgs)
	s.hdrs = make([]unix.Mmsghdr, n)
	s.iovs = make([]unix.Iovec, n)
	s.names = make([]unix.RawSockaddrInet6, n)
	s.rc, _ = r.conn.c.SyscallConn()
	s.r = r
	s.fn = s.recvmmsg
	s.tryFn = s.tryRecvmmsg
	s.holdFn = s.holdRecvmmsg
	s.pollFD = -1
	if s.rc != nil {
		s.rc.Control(func(fd uintptr) { s.pollFD = int(fd) })
	}
}

func (s *readerSys) holdRecvmmsg(fd uintptr) bool {
	if !s.gate.enter(&s.lessee) {
		// Step back: wait for the next datagram or the lease timer.
		if !s.lessee.armed {
			s.lessee.armed = true
			s.r.conn.c.SetReadDeadline(time.Now().Add(s.gate.leaseTime()))
		}
		return false
	}
	s.setup(s.r) // the slots may have changed while another goroutine read
	if !s.recvmmsg(fd) {
		s.gate.mu.Unlock()
		return false
	}
	if s.errno != 0 || s.n <= 0 {
		// Copy the error out before another goroutine can read into s.
		s.holdErrno, s.errno = s.errno, 0
		s.gate.mu.Unlock()
	}
	return true
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
	if len(s.hdrs) == 1 && s.oob == nil { // recvfrom reports no GRO
		return s.recvfrom(fd)
	}
	syscall6 := unix.RawSyscall6
	if s.oob != nil {
		syscall6 = unix.Syscall6 // GRO: up to GROBufSize bytes per slot to copy
	}
	n, _, errno := syscall6(unix.SYS_RECVMMSG, fd,
		uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), 0, 0, 0)
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
		uintptr(unsafe.Pointer(iov.Base)), uintptr(iov.Len), unix.MSG_TRUNC, // MSG_TRUNC: return the full length
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
	if uint64(n) > iov.Len {
		h.Len, h.Hdr.Flags = uint32(iov.Len), unix.MSG_TRUNC
	}
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
			h.Hdr.Control = &s.oob[i*groControlLen]
			h.Hdr.SetControllen(groControlLen)
		}
	}
	s.n, s.errno = 0, 0
}

func (s *readerSys) read(r *Reader, wait bool) (int, error) {
	if s.rc == nil {
		return 0, os.ErrInvalid
	}
	s.setup(r)
	fn := s.fn
	if !wait {
		fn = s.tryFn
	}
	if err := s.rc.Read(fn); err != nil {
		return 0, err
	}
	return s.finish(r)
}

func (s *readerSys) readHolding(r *Reader, g *Gate) (int, error) {
	if s.rc == nil {
		return 0, os.ErrInvalid
	}
	// Only s.gate and s.holdErrno are touched without the gate: the other
	// fields may be in use by a goroutine in Poll.
	s.gate, s.holdErrno = g, 0
	for {
		err := s.rc.Read(s.holdFn)
		if err == nil {
			break
		}
		if !s.lessee.armed || !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err // holdFn returned false (gate not held), or never ran
		}
		// The lease timer fired: look at the gate again.
		s.lessee.armed, s.lessee.expired = false, true
		if err := s.r.conn.c.SetReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
	if s.holdErrno != 0 {
		return 0, os.NewSyscallError("recvmmsg", s.holdErrno) // gate not held
	}
	return s.finish(r)
}

func (s *readerSys) poll(r *Reader) (int, error) {
	if s.rc == nil {
		return 0, os.ErrInvalid
	}
	if s.pollFD < 0 {
		return 0, net.ErrClosed
	}
	s.setup(r)
	s.tryRecvmmsg(uintptr(s.pollFD))
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
		m.Seg = 0
		if s.oob != nil && h.Hdr.Controllen > 0 {
			m.Seg = groSize(s.oob[i*groControlLen : i*groControlLen+min(int(h.Hdr.Controllen), groControlLen)])
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

func (s *readerSys) enableGRO(r *Reader) error {
	if s.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("udp: UDP_GRO: %w (%w)", errors.ErrUnsupported, serr)
	}
	s.oob = make([]byte, len(r.Msgs)*groControlLen)
	return nil
}

// close closes the socket with g held, so that no Poll is using pollFD.
func (s *readerSys) close(r *Reader, g *Gate) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	s.pollFD = -1
	return r.conn.Close()
}
