//go:build !linux

package dispatcher_test

import "net"

// tuneReceiver gives c a receive buffer of up to size bytes and returns
// what it asked for (the system may grant less); no GRO.
func tuneReceiver(c *net.UDPConn, size int) (rcvbuf int, gro bool) {
	if c.SetReadBuffer(size) != nil {
		return 0, false
	}
	return size, false
}
