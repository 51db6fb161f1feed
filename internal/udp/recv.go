package udp

import "net/netip"

// Message is one datagram slot of a Reader. Buf is the buffer the datagram
// is read into; the caller owns it between reads and may replace it (for
// example with a fresh pooled buffer after handing the old one on) before the
// next Read. After a Read, N is the datagram length, Src its source, and
// Trunc reports that the datagram was longer than Buf (its tail is lost).
type Message struct {
	Buf   []byte
	N     int
	Src   netip.AddrPort
	Trunc bool
}

// Reader reads datagrams from a Conn in batches: on Linux up to len(Msgs)
// per recvmmsg system call, elsewhere one per call. A Reader allocates
// nothing per datagram. It is not safe for concurrent use: one goroutine
// reads.
type Reader struct {
	// Msgs are the slots Read fills; set their Buf before the first Read.
	Msgs []Message
	conn *Conn
	sys  readerSys
}

// NewReader returns a Reader of u with n slots of bufSize-byte buffers.
func NewReader(u *Conn, n, bufSize int) *Reader {
	if n <= 0 {
		n = 1
	}
	r := &Reader{Msgs: make([]Message, n), conn: u}
	for i := range r.Msgs {
		r.Msgs[i].Buf = make([]byte, bufSize)
	}
	r.sys.init(r)
	return r
}

// Read blocks until at least one datagram is available (or the read
// deadline passes, or the socket is closed) and fills Msgs[:n].
func (r *Reader) Read() (n int, err error) { return r.sys.read(r, true) }

// TryRead is Read without waiting: it returns 0 and no error when no
// datagram is queued.
func (r *Reader) TryRead() (n int, err error) { return r.sys.read(r, false) }
