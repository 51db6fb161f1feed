package udp

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseControl reads the control messages of a received datagram in oob
// without allocating (unlike unix.ParseSocketControlMessage): the segment
// size of a UDP_GRO message (0 when there is none or it is malformed: the
// datagram was not coalesced), the drop count of an SO_RXQ_OVFL message
// (0 when there is none), and into *m the receive time, TTL or hop limit
// and TOS or traffic class (EnableRecvMeta), *m being cleared first. It
// stops at the first malformed header and never reads outside oob, which
// need not be aligned.
func parseControl(oob []byte, m *Meta) (seg int, drops uint32) {
	*m = Meta{}
	var h unix.Cmsghdr
	hb := (*[unix.SizeofCmsghdr]byte)(unsafe.Pointer(&h))[:]
	for len(oob) >= unix.SizeofCmsghdr {
		copy(hb, oob) // oob need not be aligned
		l := uint64(h.Len)
		if l < uint64(unix.CmsgLen(0)) || l > uint64(len(oob)) {
			return seg, drops
		}
		data := oob[unix.CmsgLen(0):l]
		switch h.Level {
		case unix.IPPROTO_UDP:
			if h.Type == unix.UDP_GRO && len(data) >= 4 {
				if s := binary.NativeEndian.Uint32(data); s > 0 && s <= 65535 {
					seg = int(s)
				}
			}
		case unix.SOL_SOCKET:
			switch {
			case h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
				drops = binary.NativeEndian.Uint32(data)
			case h.Type == unix.SO_TIMESTAMPNS && len(data) >= sizeofTimespec:
				var ts unix.Timespec
				copy((*[sizeofTimespec]byte)(unsafe.Pointer(&ts))[:], data)
				if ns := ts.Nano(); ns > 0 {
					m.Time = ns
				}
			}
		case unix.IPPROTO_IP:
			switch {
			case h.Type == unix.IP_TTL && len(data) >= 4:
				m.TTL, m.Flags = uint8(binary.NativeEndian.Uint32(data)), m.Flags|MetaTTL
			case h.Type == unix.IP_TOS && len(data) >= 1:
				m.TOS, m.Flags = data[0], m.Flags|MetaTOS
			}
		case unix.IPPROTO_IPV6:
			switch {
			case h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
				m.TTL, m.Flags = uint8(binary.NativeEndian.Uint32(data)), m.Flags|MetaTTL
			case h.Type == unix.IPV6_TCLASS && len(data) >= 4:
				m.TOS, m.Flags = uint8(binary.NativeEndian.Uint32(data)), m.Flags|MetaTOS
			}
		}
		next := unix.CmsgSpace(int(l) - unix.CmsgLen(0))
		if next >= len(oob) {
			return seg, drops
		}
		oob = oob[next:]
	}
	return seg, drops
}

// sizeofTimespec is the size of the SO_TIMESTAMPNS payload.
const sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

// metaControlLen is the control buffer of one slot of a Reader with
// EnableMeta: room for SO_RXQ_OVFL and UDP_GRO (24 bytes each on 64-bit
// systems), SO_TIMESTAMPNS (32), the TTL and the TOS (24 each), with
// room to spare for an IPv6 socket that receives IPv4 too.
const metaControlLen = 192

// enableRecvMeta sets SO_TIMESTAMPNS and the TTL and TOS options of the
// socket's family; an IPv6 socket also asks for the IPv4 ones, for the
// IPv4 datagrams it may receive (where the system refuses them, it
// receives none).
func enableRecvMeta(u *Conn) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	err := u.rc.Control(func(fd uintptr) {
		s := int(fd)
		if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); serr != nil {
			serr = fmt.Errorf("udp: SO_TIMESTAMPNS: %w", serr)
			return
		}
		if serr = setRecvTOS(s, u.is6); serr != nil {
			return
		}
		if u.is6 {
			if serr = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1); serr != nil {
				serr = fmt.Errorf("udp: IPV6_RECVHOPLIMIT: %w", serr)
				return
			}
			unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTTL, 1) // dual-stack: best effort
			return
		}
		if serr = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTTL, 1); serr != nil {
			serr = fmt.Errorf("udp: IP_RECVTTL: %w", serr)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// setRecvTOS sets IP_RECVTOS, or IPV6_RECVTCLASS (and IP_RECVTOS, best
// effort, for the IPv4 datagrams of a dual-stack socket).
func setRecvTOS(fd int, is6 bool) error {
	if is6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1); err != nil {
			return fmt.Errorf("udp: IPV6_RECVTCLASS: %w", err)
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTOS, 1); err != nil {
		return fmt.Errorf("udp: IP_RECVTOS: %w", err)
	}
	return nil
}
