//go:build !linux

package udp

import "errors"

// setReadBuffer sets SO_RCVBUF through the net package.
func setReadBuffer(u *Conn, n int) error { return u.c.SetReadBuffer(n) }

// readBuffer: the size granted is not read back outside Linux.
func readBuffer(*Conn) (int, error) {
	return 0, errors.ErrUnsupported
}
