package udp

import (
	"errors"
	"fmt"
)

// ErrReadBuffer is matched (errors.Is) by the error SetReadBuffer returns
// for a size out of range.
var ErrReadBuffer = errors.New("udp: receive buffer size out of range")

// MaxReadBuffer bounds what SetReadBuffer asks for: 1 GiB, well beyond what
// any media socket needs, and within the kernel's int.
const MaxReadBuffer = 1 << 30

// SetReadBuffer asks the kernel for a receive buffer of n bytes on the
// socket and returns the size it granted (ReadBuffer). On Linux it first
// tries SO_RCVBUFFORCE, which goes beyond net.core.rmem_max when the
// process may (CAP_NET_ADMIN), and falls back to SO_RCVBUF, which the
// kernel caps at rmem_max; either way Linux doubles the value asked for
// its own bookkeeping, so the size granted is about 2·n, or 2·rmem_max
// when capped. Elsewhere it sets SO_RCVBUF. n must be in
// 1..MaxReadBuffer (an error matching ErrReadBuffer otherwise). Only the
// socket's owner sets it (see share.go).
func (u *Conn) SetReadBuffer(n int) (int, error) {
	if n <= 0 || n > MaxReadBuffer {
		return 0, fmt.Errorf("%w: %d bytes (want 1..%d)", ErrReadBuffer, n, MaxReadBuffer)
	}
	if err := setReadBuffer(u, n); err != nil {
		return 0, fmt.Errorf("udp: receive buffer of %d bytes: %w", n, err)
	}
	return u.ReadBuffer()
}

// ReadBuffer returns the socket's receive buffer size as the kernel
// reports it (SO_RCVBUF): on Linux twice what was granted, as the kernel
// counts its overhead in it.
func (u *Conn) ReadBuffer() (int, error) { return readBuffer(u) }
