// Package udp is the UDP socket layer shared by every mediaport endpoint: a
// socket of one address family, its TOS / traffic class, single sends without
// allocation and batch sends in one sendmmsg (through golang.org/x/net).
package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Conn is a UDP socket bound to one address family. It is safe for
// concurrent use.
type Conn struct {
	c     *net.UDPConn
	is6   bool
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	local netip.AddrPort
	rc    syscall.RawConn // for the readers

	peekFn  func(fd uintptr) bool // WaitReadable's, bound once
	peekErr syscall.Errno
	peekBuf [1]byte

	hookMu sync.Mutex
	closed bool
	hooks  map[*closeHook]struct{} // OnClose's
}

// Listen binds a UDP socket to local. The family follows local's address,
// which must be valid (use netip.IPv4Unspecified or IPv6Unspecified for any
// address); port 0 lets the system choose. IPv4-mapped IPv6 addresses are
// treated as IPv4.
func Listen(local netip.AddrPort) (*Conn, error) {
	addr := local.Addr().Unmap()
	if !addr.IsValid() {
		return nil, errors.New("udp: invalid local address")
	}
	network := "udp4"
	if addr.Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, local.Port())))
	if err != nil {
		return nil, err
	}
	u := &Conn{c: c, is6: addr.Is6(), local: c.LocalAddr().(*net.UDPAddr).AddrPort()}
	if u.rc, err = c.SyscallConn(); err != nil {
		c.Close()
		return nil, err
	}
	if u.is6 {
		u.p6 = ipv6.NewPacketConn(c)
	} else {
		u.p4 = ipv4.NewPacketConn(c)
	}
	return u, nil
}

// LocalAddr returns the address the socket is bound to, with the port the
// system chose when 0 was asked.
func (u *Conn) LocalAddr() netip.AddrPort { return u.local }

// Is6 reports whether the socket is IPv6.
func (u *Conn) Is6() bool { return u.is6 }

// UDPConn returns the underlying socket.
func (u *Conn) UDPConn() *net.UDPConn { return u.c }

// SetTOS sets the IPv4 TOS byte or the IPv6 traffic class of every packet
// sent from now on.
func (u *Conn) SetTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return fmt.Errorf("udp: TOS %d out of range 0..255", tos)
	}
	if u.is6 {
		return u.p6.SetTrafficClass(tos)
	}
	return u.p4.SetTOS(tos)
}

// TOS returns the TOS byte or traffic class set on the socket.
func (u *Conn) TOS() (int, error) {
	if u.is6 {
		return u.p6.TrafficClass()
	}
	return u.p4.TOS()
}

// WriteTo sends one datagram to dst without allocating.
func (u *Conn) WriteTo(p []byte, dst netip.AddrPort) (int, error) {
	return u.c.WriteToUDPAddrPort(p, dst)
}

// Close closes the socket; blocked reads and writes return net.ErrClosed.
// The functions given to OnClose run first, before the socket closes.
func (u *Conn) Close() error {
	u.runCloseHooks()
	return u.c.Close()
}

// Batch sends many datagrams to one destination in one sendmmsg system
// call (golang.org/x/net WriteBatch). Where the kernel supports UDP
// segmentation offload (Linux UDP_SEGMENT), consecutive datagrams of the same
// length travel as one message that the kernel splits, so the stack below
// the socket runs once per group instead of once per datagram; the receiver
// still sees every datagram separately, in order, with the same source and
// TOS. Datagrams of other lengths are sent as messages of their own.
//
// A Batch keeps its message headers between calls, so in steady use it does
// not allocate. It is safe for concurrent use; calls are serialised. It does
// not keep references to the caller's buffers after Send returns.
type Batch struct {
	mu   sync.Mutex
	conn *Conn
	size int
	gso  bool
	dst  *net.UDPAddr
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are the same type
	iov  [][]byte       // the datagrams of the current call; msgs[m].Buffers slices it
	ends []int          // ends[m]: index in iov after the last datagram of msgs[m]
	ctl  []byte         // SetControl's, carried by every message (nil: none)
	oob  [][]byte       // per message: ctl, then a UDP_SEGMENT control message
}

