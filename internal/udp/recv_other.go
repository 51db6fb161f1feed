//go:build !linux

package udp

import (
	"errors"
	"os"
	"time"
)

type readerSys struct{}

func (s *readerSys) init(*Reader) {}

// read reads one datagram: batch receive is implemented on Linux only.
// Reading without waiting polls with an expired deadline.
func (s *readerSys) read(r *Reader, wait bool) (int, error) {
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

// readFD reads through the socket: without batch receive there is no
// descriptor path.
func (s *readerSys) readFD(r *Reader, fd int) (int, error) { return s.read(r, false) }

func (s *readerSys) enableGRO(*Reader) error { return errors.ErrUnsupported }

func enableGRO(*Conn) error { return errors.ErrUnsupported }

// waitReadable is not implemented without Linux's MSG_PEEK path here.
func waitReadable(*Conn) error { return errors.ErrUnsupported }
