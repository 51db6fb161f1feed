package vmprx

// Kernel drops. Each port asks the kernel at Config (udp.Conn.EnableDropCount,
// SO_RXQ_OVFL on Linux) to attach to the datagrams it reads the socket's
// count of datagrams dropped so far: those that found the receive buffer
// full. The count read last, compared with the one before, gives the
// drops in between; Stats.KernelDrops sums them over the ports. Drops
// after the last datagram read show with the next one. Where the system
// has no such count, KernelDrops stays 0.

// noteDrops counts the datagrams the kernel dropped on the port's socket
// since the count read before: d is the socket's cumulative count as of
// the last datagram read (udp.Message.Drops), 0 when the kernel attached
// none (none dropped yet, or no support). The count is 32 bits and wraps;
// the difference survives the wrap. Called with pt.mu held, by the
// port's one reader.
func (pt *port) noteDrops(d uint32) {
	if d != 0 && d != pt.drops {
		pt.v.count[cKernelDrops].Add(uint64(d - pt.drops))
		pt.drops = d
	}
}
