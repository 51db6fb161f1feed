package udp

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// EnableRecvTOS asks the kernel to report the TOS byte (IPv4,
// IP_RECVTOS) or traffic class (IPv6, IPV6_RECVTCLASS) of each datagram
// received, for ReadTOS.
func (u *Conn) EnableRecvTOS() error {
	rc, err := u.c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if u.is6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// oobTOSLen is room for one TOS or traffic-class control message.
var oobTOSLen = unix.CmsgSpace(4)

// ReadTOS reads one datagram into p and returns its length, its source and
// its TOS byte or traffic class as received (-1 when the kernel reported
// none; call EnableRecvTOS first).
func (u *Conn) ReadTOS(p []byte) (n int, src netip.AddrPort, tos int, err error) {
	oob := make([]byte, oobTOSLen)
	n, oobn, _, src, err := u.c.ReadMsgUDPAddrPort(p, oob)
	if err != nil {
		return 0, src, -1, err
	}
	return n, src, parseTOS(oob[:oobn]), nil
}

// parseTOS finds the TOS or traffic-class control message in oob.
func parseTOS(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) >= 1:
			return int(m.Data[0])
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_TCLASS && len(m.Data) >= 4:
			return int(binary.NativeEndian.Uint32(m.Data))
		}
	}
	return -1
}

// tosControl builds the IP_TOS or IPV6_TCLASS control message of one
// datagram (an int, as both take it).
func tosControl(is6 bool, tos int) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafePointer(b))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TOS
	if is6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	}
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(tos))
	return b
}
