// Package link connects endpoint packages without exporting their
// internals: a VMP[rx] reaches the packet sink of a DTLS[rx] through it
// (SinkOf), and an association the controls of its DTLS[rx] and DTLS[tx]
// (RxControlOf, TxControlOf).
//
// A DTLS[rx] embeds an RxHandle and a DTLS[tx] a TxHandle, each under an
// unexported alias: the handle's unexported method puts the endpoint in
// RxEndpoint (TxEndpoint), so RxControlOf takes a *dtlsrx.DTLSRx, typed,
// while neither the field nor the method is part of the endpoint's API.
package link

import (
	"net/netip"

	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Sink takes the packets a receive goroutine hands on to another endpoint.
type Sink interface {
	// Deliver takes ownership of p when it returns true; when it returns
	// false (queue full, endpoint stopped) p still belongs to the caller.
	Deliver(p *pktq.Packet) bool
	// Flush tells the sink that a batch of Deliver calls is over, so it
	// signals its event once per batch rather than once per packet.
	Flush()
}

// Source is a port that feeds a Sink. When the port's callers read it
// (vmprx.Config.CallerReads), a Sink whose queue is empty reads the port
// through Poll: it reads and routes what the port has received, without
// waiting, one reader at a time; otherwise Poll does nothing (the port's
// receive goroutine reads and delivers).
//
// self is the Sink that polls: it looks at its own queue right after Poll
// returns, so Poll need not signal it (Flush) for what it routed there.
// When buf is not nil and can hold any datagram, and self (a Fed) is
// still empty once Poll holds the port, Poll may read the first datagram
// straight into buf; if that one is for self it is not handed to self at
// all but returned (ok true, its length and source): it is the next in
// order, with meta, what the kernel reported with it (its zero value when
// the port does not ask: vmprx.Config.RecvMeta). Otherwise buf's content
// is undefined.
//
// PollBatch is Poll with several buffers: it may read the first datagrams
// straight into bufs, and returns how many of them, from the first on,
// are for self and were returned that way (their lengths in sizes, their
// sources in srcs; sizes and srcs are at least as long as bufs). The
// content of the other buffers is undefined.
//
// CallerReads reports whether the port is read by its callers (or will
// be, once configured): no goroutine then delivers to the Sink unasked.
type Source interface {
	Poll(self Sink, buf []byte) (n int, src netip.AddrPort, meta udp.Meta, ok bool)
	PollBatch(self Sink, bufs [][]byte, sizes []int, srcs []netip.AddrPort) int
	CallerReads() bool
}

// Fed is implemented by a Sink that a Source feeds. SetSource replaces
// old with src (either may be nil) and does nothing when the Sink's
// current Source is not old, so a VMP[rx] detaching its port does not
// detach another's; it fails, matching ErrState, when src.CallerReads()
// and the Sink is Terminated. Empty reports whether nothing is queued in
// the Sink: a Source checks it, while no one else can route from its
// port, before it reads a datagram straight into the polling Sink's
// buffer. Terminated reports whether the Sink hands its records to a
// terminated association, which needs them delivered while it reads on
// its own goroutine: such a Sink cannot be fed by a caller-reads port.
type Fed interface {
	SetSource(old, src Source) error
	Empty() bool
	Terminated() bool
}

// RxControl is what a DTLS association drives on its DTLS[rx] in terminated
// mode.
type RxControl interface {
	// Check returns nil while the DTLS[rx] is live (created or running),
	// else the error its methods return.
	Check() error
	// SetRecordSink routes the DTLS records the VMP[rx] hands on to s
	// instead of the DTLS[rx]'s queue, for the rest of the DTLS[rx]'s
	// life, and first hands s the records that queue already holds (they
	// arrived before s was bound). It fails if another association
	// already holds the DTLS[rx].
	SetRecordSink(s Sink) error
	// PushData queues decrypted application data from src for GetPacket,
	// with meta, what the kernel reported with the datagram that carried
	// it (zero: nothing);
	// false means the queue was full (counted as Overrun).
	PushData(p []byte, src netip.AddrPort, meta udp.Meta) bool
	// HandshakeDone reports the completed handshake (status Handshake).
	HandshakeDone()
	// Fail stops the DTLS[rx] with err, which its Err then returns.
	Fail(err error)
	// SetOnStop sets a function the DTLS[rx]'s Stop calls before it
	// reaches Stopped (the association sends close_notify).
	SetOnStop(f func())
	// Module returns the module of the DTLS[rx].
	Module() *core.Module
	// Sink returns the DTLS[rx] as a VMP[rx] port feeds it.
	Sink() Sink
}

// RxHandle holds the RxControl of a DTLS[rx], which embeds it.
type RxHandle struct{ c RxControl }

func (h *RxHandle) rxHandle() *RxHandle { return h }

// RxEndpoint is a type that embeds RxHandle: a *dtlsrx.DTLSRx.
type RxEndpoint interface{ rxHandle() *RxHandle }

// SetRxControl gives the DTLS[rx] that embeds h its control (at Create).
func SetRxControl(h *RxHandle, c RxControl) { h.c = c }

// SinkOf returns the Sink of e, which a VMP[rx] hands the DTLS records of
// its port, or an error for a zero, stopped or destroyed DTLS[rx]. e must
// not be a nil pointer.
func SinkOf(e RxEndpoint) (Sink, error) {
	c, err := RxControlOf(e)
	if err != nil {
		return nil, err
	}
	return c.Sink(), nil
}

// RxControlOf returns the RxControl of e, or an error for a zero, stopped
// or destroyed DTLS[rx]. e must not be a nil pointer.
func RxControlOf(e RxEndpoint) (RxControl, error) {
	c := e.rxHandle().c
	if c == nil {
		return nil, core.ErrNilHandle
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Writer is the association as seen by its DTLS[tx] in terminated mode.
type Writer interface {
	// Write encrypts and sends p as one record.
	Write(p []byte) error
	// Ready reports whether the handshake has completed and Write can
	// send.
	Ready() bool
}

// BatchWriter is a Writer that can encrypt a batch: WriteBatch encrypts
// each of pkts into a record of its own and sends them, in order, in as
// few system calls as it can (TxBatcher). It returns how many were sent;
// on error the rest were not.
type BatchWriter interface {
	Writer
	WriteBatch(pkts [][]byte) (int, error)
}

// TxBatcher is a TxControl that sends a batch of datagrams in one go
// (sendmmsg, with UDP segmentation offload where the kernel has it):
// SendRawBatch sends them, in order, through the DTLS[tx]'s route and
// returns how many were sent; on error the rest were not.
type TxBatcher interface {
	SendRawBatch(pkts [][]byte) (int, error)
}

// TxControl is what a DTLS association drives on its DTLS[tx].
type TxControl interface {
	// Check returns nil while the DTLS[tx] is live (created or running),
	// else the error its methods return.
	Check() error
	// SetWriter makes SendPacket encrypt through w; nil restores
	// pass-through. It fails if another association holds the DTLS[tx].
	SetWriter(w Writer) error
	// SendRaw sends a datagram (a DTLS record) through the DTLS[tx]'s
	// route, bypassing the writer.
	SendRaw(p []byte) error
	// SendRawTo sends a datagram through the DTLS[tx]'s socket to dst
	// instead of its destination (a multi-session listener's peers, a
	// HelloVerifyRequest).
	SendRawTo(p []byte, dst netip.AddrPort) error
	// Destination returns where the DTLS[tx] sends (invalid when not yet
	// known).
	Destination() (netip.AddrPort, error)
	// SetDestination sets where the DTLS[tx] sends (a learned peer).
	SetDestination(dst netip.AddrPort) error
	// LocalAddr returns where the DTLS[tx] sends from.
	LocalAddr() (netip.AddrPort, error)
	// CapacityChanged re-evaluates HasCapacity and signals if it holds.
	CapacityChanged()
	// SetOnStop sets a function the DTLS[tx]'s Stop calls first.
	SetOnStop(f func())
}

// TxHandle holds the TxControl of a DTLS[tx], which embeds it.
type TxHandle struct{ c TxControl }

func (h *TxHandle) txHandle() *TxHandle { return h }

// TxEndpoint is a type that embeds TxHandle: a *dtlstx.DTLSTx.
type TxEndpoint interface{ txHandle() *TxHandle }

// SetTxControl gives the DTLS[tx] that embeds h its control (at Create).
func SetTxControl(h *TxHandle, c TxControl) { h.c = c }

// TxControlOf returns the TxControl of e, or an error for a zero, stopped
// or destroyed DTLS[tx]. e must not be a nil pointer.
func TxControlOf(e TxEndpoint) (TxControl, error) {
	c := e.txHandle().c
	if c == nil {
		return nil, core.ErrNilHandle
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}
