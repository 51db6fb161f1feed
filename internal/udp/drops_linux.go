package udp

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropControlLen is the control buffer of one slot of a Reader that
// counts drops: room for SO_RXQ_OVFL (unix.CmsgSpace(4), 24 bytes on
// 64-bit systems), which the kernel puts first, and for a TOS the socket
// may also report (EnableRecvTOS).
const dropControlLen = 64

// enableDropCount sets SO_RXQ_OVFL: from then on the kernel attaches to
// each datagram read the socket's count of dropped datagrams, once it is
// not 0.
func enableDropCount(u *Conn) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	if err := u.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("udp: SO_RXQ_OVFL: %w", serr)
	}
	return nil
}

// rxControl reads the control messages of a received datagram in oob
// without allocating: the segment size of a UDP_GRO message (0 when there
// is none or it is malformed: the datagram was not coalesced) and the
// drop count of an SO_RXQ_OVFL message (0 when there is none). It stops
// at the first malformed header.
func rxControl(oob []byte) (seg int, drops uint32) {
	var h unix.Cmsghdr
	hb := (*[unix.SizeofCmsghdr]byte)(unsafe.Pointer(&h))[:]
	for len(oob) >= unix.SizeofCmsghdr {
		copy(hb, oob) // oob need not be aligned
		l := uint64(h.Len)
		if l < uint64(unix.CmsgLen(0)) || l > uint64(len(oob)) {
			return seg, drops
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO:
			if len(data) >= 4 {
				if s := binary.NativeEndian.Uint32(data); s > 0 && s <= 65535 {
					seg = int(s)
				}
			}
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL:
			if len(data) >= 4 {
				drops = binary.NativeEndian.Uint32(data)
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
