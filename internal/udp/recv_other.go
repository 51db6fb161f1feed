//go:build !linux

package udp

import "errors"

type readerSys struct{}

func (s *readerSys) init(*Reader) {}

// read reads one datagram: batch receive is implemented on Linux only, and
// so is reading without waiting (here a try reports nothing).
func (s *readerSys) read(r *Reader, wait bool) (int, error) {
	if !wait {
		return 0, nil
	}
	m := &r.Msgs[0]
	n, src, err := r.conn.c.ReadFromUDPAddrPort(m.Buf)
	if err != nil {
		return 0, err
	}
	m.N, m.Src, m.Trunc = n, src, false
	return 1, nil
}

func (s *readerSys) readHolding(r *Reader, g *Gate) (int, error) {
	n, err := s.read(r, true)
	if n > 0 {
		g.mu.Lock() // Poll never reads here: the holder is brief
	}
	return n, err
}

func (s *readerSys) poll(*Reader) (int, error) { return 0, nil }

func (s *readerSys) enableGRO(*Reader) error { return errors.ErrUnsupported }

func (s *readerSys) close(r *Reader, g *Gate) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return r.conn.Close()
}
