package association

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/mediaport/mediaport/internal/dtlsrecord"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// receive takes a datagram of records from the peer on our path: deliver
// has checked that it holds whole records of epochs 0 and 1 only, and no
// epoch-0 alert or data. Each record is opened in place in p's buffer;
// the application data goes to the DTLS[rx] (one copy into its queue).
func (a *Association) receive(f *fastPath, p *pktq.Packet) {
	a.records.Add(1)
	a.receiveRecords(f, p.Bytes(), true, p.Meta)
	a.mod.Packets.Put(p)
}

// batchQueue is a DTLS[rx] control that queues data without signalling
// its event (dtlsrx's; a Listener's sessions push one by one).
type batchQueue interface {
	QueueData(p []byte, src netip.AddrPort, meta udp.Meta) bool
	Signal()
}

// pushData hands the application data of a record to the DTLS[rx]. In a
// batch (the VMP[rx] routing datagrams, which ends with Flush) it is only
// queued, and flush signals once: a reader waiting for it wakes once per
// batch, which on a loopback pair is most of the cost of a record.
func (a *Association) pushData(pt []byte, batch bool, meta udp.Meta) {
	if q, ok := a.rxc.(batchQueue); ok && batch {
		if q.QueueData(pt, a.Peer(), meta) {
			a.queued.Store(true)
		}
		return
	}
	a.rxc.PushData(pt, a.Peer(), meta)
}

// receiveRecords handles the records of one datagram on our path:
//
//   - epoch 0 (the peer repeating a flight of the handshake): nothing; its
//     Finished, in epoch 1, follows in the same flight;
//   - a sequence number the replay window has seen, or below it: dropped
//     and counted (Replayed);
//   - a record that does not authenticate: dropped and counted
//     (Unauthentic), silently (RFC 6347 §4.1.2.7);
//   - application data: to the DTLS[rx];
//   - a handshake record (the peer's Finished again): a server sends its
//     last flight again;
//   - an alert: close_notify closes (answered with ours), a fatal one
//     fails the association, a warning is ignored.
func (a *Association) receiveRecords(f *fastPath, b []byte, batch bool, meta udp.Meta) {
	for len(b) > 0 {
		rec, rest, ok := dtlsrecord.Split(b)
		if !ok {
			a.malformed.Add(1)
			return
		}
		b = rest
		h, _ := dtlsrecord.ParseHeader(rec)
		if h.Epoch == 0 {
			continue
		}
		if h.Epoch != f.epoch {
			a.rejected.Add(1)
			continue
		}
		f.recvMu.Lock()
		if !f.window.Check(h.Seq) {
			f.recvMu.Unlock()
			a.replayed.Add(1)
			continue
		}
		_, pt, err := f.remote.Open(rec)
		if err != nil {
			f.recvMu.Unlock()
			a.unauthentic.Add(1)
			continue
		}
		f.window.Accept(h.Seq)
		f.recvMu.Unlock()
		switch h.Type {
		case dtlsrecord.ApplicationData:
			if len(pt) > 0 {
				a.pushData(pt, batch, meta)
			}
		case dtlsrecord.Handshake:
			if !f.isClient {
				a.resendFlight(f)
			}
		case dtlsrecord.Alert:
			if len(pt) == 2 && a.alert(f, pt[0], AlertDescription(pt[1])) {
				return
			}
		}
	}
}

// alert acts on an alert the peer sent after the handshake and reports
// whether it ended the association.
//
// While the handshake goroutine still runs (establishFast opens what came
// during the takeover), an ending alert is only noted: ending stops the
// endpoints, whose Stop waits for that goroutine, which acts on it after.
func (a *Association) alert(f *fastPath, level uint8, d AlertDescription) bool {
	if d != AlertCloseNotify && level != 2 {
		return false
	}
	a.mu.Lock()
	if a.deferAlerts {
		if !a.hasPending {
			a.pending, a.hasPending = [2]byte{level, byte(d)}, true
		}
		a.mu.Unlock()
		return true
	}
	a.mu.Unlock()
	switch {
	case d == AlertCloseNotify:
		a.closeNotify(f)
		a.end(io.EOF)
		return true
	case level == 2:
		a.end(fmt.Errorf("association: %w", &AlertError{Description: d, Fatal: true, Received: true}))
		return true
	}
	return false
}

// end ends an association on our path with err (io.EOF: the peer
// closed), once.
func (a *Association) end(err error) {
	if !a.ended.CompareAndSwap(false, true) {
		return
	}
	a.ready.Store(false)
	a.finish(err)
}
