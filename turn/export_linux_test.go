package turn

import (
	"syscall"
	"time"
)

// BreakSocket makes every read of a's socket fail, as a persistent error
// would: a pipe's descriptor replaces the socket's and a read deadline in
// the past ends every wait.
func BreakSocket(a *Allocation) error {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		return err
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	rc, err := c.UDPConn().SyscallConn()
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
	return c.UDPConn().SetReadDeadline(time.Unix(1, 0))
}
