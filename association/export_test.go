package association

import "github.com/mediaport/mediaport/internal/pktq"

// Deliver hands a record datagram to a as its DTLS[rx] does (link.Sink).
func Deliver(a *Association, p *pktq.Packet) bool { return recordSink{a}.Deliver(p) }

// Flush ends a batch of Deliver calls (link.Sink).
func Flush(a *Association) { recordSink{a}.Flush() }

// Write encrypts p as the DTLS[tx]'s SendPacket does (link.Writer).
func Write(a *Association, p []byte) error { return writer{a}.Write(p) }
