package udp

import (
	"fmt"
	"os"

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

// rxControl is parseControl without the metadata.
func rxControl(oob []byte) (seg int, drops uint32) {
	var m Meta
	return parseControl(oob, &m)
}
