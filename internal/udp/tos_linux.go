package udp

import (
	"encoding/binary"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// EnableRecvTOS asks the kernel to report the TOS byte (IPv4,
// IP_RECVTOS) or traffic class (IPv6, IPV6_RECVTCLASS) of each datagram
// received, for ReadTOS. EnableRecvMeta asks for it too, with the rest.
func (u *Conn) EnableRecvTOS() error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	if err := u.rc.Control(func(fd uintptr) { serr = setRecvTOS(int(fd), u.is6) }); err != nil {
		return err
	}
	return serr
}

// ReadTOS reads one datagram into p and returns its length, its source and
// its TOS byte or traffic class as received (-1 when the kernel reported
// none; call EnableRecvTOS first). It allocates its control buffer: it is
// for tests and tools, not for a receive path (a Reader with EnableMeta).
func (u *Conn) ReadTOS(p []byte) (n int, src netip.AddrPort, tos int, err error) {
	oob := make([]byte, metaControlLen)
	n, oobn, _, src, err := u.c.ReadMsgUDPAddrPort(p, oob)
	if err != nil {
		return 0, src, -1, err
	}
	var m Meta
	parseControl(oob[:oobn], &m)
	if m.Flags&MetaTOS == 0 {
		return n, src, -1, nil
	}
	return n, src, int(m.TOS), nil
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
