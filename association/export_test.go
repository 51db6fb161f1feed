package association

import (
	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport/internal/dtlsrecord"
	"github.com/mediaport/mediaport/internal/pktq"
)

// Deliver hands a record datagram to a as its DTLS[rx] does (link.Sink).
func Deliver(a *Association, p *pktq.Packet) bool { return recordSink{a}.Deliver(p) }

// Flush ends a batch of Deliver calls (link.Sink).
func Flush(a *Association) { recordSink{a}.Flush() }

// Write encrypts p as the DTLS[tx]'s SendPacket does (link.Writer).
func Write(a *Association, p []byte) error { return writer{a}.Write(p) }

// RecordPath reports whether a runs on mediaport's record path (the
// record layer taken over from pion after the handshake).
func RecordPath(a *Association) bool { return a.fast.Load() != nil }

// SessionRecordPath is RecordPath for a Listener's session.
func SessionRecordPath(s *Session) bool { return RecordPath(s.a) }

// FastSuites are the suites mediaport offers whose records take its own
// path, in the order it offers them.
func FastSuites() []dtls.CipherSuiteID {
	var ids []dtls.CipherSuiteID
	for _, id := range append(append([]dtls.CipherSuiteID(nil), ecdsaSuites...), pskSuites...) {
		if _, ok := dtlsrecord.SuiteFor(uint16(id)); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// FlightsResent returns how often a's record path sent its final flight
// again.
func FlightsResent(a *Association) uint64 {
	if f := a.fast.Load(); f != nil {
		return f.resent.Load()
	}
	return 0
}
