// Package dtlsrx is Prosody's DTLS[rx] (sm_dtlsrx_*): the endpoint that
// receives the DTLS packets arriving on a VMP[rx]'s port.
//
// A DTLS[rx] is created on a module and attached to a VMP[rx] with
// vmprx.VMPRx.ConfigDTLS. In pass-through mode (what Prosody does) it queues
// the raw DTLS records that arrive, for the application's own DTLS stack to
// read with GetPacket:
//
//	rx, _ := dtlsrx.Create(mod)
//	v.ConfigDTLS(rx, false) // DTLS arriving on the RTP port
//	ev, _ := rx.Event()
//	for ev.Wait(ctx) == nil {
//		switch st, _ := rx.Status(); st {
//		case dtlsrx.HasPacket:
//			n, src, err := rx.GetPacket(buf)
//			...
//		case dtlsrx.Overrun: // records were lost: the queue was full
//		case dtlsrx.Stopped:
//			return
//		}
//	}
package dtlsrx

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Status is what Status reports (kSMDTLSrxStatus).
type Status int

const (
	// Running: nothing significant to report.
	Running Status = iota
	// Stopped: the DTLS[rx] has stopped (final status) and can be
	// destroyed; its event is signalled permanently.
	Stopped
	// HasPacket: a DTLS packet is available to GetPacket.
	HasPacket
	// Overrun: packets were lost because the queue was full. Reported
	// once per overflow episode; reading it clears it.
	Overrun
	// Handshake: in terminated mode, the DTLS handshake has completed
	// (RIOT's -SOCK_DTLS_HANDSHAKE). Reported once, before any
	// application data.
	Handshake
)

