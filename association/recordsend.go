package association

import (
	"fmt"
	"sync"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/dtlsrecord"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
)

// ErrTooLarge: application data that does not fit one record in a
// datagram of the module's packet size (Limits.MaxPacket).
var ErrTooLarge = fmt.Errorf("association: %w: application data too large for one record", mediaport.ErrInvalidArgument)

// errSeqExhausted: the 48-bit sequence number of the epoch is used up
// (RFC 6347 §4.1: renegotiate or close; pion cannot renegotiate).
var errSeqExhausted = fmt.Errorf("association: %w: sequence numbers exhausted", mediaport.ErrState)

// send seals payload into one record of type typ in a buffer of the
// module's pool, in place, and sends it through the DTLS[tx].
func (a *Association) send(f *fastPath, typ uint8, payload []byte) error {
	p := a.mod.Packets.Get()
	defer a.mod.Packets.Put(p)
	if len(payload)+f.local.Overhead() > len(p.Buf) {
		return ErrTooLarge
	}
	copy(p.Buf[f.local.PayloadOffset():], payload)
	rec, err := f.seal(p.Buf, typ, len(payload))
	if err != nil {
		return err
	}
	return a.txc.SendRaw(rec)
}

// sendV gathers snips, in order, straight into the plaintext of one
// application data record in a buffer of the module's pool — the one
// copy sealing in place needs anyway — seals it and sends it.
func (a *Association) sendV(f *fastPath, snips [][]byte) error {
	p := a.mod.Packets.Get()
	defer a.mod.Packets.Put(p)
	pt := p.Buf[f.local.PayloadOffset() : len(p.Buf)-f.local.Overhead()+f.local.PayloadOffset()]
	n := 0
	for _, x := range snips {
		if len(x) > len(pt)-n {
			return ErrTooLarge
		}
		n += copy(pt[n:], x)
	}
	rec, err := f.seal(p.Buf, ctApplicationData, n)
	if err != nil {
		return err
	}
	return a.txc.SendRaw(rec)
}

// seal turns the n bytes of plaintext at buf[PayloadOffset():] into the
// next record of type typ, in place.
func (f *fastPath) seal(buf []byte, typ uint8, n int) ([]byte, error) {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	seq := f.seq
	if seq > dtlsrecord.MaxSeq {
		return nil, errSeqExhausted
	}
	f.seq++
	return f.local.Seal(buf, typ, f.epoch, seq, n)
}

// sendScratch holds a batch's pooled buffers and records between the
// calls of sendBatch, so that steady use allocates nothing.
type sendScratch struct {
	pkts []*pktq.Packet
	recs [][]byte
}

var sendScratchPool = sync.Pool{New: func() any { return new(sendScratch) }}

// sendBatch seals each of pkts into an application data record of its
// own, in place in a buffer of the module's pool, and hands them to the
// DTLS[tx] in batches of the module's batch size (one sendmmsg each). A
// payload too large for a record fails the call before anything is sent.
func (a *Association) sendBatch(f *fastPath, pkts [][]byte) (int, error) {
	room := a.mod.Packets.Size() - f.local.Overhead()
	for _, p := range pkts {
		if len(p) > room {
			return 0, ErrTooLarge
		}
	}
	bt, ok := a.txc.(link.TxBatcher)
	if !ok {
		for i, p := range pkts {
			if err := a.send(f, ctApplicationData, p); err != nil {
				return i, err
			}
		}
		return len(pkts), nil
	}
	sc := sendScratchPool.Get().(*sendScratch)
	defer sendScratchPool.Put(sc)
	size := max(a.mod.Limits.Batch, 1)
	off := f.local.PayloadOffset()
	sent := 0
	for sent < len(pkts) {
		chunk := pkts[sent:min(sent+size, len(pkts))]
		for _, x := range chunk {
			p := a.mod.Packets.Get()
			copy(p.Buf[off:], x)
			sc.pkts = append(sc.pkts, p)
		}
		var err error
		f.sendMu.Lock()
		for i, x := range chunk {
			if f.seq > dtlsrecord.MaxSeq {
				err = errSeqExhausted
				break
			}
			var rec []byte
			if rec, err = f.local.Seal(sc.pkts[i].Buf, ctApplicationData, f.epoch, f.seq, len(x)); err != nil {
				break
			}
			f.seq++
			sc.recs = append(sc.recs, rec)
		}
		f.sendMu.Unlock()
		k := 0
		if len(sc.recs) > 0 {
			var serr error
			k, serr = bt.SendRawBatch(sc.recs)
			if serr != nil || k < len(sc.recs) {
				err = serr
			}
		}
		for _, p := range sc.pkts {
			a.mod.Packets.Put(p)
		}
		clear(sc.pkts)
		clear(sc.recs)
		sc.pkts, sc.recs = sc.pkts[:0], sc.recs[:0]
		sent += k
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// sendAlert sends an alert of level (1 warning, 2 fatal) and description.
func (a *Association) sendAlert(f *fastPath, level uint8, d AlertDescription) error {
	return a.send(f, dtlsrecord.Alert, []byte{level, byte(d)})
}

// closeNotify sends close_notify once, whoever asks first: Close, or the
// answer to the peer's (RFC 5246 §7.2.1).
func (a *Association) closeNotify(f *fastPath) {
	if a.notified.CompareAndSwap(false, true) {
		a.sendAlert(f, 1, AlertCloseNotify)
	}
}

// resendFlight sends the last flight pion wrote again: the peer repeated
// its Finished, so ours was lost (RFC 6347 §4.2.4).
func (a *Association) resendFlight(f *fastPath) {
	if len(f.flight) > 0 {
		f.resent.Add(1)
	}
	for _, d := range f.flight {
		a.txc.SendRaw(d)
	}
}
