package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
)

// enableRecvTOS asks the kernel to report the TOS byte (IPv4, IP_RECVTOS)
// or traffic class (IPv6, IPV6_RECVTCLASS) of each datagram c receives.
func enableRecvTOS(c *net.UDPConn, is6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if is6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVTCLASS, 1)
		} else {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_RECVTOS, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// readTOS reads one datagram into p and returns its length, its source and
// its TOS byte or traffic class as received (-1 if the kernel reported none).
func readTOS(c *net.UDPConn, p []byte) (n int, src netip.AddrPort, tos int, err error) {
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, src, err := c.ReadMsgUDPAddrPort(p, oob)
	if err != nil {
		return 0, src, -1, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return n, src, -1, nil
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_TOS && len(m.Data) >= 1:
			return n, src, int(m.Data[0]), nil
		case m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_TCLASS && len(m.Data) >= 4:
			return n, src, int(binary.NativeEndian.Uint32(m.Data)), nil
		}
	}
	return n, src, -1, nil
}
