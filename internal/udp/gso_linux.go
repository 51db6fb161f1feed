package udp

import (
	"encoding/binary"
	"errors"

	"golang.org/x/sys/unix"
)

// supportsGSO reports whether the kernel accepts UDP_SEGMENT on u (Linux
// 4.18 and later).
func supportsGSO(u *Conn) bool {
	rc, err := u.c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// newGSOControl returns a control message buffer holding UDP_SEGMENT.
func newGSOControl() []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafePointer(b))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	return b
}

// setGSOSize stores the segment size in a buffer from newGSOControl.
func setGSOSize(b []byte, size int) {
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
}

// gsoUnsupported reports whether err says segmentation offload cannot work
// on this socket at all (EIO: the device cannot checksum the segments).
func gsoUnsupported(err error) bool { return errors.Is(err, unix.EIO) }

// groControlLen is the control buffer of one slot of a GRO Reader: room for
// UDP_GRO, for the drop count (SO_RXQ_OVFL) and for the TOS or traffic
// class the socket may also report.
const groControlLen = 96

// groSize returns the segment size that a UDP_GRO control message in oob
// carries, or 0 when there is none (the datagram was not coalesced). It
// reads the control messages without allocating (rxControl).
func groSize(oob []byte) int {
	seg, _ := rxControl(oob)
	return seg
}
