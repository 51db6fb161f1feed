// Package link connects endpoint packages without exporting their
// internals: a VMP[rx] reaches the packet sink of a DTLS[rx] through it.
// Package dtlsrx sets DTLSRx in its init; package vmprx imports dtlsrx, so
// the hook is set before vmprx can use it.
package link

import "github.com/mediaport/mediaport/internal/pktq"

// Sink takes the packets a receive goroutine hands on to another endpoint.
type Sink interface {
	// Deliver takes ownership of p when it returns true; when it returns
	// false (queue full, endpoint stopped) p still belongs to the caller.
	Deliver(p *pktq.Packet) bool
	// Flush tells the sink that a batch of Deliver calls is over, so it
	// signals its event once per batch rather than once per packet.
	Flush()
}

// DTLSRx returns the Sink of a *dtlsrx.DTLSRx given as any, or an error
// for a nil, zero or destroyed one.
var DTLSRx func(rx any) (Sink, error)
