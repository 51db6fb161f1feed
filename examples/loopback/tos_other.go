//go:build !linux

package main

import (
	"errors"
	"net"
	"net/netip"
)

var errNoRecvTOS = errors.New("reading the received TOS is implemented on Linux only")

func enableRecvTOS(c *net.UDPConn, is6 bool) error { return errNoRecvTOS }

func readTOS(c *net.UDPConn, p []byte) (n int, src netip.AddrPort, tos int, err error) {
	return 0, netip.AddrPort{}, -1, errNoRecvTOS
}
