package udp

import (
	"errors"
	"net/netip"
	"syscall"
)

// Message is one datagram slot of a Reader. Buf is the buffer the datagram
// is read into; the caller owns it between reads and may replace it (for
// example with a fresh pooled buffer after handing the old one on) before the
// next Read. After a Read, N is the datagram length, Src its source, and
// Trunc reports that the datagram was longer than Buf (its tail is lost).
//
// With EnableGRO, Seg > 0 says that Buf[:N] holds datagrams of Seg bytes
// each (the last may be shorter), all from Src, that the kernel coalesced;
// Segments splits them.
//
// With EnableDropCount on both the Reader and its Conn, Drops is the
// number of datagrams the kernel had dropped on the socket (mostly for
// want of room in its receive buffer) when this one was queued, counted
// since the socket was created, modulo 2^32: the drops column of
// /proc/net/udp at that time. It is 0 when not reported with this
// datagram: while none was dropped; always where the system does not
// count them; and for most datagrams of a one-slot Reader, which takes
// the count with the first datagram after the socket was found empty and
// then with one in 32 (see recvOne in recv_linux.go). The count only
// grows (modulo 2^32), so the latest one reported covers every drop
// before it.
//
// With EnableMeta on the Reader and EnableRecvMeta on its Conn, Meta
// holds the receive time, TTL and TOS the kernel attached to the
// datagram (for a coalesced GRO message, to its first datagram); its
// zero value otherwise.
type Message struct {
	Buf   []byte
	N     int
	Src   netip.AddrPort
	Trunc bool
	Seg   int
	Drops uint32
	Meta  Meta
}

// Segments calls f with each datagram of m, in order: Buf[:N] itself, or
// its Seg-byte pieces when the kernel coalesced several.
func (m *Message) Segments(f func(d []byte)) {
	d := m.Buf[:m.N]
	if m.Seg <= 0 || m.Seg >= len(d) {
		f(d)
		return
	}
	for len(d) > m.Seg {
		f(d[:m.Seg])
		d = d[m.Seg:]
	}
	f(d)
}

// GROBufSize is the slot size that a Reader with EnableGRO needs: a
// coalesced message can be as large as the largest UDP payload.
const GROBufSize = 65536

// Reader reads datagrams from a Conn in batches: on Linux up to len(Msgs)
// per recvmmsg system call, elsewhere one per call. A Reader allocates
// nothing per datagram. It is not safe for concurrent use. Its headers
// and buffers are its own, not the socket's: a Reader may be pooled and
// pointed at another socket with SetConn between reads, so that an idle
// socket holds none.
type Reader struct {
	// Msgs are the slots Read fills; set their Buf before the first Read.
	Msgs []Message
	conn *Conn
	sys  readerSys
}

// NewReader returns a Reader of u (nil: set it later with SetConn) with n
// slots of bufSize-byte buffers.
func NewReader(u *Conn, n, bufSize int) *Reader {
	if n <= 0 {
		n = 1
	}
	r := &Reader{Msgs: make([]Message, n), conn: u}
	for i := range r.Msgs {
		if bufSize > 0 {
			r.Msgs[i].Buf = make([]byte, bufSize)
		}
	}
	r.sys.init(r)
	return r
}

// SetConn makes r read from u from now on.
func (r *Reader) SetConn(u *Conn) {
	r.conn = u
	r.sys.reset()
}

// Read blocks until at least one datagram is available (or the read
// deadline passes, or the socket is closed) and fills Msgs[:n].
func (r *Reader) Read() (n int, err error) { return r.sys.read(r, true) }

// TryRead is Read without waiting: it returns 0 and no error when no
// datagram is queued.
func (r *Reader) TryRead() (n int, err error) { return r.sys.read(r, false) }

// TryReadFD is TryRead on descriptor fd (Conn.FD) without going through
// the socket's poller: it does not wait for a goroutine blocked in Read
// or WaitReadable on the same socket (Go lets one reader of a socket at a
// time in the poller). The caller must keep the socket open meanwhile:
// close it only when no TryReadFD can be running.
func (r *Reader) TryReadFD(fd int) (n int, err error) { return r.sys.readFD(r, fd) }

// FD returns the socket's descriptor, for TryReadFD; -1 when unknown.
func (u *Conn) FD() int {
	fd := -1
	if u.rc != nil {
		u.rc.Control(func(d uintptr) { fd = int(d) })
	}
	return fd
}

// EnableGRO makes the Reader report the runs of datagrams that the kernel
// hands over in one piece (Message.Seg), and asks the kernel of its socket,
// if it has one, to do so (Conn.EnableGRO). Every slot's buffer must then
// hold GROBufSize bytes, or coalesced messages are truncated. It returns
// an error matching errors.ErrUnsupported where the system cannot.
func (r *Reader) EnableGRO() error {
	if r.conn != nil {
		if err := r.conn.EnableGRO(); err != nil {
			return err
		}
	}
	return r.sys.enableGRO(r)
}

// EnableDropCount makes the Reader report in Message.Drops the drop
// count that the kernel attaches to each datagram of a socket with
// Conn.EnableDropCount. It returns an error matching
// errors.ErrUnsupported where the system cannot (elsewhere than Linux).
func (r *Reader) EnableDropCount() error { return r.sys.enableDropCount(r) }

// EnableDropCount asks the kernel to attach to each datagram read from
// the socket the count of the datagrams it dropped so far on this socket
// for want of room in its receive buffer (SO_RXQ_OVFL, Linux); a Reader
// with EnableDropCount reports it in Message.Drops. It returns an error
// matching errors.ErrUnsupported where the system cannot.
func (u *Conn) EnableDropCount() error { return enableDropCount(u) }

// EnableGRO asks the kernel to hand over runs of datagrams from one source
// in one piece (UDP_GRO, Linux 5.0 and later); only a Reader with
// EnableGRO splits them. It returns an error matching
// errors.ErrUnsupported where the system cannot.
func (u *Conn) EnableGRO() error { return enableGRO(u) }

// WaitReadable blocks, holding no buffer, until a datagram is queued on
// the socket (it stays queued for a Reader) or the socket reports an
// error, which it returns: net.ErrClosed once the socket is closed, an
// ICMP error left on the socket (see Transient), or another. Only one
// goroutine may call it at a time.
func (u *Conn) WaitReadable() error { return waitReadable(u) }

// Transient reports whether err, returned by a read, is an error the
// network left on the socket once — an ICMP port or host unreachable
// answering an earlier send — rather than one that comes back on every
// read.
func Transient(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN,
		syscall.ENETDOWN, syscall.EMSGSIZE, syscall.ECONNRESET, syscall.EPROTO, syscall.ETIMEDOUT:
		return true
	}
	return false
}
