//go:build !linux

package udp

import (
	"errors"
	"net/netip"
)

var errNoRecvTOS = errors.New("udp: receiving the TOS byte is implemented on Linux only")

// EnableRecvTOS is implemented on Linux only.
func (u *Conn) EnableRecvTOS() error { return errNoRecvTOS }

// ReadTOS reads one datagram; the TOS is reported on Linux only (-1 here).
func (u *Conn) ReadTOS(p []byte) (n int, src netip.AddrPort, tos int, err error) {
	n, src, err = u.c.ReadFromUDPAddrPort(p)
	return n, src, -1, err
}

// tosControl: no per-datagram TOS outside Linux.
func tosControl(bool, int) []byte { return nil }
