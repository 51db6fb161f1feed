package dispatcher

import (
	"fmt"
	"sync"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/srtp"
)

// SRTP on the send path: with a session set, Send and SendBatch protect
// each RTP and RTCP datagram into the dispatcher's scratch buffers and
// send those; the caller's buffers are not touched.

// srtpTx is a dispatcher's SRTP session and its scratch buffers, held
// (mu) from the encryption to the end of the send.
type srtpTx struct {
	s    *srtp.Session
	mu   sync.Mutex
	one  []byte   // Send
	bufs [][]byte // SendBatch, one per datagram, grown to the largest batch
	out  [][]byte // the protected datagrams of a SendBatch
}

// scratchSize is the least capacity of a scratch buffer: an MTU-sized
// datagram and the protection.
const scratchSize = 1500 + srtp.Overhead

// ConfigSRTP makes Send and SendBatch protect what they send with s:
// every RTP datagram goes out as SRTP, every RTCP datagram (packet type
// 192–223, RFC 5761) as SRTCP, encrypted with the session's local key into
// the dispatcher's own buffers, so the caller's are left as they were and
// nothing is allocated per datagram. Other datagrams (STUN, DTLS: a first
// byte outside 128–191) go out as they are. Sends with SRTP are
// serialised, from the encryption to the end of the send, so datagrams
// leave in the order of their protection. A nil s turns SRTP off. It may
// be called at any time; sends under way finish with the session they
// started with.
func (d *Dispatcher) ConfigSRTP(s *srtp.Session) error {
	if err := d.check(); err != nil {
		return err
	}
	if s == nil {
		d.srtp.Store(nil)
	} else {
		d.srtp.Store(&srtpTx{s: s})
	}
	return nil
}

// protect returns p protected, in t's buffer. On success t.mu is held:
// the caller unlocks it once the datagram is sent.
func (t *srtpTx) protect(p []byte) ([]byte, error) {
	t.mu.Lock()
	q, err := t.seal(&t.one, p)
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	return q, nil
}

// protectBatch returns pkts protected, in t's buffers. On success t.mu is
// held: the caller unlocks it once they are sent. When one cannot be
// protected nothing is sent.
func (t *srtpTx) protectBatch(pkts [][]byte) ([][]byte, error) {
	t.mu.Lock()
	if len(t.bufs) < len(pkts) {
		t.bufs = append(t.bufs, make([][]byte, len(pkts)-len(t.bufs))...)
		t.out = make([][]byte, len(t.bufs))
	}
	out := t.out[:len(pkts)]
	for i, p := range pkts {
		q, err := t.seal(&t.bufs[i], p)
		if err != nil {
			t.mu.Unlock()
			return nil, fmt.Errorf("%w (datagram %d of the batch; none sent)", err, i)
		}
		out[i] = q
	}
	return out, nil
}

// seal protects p into *buf, which it grows when it is short.
func (t *srtpTx) seal(buf *[]byte, p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] < 128 || p[0] > 191 {
		return p, nil // not RTP or RTCP
	}
	if cap(*buf) < len(p)+srtp.Overhead {
		*buf = make([]byte, 0, max(len(p)+srtp.Overhead, scratchSize))
	}
	var q []byte
	var err error
	if len(p) >= 2 && p[1] >= 192 && p[1] <= 223 {
		q, err = t.s.EncryptRTCP(*buf, p)
	} else {
		q, err = t.s.EncryptRTP(*buf, p)
	}
	if err != nil {
		return nil, fmt.Errorf("dispatcher: %w: %w", mediaport.ErrInvalidArgument, err)
	}
	return q, nil
}
