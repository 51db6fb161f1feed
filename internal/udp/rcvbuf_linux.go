package udp

import (
	"os"

	"golang.org/x/sys/unix"
)

// setReadBuffer tries SO_RCVBUFFORCE (beyond rmem_max, with CAP_NET_ADMIN)
// and falls back to SO_RCVBUF.
func setReadBuffer(u *Conn, n int) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	var serr error
	if err := u.rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}); err != nil {
		return err
	}
	return serr
}

// readBuffer reads SO_RCVBUF.
func readBuffer(u *Conn) (int, error) {
	if u.rc == nil {
		return 0, os.ErrInvalid
	}
	var n int
	var serr error
	if err := u.rc.Control(func(fd uintptr) {
		n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		return 0, err
	}
	return n, serr
}
