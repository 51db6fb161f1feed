package vmprx

import (
	"errors"
	"syscall"
	"time"
)

// BreakRTPPort makes every read of the RTP socket fail, as a persistent
// error would: it puts a descriptor that is not a socket (a pipe's read
// end) in place of the socket's, so that reads on the descriptor fail
// with ENOTSOCK, and sets a read deadline in the past, so that waits in
// the poller (which no longer hears of the replaced socket) fail with
// os.ErrDeadlineExceeded.
func BreakRTPPort(v *VMPRx) error {
	pt := v.ports[0].Load()
	if pt == nil {
		return errors.New("not configured")
	}
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		return err
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	rc, err := pt.conn.UDPConn().SyscallConn()
	if err != nil {
		return err
	}
	var derr error
	if err := rc.Control(func(fd uintptr) { derr = syscall.Dup3(p[0], int(fd), 0) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	return pt.conn.UDPConn().SetReadDeadline(time.Unix(1, 0))
}