func (s Status) String() string {
	switch s {
	case Running:
		return "Running"
	case Stopped:
		return "Stopped"
	case HasPacket:
		return "HasPacket"
	case Overrun:
		return "Overrun"
	case Handshake:
		return "Handshake"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Options configure a DTLS[rx] at Create. The zero value takes the module's
// defaults.
type Options struct {
	// QueueLen bounds the packets queued for GetPacket (default: the
	// module's QueueLen).
	QueueLen int
}

// Stats counts what a DTLS[rx] received.
type Stats struct {
	Packets uint64 // packets queued
	Bytes   uint64 // bytes queued
	Overrun uint64 // packets lost because the queue was full
}

// DTLSRx is a DTLS[rx] endpoint. Its methods are safe for concurrent use.
// A nil or zero DTLSRx returns ErrNilHandle from every method.
type DTLSRx struct {
	linkRx // the control a terminated association drives (link.RxControlOf)

	ep *core.Endpoint
	q  *pktq.Queue // returns packets to the module's pool, ep.Module().Packets

	// Terminated mode: records go to the association's sink; it pushes
	// decrypted data into q. Records queued in q before the association
	// was bound are handed over to it (handOver, under handMu); while
	// that runs (handing), new records queue behind them, so the
	// association gets them all in order.
	records atomic.Pointer[recordSink]
	handMu  sync.Mutex
	handing atomic.Bool
	hsDone  bool // Handshake to report (under mu; here, by handing, to save padding)
	// source is the VMP[rx] port that feeds it, read by GetPacket when
	// its callers read it.
	source atomic.Pointer[sourceRef]
	mu     sync.Mutex
	onStop func()

	packets, bytes atomic.Uint64
}

// linkRx is unexported so that the embedded handle is no part of the API.
type linkRx = link.RxHandle

type recordSink struct{ s link.Sink }

type sourceRef struct{ s link.Source }

// Create allocates a DTLS[rx] on mod (sm_dtlsrx_create). It is Running at
// once; it receives packets once a VMP[rx] is configured to pass DTLS to it.
func Create(mod *mediaport.Module, opts ...Options) (*DTLSRx, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.QueueLen < 0 {
		return nil, fmt.Errorf("dtlsrx: %w: QueueLen %d", mediaport.ErrInvalidArgument, o.QueueLen)
	}
	if o.QueueLen == 0 {
		o.QueueLen = m.Limits.QueueLen
	}
	r := &DTLSRx{q: pktq.NewQueue(o.QueueLen, m.Packets)}
	r.ep, err = m.NewEndpoint((*owner)(r))
	if err != nil {
		return nil, err
	}
	link.SetRxControl(&r.linkRx, control{r})
	r.ep.SetRunning()
	return r, nil
}

func (r *DTLSRx) endpoint() *core.Endpoint {
	if r == nil {
		return nil
	}
	return r.ep
}

// Event returns the DTLS[rx]'s event (sm_dtlsrx_get_event). It is signalled
// when the status changes: while packets are queued, after an overflow, and
// permanently once stopped. It stays valid (signalled) after Destroy.
func (r *DTLSRx) Event() (*event.Event, error) {
	if err := r.endpoint().CheckAlive(); err != nil {
		return nil, err
	}
	return r.ep.Event(), nil
}

// Status returns the current status (sm_dtlsrx_status): Stopped once
// stopped (Err tells why); else Handshake once after a terminated
// association's handshake; else Overrun once per overflow episode; else
// HasPacket while a packet is queued; else Running. While another status
// remains to be reported, the event is signalled again. Fed by a VMP[rx]
// with CallerReads, with nothing queued, it first reads that VMP[rx]'s
// port, as GetPacket does.
func (r *DTLSRx) Status() (Status, error) {
	if err := r.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if !r.q.Pending() && r.records.Load() == nil && r.ep.Check() == nil {
		if src := r.source.Load(); src != nil && src.s.CallerReads() {
			src.s.Poll(sink{r}, nil) // routes into the queue
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ep.State() == core.Stopped {
		return Stopped, nil
	}
	st := Running
	switch {
	case r.hsDone:
		r.hsDone = false
		st = Handshake
	case r.q.TakeOverrun():
		st = Overrun
	case r.q.Len() > 0:
		st = HasPacket
	}
	if r.q.Pending() {
		r.ep.Signal() // level-triggered: the cause remains
	}
	return st, nil
}

// Err returns why the DTLS[rx] ended: nil while it runs, after Stop and
// when its terminated association closed cleanly (close_notify); when the
// association failed (handshake failure, fatal alert, handshake timeout),
// an error matching ErrAssociation that wraps the association's. After
// Destroy it returns an error matching ErrDestroyed; on a nil handle,
// ErrNilHandle.
func (r *DTLSRx) Err() error { return r.endpoint().Err() }

// ErrAssociation is matched by the error Err returns after a terminated
// association failed.
var ErrAssociation = errors.New("dtlsrx: DTLS association failed")

// GetPacket copies the oldest queued packet into buf and returns its length
// and the address it came from (sm_dtlsrx_get_packet). When buf is shorter
// than the packet it returns the packet's length and an error matching
// ErrBufferTooSmall, and the packet stays queued. With nothing queued it
// returns 0 and ErrNoPacket; fed (in pass-through mode) by a VMP[rx] with
// Config.CallerReads, it first reads what that VMP[rx]'s port has
// received — on the caller's goroutine, routing every datagram read as a
// receive goroutine would — the next record for it straight into buf.
// After Stop, packets queued before the stop can still be read; then it
// returns ErrStopped.
func (r *DTLSRx) GetPacket(buf []byte) (int, netip.AddrPort, error) {
	return r.getPacket(buf, nil)
}

// GetPacketMeta is GetPacket that also returns what the kernel reported
// with the packet's datagram — receive time, TTL, TOS — when the VMP[rx]
// port that feeds this DTLS[rx] has vmprx.Config.RecvMeta; the zero
// RecvMeta otherwise (and for data an association pushed).
func (r *DTLSRx) GetPacketMeta(buf []byte) (int, netip.AddrPort, mediaport.RecvMeta, error) {
	var m udp.Meta
	n, src, err := r.getPacket(buf, &m)
	var meta mediaport.RecvMeta
	if m != (udp.Meta{}) {
		meta = mediaport.RecvMeta{Time: m.WallTime(), TTL: m.TTL, TOS: m.TOS, Has: mediaport.RecvFlags(m.Flags)}
	}
	return n, src, meta, err
}

// getPacket is GetPacket; meta, when not nil, gets the packet's receive
// metadata.
func (r *DTLSRx) getPacket(buf []byte, meta *udp.Meta) (int, netip.AddrPort, error) {
	if err := r.endpoint().CheckAlive(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	// Pending first: when nothing is queued, which is the rule for a
	// reader that keeps up, this costs a load and no Popped at all.
	var pp pktq.Popped
	var ok bool
	var err error
	if r.q.Pending() {
		pp, ok, err = r.q.Pop(buf)
	}
	if !ok && r.records.Load() == nil {
		// A caller-reads port is read by its consumers: read it ourselves.
		// (For a port-reads port Poll does nothing: its receive goroutine
		// is the only reader.)
		if src := r.source.Load(); src != nil {
			var direct []byte
			if r.ep.Check() == nil {
				direct = buf // a stopped DTLS[rx] takes no new packet
			}
			if n, from, m, got := src.s.Poll(sink{r}, direct); got {
				if meta != nil {
					*meta = m
				}
				r.packets.Add(1)
				r.bytes.Add(uint64(n))
				if r.q.Pending() {
					r.ep.Signal() // Poll queued more and did not signal us
				}
				return n, from, nil
			}
			pp, ok, err = r.q.Pop(buf)
		}
	}
	if !ok {
		if err := r.ep.Check(); err != nil {
			return 0, netip.AddrPort{}, err
		}
		if pp.More {
			r.ep.Signal() // an Overrun to report
		}
		return 0, netip.AddrPort{}, ErrNoPacket
	}
	if meta != nil {
		*meta = pp.Meta
	}
	if err != nil {
		return pp.N, pp.Src, fmt.Errorf("dtlsrx: %w: packet of %d bytes, buffer of %d", err, pp.N, len(buf))
	}
	if pp.More {
		r.ep.Signal()
	}
	return pp.N, pp.Src, nil
}

// GetPackets is GetPacket for a batch, the way a server that takes bursts
// reads: it copies up to len(bufs) packets, oldest first, into bufs[i],
// sets sizes[i] to the length and srcs[i] to the source of each, and
// returns how many. sizes and srcs must be at least as long as bufs. Fed
// by a VMP[rx] with Config.CallerReads, with its queue empty, it reads
// the feeding port as GetPacket does; the datagrams for this DTLS[rx]
// that the port returns first are read straight into bufs, up to one
// read of the port's batch
// (mediaport.Options.Batch) — without a queue or a second copy — as long
// as the buffers hold mediaport.Options.MaxPacket bytes (2048 by default;
// the run stops at the first shorter one). A buffer shorter than the next
// packet ends the batch there; that packet stays queued, and when it is
// the first GetPackets returns 0, its length in sizes[0] and an error
// matching ErrBufferTooSmall. With nothing to return it returns 0 and
// ErrNoPacket, or ErrStopped after Stop once the queue is empty; with no
// buffers, 0 and no error.
func (r *DTLSRx) GetPackets(bufs [][]byte, sizes []int, srcs []netip.AddrPort) (int, error) {
	if err := r.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if len(sizes) < len(bufs) || len(srcs) < len(bufs) {
		return 0, fmt.Errorf("dtlsrx: %w: %d buffers, %d sizes, %d sources", mediaport.ErrInvalidArgument, len(bufs), len(sizes), len(srcs))
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	n, more := 0, false
	pop := func() error {
		for n < len(bufs) {
			pp, ok, err := r.q.Pop(bufs[n])
			more = more || pp.More
			if !ok {
				return nil
			}
			if err != nil {
				if n == 0 {
					sizes[0], srcs[0] = pp.N, pp.Src
					return fmt.Errorf("dtlsrx: %w: packet of %d bytes, buffer of %d", err, pp.N, len(bufs[0]))
				}
				return nil // the next call reports it
			}
			sizes[n], srcs[n] = pp.N, pp.Src
			n++
		}
		return nil
	}
	if err := pop(); err != nil {
		return 0, err
	}
	if n < len(bufs) && r.records.Load() == nil && r.ep.Check() == nil {
		// The queue is empty: read the feeding port ourselves, as
		// GetPacket does.
		if src := r.source.Load(); src != nil {
			k := src.s.PollBatch(sink{r}, bufs[n:], sizes[n:], srcs[n:])
			if k > 0 {
				r.packets.Add(uint64(k))
				var b uint64
				for _, l := range sizes[n : n+k] {
					b += uint64(l)
				}
				r.bytes.Add(b)
				n += k
			}
			if err := pop(); err != nil && n == 0 {
				return 0, err
			}
		}
	}
	if n == 0 {
		if err := r.ep.Check(); err != nil {
			return 0, err
		}
		if more {
			r.ep.Signal() // an Overrun to report
		}
		return 0, ErrNoPacket
	}
	if more || r.q.Pending() {
		r.ep.Signal()
	}
	return n, nil
}

// ErrNoPacket is returned by GetPacket when no packet is queued.
// It is mediaport.ErrNoPacket.
var ErrNoPacket = mediaport.ErrNoPacket

// Stats returns the DTLS[rx]'s counters.
func (r *DTLSRx) Stats() (Stats, error) {
	if err := r.endpoint().CheckAlive(); err != nil {
		return Stats{}, err
	}
	return Stats{Packets: r.packets.Load(), Bytes: r.bytes.Load(), Overrun: r.q.Drops()}, nil
}

// Stop stops the DTLS[rx] (sm_dtlsrx_stop): it accepts no more packets,
// reaches its final status Stopped and signals its event permanently.
func (r *DTLSRx) Stop() error {
	if r == nil || r.ep == nil {
		return mediaport.ErrNilHandle
	}
	return r.ep.Stop()
}

// Destroy stops the DTLS[rx] if needed, frees its queue and invalidates the
// handle (sm_dtlsrx_destroy): every later call returns an error matching
// ErrDestroyed. A VMP[rx] still configured to pass DTLS to it counts those
// packets as unrouted.
func (r *DTLSRx) Destroy() error {
	if r == nil || r.ep == nil {
		return mediaport.ErrNilHandle
	}
	if err := r.ep.Destroy(); err != nil {
		return err
	}
	r.q.Reset()
	return nil
}

// release is the lifecycle's stop function.
func (r *DTLSRx) release() {
	r.mu.Lock()
	f := r.onStop
	r.onStop = nil
	r.mu.Unlock()
	if f != nil {
		f()
	}
	r.q.Close()
}

// sink is the DTLS[rx] as seen by a VMP[rx]'s receive goroutine.
type sink struct{ r *DTLSRx }

func (s sink) Deliver(p *pktq.Packet) bool {
	if t := s.r.records.Load(); t != nil && !s.r.handing.Load() {
		return t.s.Deliver(p)
	}
	n := p.N // p belongs to the queue once pushed
	if s.r.ep.Check() != nil || !s.r.q.Push(p) {
		return false
	}
	s.r.packets.Add(1)
	s.r.bytes.Add(uint64(n))
	if t := s.r.records.Load(); t != nil {
		s.r.handOver(t) // bound meanwhile: the record is the association's
	}
	return true
}

// handOver gives association sink t, in order, the raw records queued in
// pass-through mode before t was bound (a ClientHello that arrived before
// Bind, say) or behind them while the bind handed them over, so that none
// of them is lost or later returned by GetPacket as if it were decrypted
// data.
func (r *DTLSRx) handOver(t *recordSink) {
	r.handMu.Lock()
	defer r.handMu.Unlock()
	if r.records.Load() != t {
		return // the bind was refused: the records stay queued
	}
	r.handOverLocked(t)
}

// handOverLocked is handOver with r.handMu held.
func (r *DTLSRx) handOverLocked(t *recordSink) {
	moved := false
	for {
		p, ok := r.q.Take()
		if !ok {
			break
		}
		if !t.s.Deliver(p) {
			r.ep.Module().Packets.Put(p)
		}
		moved = true
	}
	if moved {
		t.s.Flush()
	}
}

func (s sink) Empty() bool { return !s.r.q.Pending() }

func (s sink) Terminated() bool { return s.r.records.Load() != nil }

// SetSource is serialised with SetRecordSink (handMu), so that a
// terminated association and a caller-reads port never meet.
func (s sink) SetSource(old, src link.Source) error {
	var ref *sourceRef
	if src != nil {
		ref = &sourceRef{src}
	}
	s.r.handMu.Lock()
	defer s.r.handMu.Unlock()
	if src != nil && src.CallerReads() && s.r.records.Load() != nil {
		return fmt.Errorf("dtlsrx: %w: a DTLS[rx] bound to a terminated association cannot take DTLS from a VMP[rx] with CallerReads", mediaport.ErrState)
	}
	for {
		cur := s.r.source.Load()
		if (cur == nil && old != nil) || (cur != nil && cur.s != old) {
			return nil // fed by another port
		}
		if s.r.source.CompareAndSwap(cur, ref) {
			return nil
		}
	}
}

func (s sink) Flush() {
	if t := s.r.records.Load(); t != nil {
		t.s.Flush()
		return
	}
	s.r.ep.Signal()
}

// control is the DTLS[rx] as seen by a terminated association.
type control struct{ r *DTLSRx }

func (c control) Check() error { return c.r.ep.Check() }

func (c control) Sink() link.Sink { return sink(c) }

func (c control) SetRecordSink(s link.Sink) error {
	if s == nil {
		return fmt.Errorf("dtlsrx: %w: nil record sink", mediaport.ErrInvalidArgument)
	}
	t := &recordSink{s}
	c.r.handMu.Lock()
	defer c.r.handMu.Unlock()
	if c.r.records.Load() != nil {
		return fmt.Errorf("dtlsrx: %w: already bound to an association", mediaport.ErrState)
	}
	// Until the queue is handed over, Deliver queues behind it.
	c.r.handing.Store(true)
	c.r.records.Store(t)
	// After the store: a VMP[rx] turning CallerReads on meanwhile checks
	// Terminated after its own store, so one of the two sees the other.
	if src := c.r.source.Load(); src != nil && src.s.CallerReads() {
		c.r.records.Store(nil)
		c.r.handing.Store(false)
		return fmt.Errorf("dtlsrx: %w: the VMP[rx] feeding this DTLS[rx] reads on its callers' goroutines (CallerReads): a terminated association needs its records delivered", mediaport.ErrState)
	}
	c.r.handOverLocked(t)
	c.r.handing.Store(false)
	return nil
}

func (c control) PushData(data []byte, src netip.AddrPort, meta udp.Meta) bool {
	if !c.QueueData(data, src, meta) {
		return false
	}
	c.r.ep.Signal()
	return true
}

// QueueData is PushData without the signal: the association queues the
// data of a batch of records and signals once, at the batch's end
// (Signal), so a reader waiting for it wakes once per batch, not once per
// record.
func (c control) QueueData(data []byte, src netip.AddrPort, meta udp.Meta) bool {
	r := c.r
	if r.ep.Check() != nil {
		return false
	}
	p := r.ep.Module().Packets.Get()
	if len(data) > len(p.Buf) {
		r.ep.Module().Packets.Put(p)
		return false
	}
	p.N, p.Src, p.Meta = copy(p.Buf, data), src, meta
	if !r.q.Push(p) {
		r.ep.Module().Packets.Put(p)
		r.ep.Signal()
		return false
	}
	r.packets.Add(1)
	r.bytes.Add(uint64(len(data)))
	return true
}

// Signal signals the DTLS[rx]'s event (after QueueData).
func (c control) Signal() { c.r.ep.Signal() }

func (c control) HandshakeDone() {
	c.r.mu.Lock()
	c.r.hsDone = true
	c.r.mu.Unlock()
	c.r.ep.Signal()
}

func (c control) Fail(err error) {
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrAssociation, err)
	}
	c.r.ep.StopWith(err)
}

func (c control) Module() *core.Module { return c.r.ep.Module() }

func (c control) SetOnStop(f func()) {
	c.r.mu.Lock()
	c.r.onStop = f
	c.r.mu.Unlock()
}

// owner is the DTLS[rx] as its core.Endpoint sees it (core.Owner).
type owner DTLSRx

func (o *owner) Kind() string { return "dtlsrx" }
func (o *owner) Release()     { (*DTLSRx)(o).release() }
