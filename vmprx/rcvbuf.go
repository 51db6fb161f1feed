package vmprx

import (
	"fmt"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/udp"
)

// Receive buffers. A video sender's keyframe arrives as a burst of a
// hundred datagrams or more in a millisecond; the system's default
// receive buffer (208 KiB on Linux, some 90 datagrams of 1,200 bytes once
// the kernel's per-datagram overhead is counted) overflows before the
// receive goroutine is scheduled. Each port therefore asks for
// DefaultReadBuffer unless Config.ReadBuffer says otherwise.

// DefaultReadBuffer is the receive buffer a VMP[rx] asks for each socket
// when Config.ReadBuffer is 0: 1 MiB, about 800 datagrams of 1,200 bytes,
// 1 s of an 8 Mb/s video stream. Linux doubles it (2 MiB granted) when
// the process may exceed net.core.rmem_max (CAP_NET_ADMIN), and caps it at
// twice rmem_max otherwise. The memory is used only while datagrams wait.
const DefaultReadBuffer = 1 << 20

// DefaultRTCPQueueLen is Config.RTCPQueueLen's default: a few seconds of
// RTCP from a handful of senders.
const DefaultRTCPQueueLen = 32

// setReadBuffer applies Config.ReadBuffer n to a port's socket.
func setReadBuffer(conn *udp.Conn, n int) error {
	switch {
	case n < 0:
		return nil
	case n == 0:
		n = DefaultReadBuffer
	case n > udp.MaxReadBuffer:
		return fmt.Errorf("%w: ReadBuffer %d above %d", mediaport.ErrInvalidArgument, n, udp.MaxReadBuffer)
	}
	_, err := conn.SetReadBuffer(n)
	return err
}

// ReadBuffer returns the receive buffer sizes the kernel granted the RTP
// and RTCP sockets (equal with rtcp-mux), as SO_RCVBUF reports them: on
// Linux twice the bytes granted for data, the kernel's bookkeeping
// included. Outside Linux it returns an error matching
// errors.ErrUnsupported.
func (v *VMPRx) ReadBuffer() (rtp, rtcp int, err error) {
	if err := v.endpoint().Check(); err != nil {
		return 0, 0, err
	}
	v.mu.Lock()
	socks := v.socks
	v.mu.Unlock()
	if socks[0] == nil {
		return 0, 0, fmt.Errorf("vmprx: %w: not configured", mediaport.ErrState)
	}
	if rtp, err = socks[0].ReadBuffer(); err != nil {
		return 0, 0, fmt.Errorf("vmprx: %w", err)
	}
	rtcp = rtp
	if socks[1] != nil {
		if rtcp, err = socks[1].ReadBuffer(); err != nil {
			return 0, 0, fmt.Errorf("vmprx: %w", err)
		}
	}
	return rtp, rtcp, nil
}
