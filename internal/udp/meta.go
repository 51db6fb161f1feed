package udp

import "time"

// Meta is what the kernel reported with one received datagram when its
// socket and Reader asked for it (Conn.EnableRecvMeta, Reader.EnableMeta).
// Its zero value means nothing was reported, so a Reader that does not
// ask pays one 16-byte store per datagram.
type Meta struct {
	// Time is the kernel's receive time (SO_TIMESTAMPNS, the real-time
	// clock) in Unix nanoseconds; 0 when not reported.
	Time int64
	// TTL is the IPv4 TTL or the IPv6 hop limit; valid when Flags has
	// MetaTTL.
	TTL uint8
	// TOS is the IPv4 TOS byte or the IPv6 traffic class; valid when
	// Flags has MetaTOS.
	TOS uint8
	// Flags says which of TTL and TOS were reported.
	Flags uint8
}

// The bits of Meta.Flags.
const (
	MetaTTL uint8 = 1 << iota // Meta.TTL was reported
	MetaTOS                   // Meta.TOS was reported
)

// EnableRecvMeta asks the kernel to attach to each datagram received on
// the socket its receive time (SO_TIMESTAMPNS), TTL or hop limit
// (IP_RECVTTL, IPV6_RECVHOPLIMIT) and TOS or traffic class (IP_RECVTOS,
// IPV6_RECVTCLASS); a Reader with EnableMeta reports them in
// Message.Meta. It returns an error matching errors.ErrUnsupported where
// the system cannot (elsewhere than Linux).
func (u *Conn) EnableRecvMeta() error { return enableRecvMeta(u) }

// EnableMeta makes the Reader report in Message.Meta what the kernel
// attaches to each datagram of a socket with Conn.EnableRecvMeta. A
// one-slot Reader then reads every datagram with recvmsg(2) (the drop
// count alone is sampled: see recvOne). It returns an error matching
// errors.ErrUnsupported where the system cannot.
func (r *Reader) EnableMeta() error { return r.sys.enableMeta(r) }

// WallTime returns Time as a time.Time; the zero time when not reported.
func (m Meta) WallTime() time.Time {
	if m.Time == 0 {
		return time.Time{}
	}
	return time.Unix(0, m.Time)
}
