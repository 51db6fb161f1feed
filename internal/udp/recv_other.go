//go:build !linux

package udp

import (
	"errors"
	"fmt"
	"os"
	"time"
)

type readerSys struct{}

func (s *readerSys) init(*Reader) {}

func (s *readerSys) reset() {}

// read reads one datagram: batch receive is implemented on Linux only.
// Reading without waiting polls with an expired deadline.
func (s *readerSys) read(r *Reader, wait bool) (int, error) {
	if r.conn == nil {
		return 0, os.ErrInvalid
	}
	m := &r.Msgs[0]
	c := r.conn.c
	if !wait {
		c.SetReadDeadline(time.Unix(1, 0))
		defer c.SetReadDeadline(time.Time{})
	}
	n, src, err := c.ReadFromUDPAddrPort(m.Buf)
	if err != nil {
		if !wait && errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	m.N, m.Src, m.Trunc = n, src, false
	return 1, nil
}

func (s *readerSys) enableGRO(*Reader) error { return errors.ErrUnsupported }

func (s *readerSys) enableDropCount(*Reader) error { return errors.ErrUnsupported }

func enableDropCount(*Conn) error { return errors.ErrUnsupported }

func enableGRO(*Conn) error { return errors.ErrUnsupported }

// waitReadable lets the poller wait once: the function given to
// RawConn.Read reports "not yet" on its first call and "ready" when the
// poller calls it again. The poller's notification is edge-triggered, and
// every waiter here starts after a read that emptied the socket, so the
// next datagram wakes it; a spurious wake-up only costs an empty read.
func waitReadable(u *Conn) error {
	if u.rc == nil {
		return os.ErrInvalid
	}
	first := true
	return u.rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false
		}
		return true
	})
}

func (s *readerSys) enableMeta(*Reader) error { return errors.ErrUnsupported }

func enableRecvMeta(*Conn) error {
	return fmt.Errorf("udp: per-datagram receive time, TTL and TOS are implemented on Linux only: %w", errors.ErrUnsupported)
}
