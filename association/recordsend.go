package association

import (
	"fmt"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/dtlsrecord"
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
	f.sendMu.Lock()
	seq := f.seq
	if seq > dtlsrecord.MaxSeq {
		f.sendMu.Unlock()
		return errSeqExhausted
	}
	f.seq++
	rec, err := f.local.Seal(p.Buf, typ, f.epoch, seq, len(payload))
	f.sendMu.Unlock()
	if err != nil {
		return err
	}
	return a.txc.SendRaw(rec)
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