// maxGSOBytes bounds the payload of one segmented message (an IPv4 UDP
// payload is at most 65507 bytes), maxGSOSegments the datagrams in it.
const (
	maxGSOBytes    = 65000
	maxGSOSegments = 64
)

// NewBatch returns a Batch that sends from u to dst, up to size datagrams per
// system call.
func NewBatch(u *Conn, dst netip.AddrPort, size int) *Batch {
	if size <= 0 {
		size = 1
	}
	b := &Batch{
		conn: u, size: size, gso: supportsGSO(u),
		dst:  net.UDPAddrFromAddrPort(dst),
		msgs: make([]ipv4.Message, size), iov: make([][]byte, size),
		ends: make([]int, size), oob: make([][]byte, size),
	}
	for i := range b.msgs {
		b.msgs[i].Addr = b.dst
		b.oob[i] = newGSOControl()
	}
	return b
}

// SetControl makes every message of later sends carry the control message
// ctl (as built by Conn.TOSControl): for every datagram, including each of
// a segmented message. nil sends none.
func (b *Batch) SetControl(ctl []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ctl = ctl
	for i := range b.oob {
		b.oob[i] = append(append(b.oob[i][:0:0], ctl...), newGSOControl()...)
	}
}

// Send sends every datagram of pkts, in order, in as few system calls as the
// batch size allows. It returns how many were sent; on error the datagrams
// after the first failure were not.
func (b *Batch) Send(pkts [][]byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer clear(b.iov) // do not keep the caller's buffers alive
	sent := 0
	for sent < len(pkts) {
		n := copy(b.iov, pkts[sent:])
		k, err := b.send(n, b.gso)
		if err != nil && b.gso && k < n {
			// A segmented message can fail where single datagrams pass
			// (a segment over the path MTU, a device without checksum
			// offload): send the rest of this call without segmentation.
			if gsoUnsupported(err) {
				b.gso = false
			}
			var k2 int
			copy(b.iov, b.iov[k:n])
			k2, err = b.send(n-k, false)
			k += k2
		}
		sent += k
		if err != nil {
			return sent, err
		}
		if k == 0 {
			return sent, errors.New("udp: sendmmsg sent nothing")
		}
	}
	return sent, nil
}

// send sends b.iov[:n] and returns how many datagrams went out.
func (b *Batch) send(n int, gso bool) (int, error) {
	m := 0
	for i := 0; i < n; {
		j := i + 1
		if gso {
			j = gsoGroupEnd(b.iov[:n], i)
		}
		b.msgs[m].Buffers = b.iov[i:j]
		b.msgs[m].OOB = b.ctl
		if j-i > 1 {
			setGSOSize(b.oob[m][len(b.ctl):], len(b.iov[i]))
			b.msgs[m].OOB = b.oob[m]
		}
		b.ends[m] = j
		m++
		i = j
	}
	var k int
	var err error
	if b.conn.is6 {
		k, err = b.conn.p6.WriteBatch(b.msgs[:m], 0)
	} else {
		k, err = b.conn.p4.WriteBatch(b.msgs[:m], 0)
	}
	for i := range b.msgs[:m] {
		b.msgs[i].Buffers = nil
	}
	if k <= 0 {
		return 0, err
	}
	return b.ends[k-1], err
}

// gsoGroupEnd returns the end of the group of datagrams starting at i that
// can travel as one segmented message: datagrams of the same non-zero length
// as pkts[i], optionally ended by one shorter non-empty datagram, within the
// kernel's limits.
func gsoGroupEnd(pkts [][]byte, i int) int {
	size := len(pkts[i])
	if size == 0 {
		return i + 1
	}
	total := size
	j := i + 1
	for j < len(pkts) && j-i < maxGSOSegments {
		l := len(pkts[j])
		if l == 0 || l > size || total+l > maxGSOBytes {
			break
		}
		total += l
		j++
		if l < size {
			break // a shorter datagram can only be the last segment
		}
	}
	return j
}
