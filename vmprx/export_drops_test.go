package vmprx

import "net"

// PortConn returns the socket of v's RTP port (rtcp false) or RTCP port,
// so that a test can shrink its receive buffer and find its line in
// /proc/net/udp; nil when there is none.
func PortConn(v *VMPRx, rtcp bool) *net.UDPConn {
	i := 0
	if rtcp {
		i = 1
	}
	if pt := v.ports[i].Load(); pt != nil {
		return pt.conn.UDPConn()
	}
	return nil
}
