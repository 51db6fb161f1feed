package vmprx

import (
	"errors"
	"syscall"
	"time"

	"github.com/mediaport/mediaport/internal/rxloop"
)

// HoldPorts makes the readers of v's ports (its receive goroutines, or
// with CallerReads the callers and the watchers) wait until release is
// called, so that a benchmark can queue a backlog in the socket that
// nobody reads meanwhile.
func HoldPorts(v *VMPRx) (release func()) {
	var held []*port
	for i := range v.ports {
		if pt := v.ports[i].Load(); pt != nil {
			pt.mu.Lock()
			held = append(held, pt)
		}
	}
	return func() {
		for _, pt := range held {
			pt.mu.Unlock()
		}
	}
}

// WatchState returns the state of the watcher of v's RTP port (CallerReads).
func WatchState(v *VMPRx) rxloop.State {
	pt := v.ports[0].Load()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.w.State()
}

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
