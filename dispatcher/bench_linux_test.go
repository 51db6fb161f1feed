package dispatcher_test

import (
	"net"

	"golang.org/x/sys/unix"
)

// tuneReceiver gives c a receive buffer of up to size bytes (beyond
// net.core.rmem_max when the process may: SO_RCVBUFFORCE) and turns on
// UDP GRO. It returns the buffer the kernel granted and whether GRO is on.
func tuneReceiver(c *net.UDPConn, size int) (rcvbuf int, gro bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		rcvbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
	return rcvbuf, gro
}
