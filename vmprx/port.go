package vmprx

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/rxloop"
	"github.com/mediaport/mediaport/internal/udp"
)

// Reading the ports. Each socket has one reader at a time (see
// ARCHITECTURE.md, "The receive path"):
//
//   - By default (port reads) the port's receive goroutine is the only
//     reader: it waits for the socket to become readable holding no
//     buffer, takes a reader from the module-wide pool, reads and routes
//     until the socket is empty, and gives the reader back. GetPacket and
//     the DTLS[rx]'s GetPacket only pop their queues.
//   - With Config.CallerReads no goroutine reads: the port's watcher waits
//     for readability (holding no buffer) and signals the port's
//     consumers; their GetPacket, GetPackets and Status read the socket
//     themselves, one at a time (port.mu), until a read finds it empty,
//     which arms the watcher again (rxloop.Watch decides).

// maxDrain bounds the datagrams the receive goroutine reads before it
// signals, so that a backlog wakes the application once but the first
// packet is not held back for long; maxPoll bounds those one caller read
// takes while it finds nothing for itself.
const (
	maxDrain = 64
	maxPoll  = 128
)

// port is one bound socket of a VMP[rx] and its reading state.
type port struct {
	v           *VMPRx
	idx         int // 0 RTP, 1 RTCP
	conn        *udp.Conn
	fd          int // conn's descriptor, for the callers' reads (under mu, until closed)
	gro         bool
	meta        bool // Config.RecvMeta
	callerReads bool

	// mu serialises the readers of a caller-reads port and guards what
	// follows; the receive goroutine of a port-reads port, its only
	// reader, takes it too (uncontended) while it reads.
	mu       sync.Mutex
	rd       *reader // taken from the pool while the socket is being read
	b        batch
	closed   bool
	done     chan struct{} // made by sleep, closed by close
	w        rxloop.Watch  // caller reads
	arm      chan struct{} // caller reads: wakes the parked watcher (capacity 1), and at close
	timer    clock.Timer   // caller reads: the Watch's delay
	timerGen uint64        // which timer is the current one (mu)
	drops    uint32        // the kernel's drop count last read (noteDrops)
}

// reader is a batch reader and the pooled packets its slots read into,
// lent to a port while its socket has datagrams.
type reader struct {
	key   readerKey
	rd    *udp.Reader
	slots []*pktq.Packet // nil with GRO (the reader has buffers of its own)
	spare *pktq.Packet   // GRO: the packet the next datagram is copied into
}

type readerKey struct {
	n, size int
	gro     bool
	meta    bool // reports the receive metadata (Config.RecvMeta)
}

// readers holds a sync.Pool of idle readers per shape; the packets in
// their slots are all alike for one size, whichever module's pool they
// came from.
var readers sync.Map // readerKey -> *sync.Pool

func getReader(m *core.Module, gro, meta bool, c *udp.Conn) *reader {
	k := readerKey{n: m.Limits.Batch, size: m.Limits.MaxPacket, gro: gro, meta: meta}
	if gro {
		k.n, k.size = GROSlots, udp.GROBufSize
	}
	pl, ok := readers.Load(k)
	if !ok {
		pl, _ = readers.LoadOrStore(k, &sync.Pool{})
	}
	r, _ := pl.(*sync.Pool).Get().(*reader)
	if r == nil {
		r = newReader(m, k)
	}
	r.rd.SetConn(c)
	return r
}

func newReader(m *core.Module, k readerKey) *reader {
	r := &reader{key: k}
	if k.gro {
		r.rd = udp.NewReader(nil, k.n, k.size)
		r.rd.EnableGRO() // reports coalesced runs; the socket's side is set at Config
	} else {
		r.rd = udp.NewReader(nil, k.n, 0)
		r.slots = make([]*pktq.Packet, k.n)
		for i := range r.slots {
			r.slots[i] = m.Packets.Get()
			r.rd.Msgs[i].Buf = r.slots[i].Buf
		}
	}
	r.rd.EnableDropCount() // the kernel's drops (noteDrops), where it counts them
	if k.meta {
		r.rd.EnableMeta() // receive time, TTL, TOS; the socket's side is set at Config
	}
	return r
}

func putReader(r *reader) {
	r.rd.SetConn(nil)
	if pl, ok := readers.Load(r.key); ok {
		pl.(*sync.Pool).Put(r)
	}
}

// newPort prepares port idx of v on conn.
func (v *VMPRx) newPort(idx int, conn *udp.Conn, cfg Config) (*port, error) {
	pt := &port{v: v, idx: idx, conn: conn, fd: conn.FD(), gro: cfg.GRO, meta: cfg.RecvMeta, callerReads: cfg.CallerReads}
	if cfg.GRO {
		if err := conn.EnableGRO(); err != nil {
			return nil, err
		}
	}
	if cfg.RecvMeta {
		if err := conn.EnableRecvMeta(); err != nil {
			return nil, err
		}
	}
	if err := conn.EnableDropCount(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}
	if err := setReadBuffer(conn, cfg.ReadBuffer); err != nil {
		return nil, err
	}
	if cfg.CallerReads {
		pt.arm = make(chan struct{}, 1)
	}
	return pt, nil
}

// start starts the port's goroutine.
func (pt *port) start() {
	pt.v.wg.Add(1)
	if pt.callerReads {
		go pt.watch()
	} else {
		go pt.receive()
	}
}

// close closes the socket; the port's goroutine ends (release waits for
// it). A caller reading is let finish first.
func (pt *port) close() {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.closed = true
	if pt.done != nil {
		close(pt.done)
	}
	if pt.arm != nil {
		select {
		case pt.arm <- struct{}{}: // the watcher sees closed
		default:
		}
	}
	pt.w.Close()
	if pt.timer != nil {
		pt.timer.Stop()
	}
	pt.conn.Close()
	if pt.callerReads && pt.rd != nil {
		putReader(pt.rd)
		pt.rd = nil
	}
}

// receive is the goroutine of a port-reads port: the socket's only
// reader. Its frame stays small (the errors are handled in failed): it
// lies under every datagram's routing, and a goroutine whose stack grows
// past its first 2 kB, as one routing a handshake's records through a
// large frame would, keeps the 4 kB for the rest of its life.
func (pt *port) receive() {
	defer pt.v.wg.Done()
	var bo rxloop.Backoff
	for {
		err := pt.conn.WaitReadable()
		if err == nil {
			err = pt.drain()
		}
		if err == nil {
			bo.OK()
			continue
		}
		if !pt.failed(err, &bo) {
			return
		}
	}
}

// failed handles an error of the receive goroutine's read and reports
// whether the goroutine goes on: not when the port closed, nor when the
// errors reached the backoff's limit (the VMP[rx] then fails).
//
//go:noinline
func (pt *port) failed(err error, bo *rxloop.Backoff) bool {
	v := pt.v
	switch {
	case errors.Is(err, net.ErrClosed):
		return false
	case udp.Transient(err):
		// An ICMP error answering an earlier send: it is gone once read.
		v.mod.Log.Debug("vmprx receive", "port", pt.conn.LocalAddr(), "err", err)
		return true
	}
	d, stop := bo.Fail()
	v.mod.Log.Warn("vmprx receive", "port", pt.conn.LocalAddr(), "err", err, "errors", bo.Failures())
	if stop {
		v.fail(err)
		return false
	}
	return pt.sleep(d)
}

// drain reads and routes what the socket holds until it is empty, with a
// reader from the pool, signalling every maxDrain datagrams.
func (pt *port) drain() error {
	v := pt.v
	pt.mu.Lock() // uncontended: for tests that hold the port (HoldPorts)
	defer pt.mu.Unlock()
	r := getReader(v.mod, pt.gro, pt.meta, pt.conn)
	defer putReader(r)
	defer v.endBatch(&pt.b)
	for read := 0; ; {
		n, err := r.rd.TryRead()
		if err != nil {
			return err
		}
		v.route(pt, r, 0, n)
		if n < len(r.rd.Msgs) {
			return nil // the socket is empty
		}
		if read += n; read >= maxDrain {
			v.endBatch(&pt.b)
			read = 0
		}
	}
}

// sleep waits d on the module's clock; false when the port closed.
func (pt *port) sleep(d time.Duration) bool {
	pt.mu.Lock()
	if pt.closed {
		pt.mu.Unlock()
		return false
	}
	if pt.done == nil {
		pt.done = make(chan struct{})
	}
	done := pt.done
	pt.mu.Unlock()
	ch := make(chan struct{})
	t := pt.v.mod.Clock.AfterFunc(d, func() { close(ch) })
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// watch is the goroutine of a caller-reads port: it waits for the socket
// to become readable, signals the port's consumers and parks until a
// reader finds the socket empty (or an error's delay passes).
func (pt *port) watch() {
	defer pt.v.wg.Done()
	for {
		err := pt.conn.WaitReadable()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil && udp.Transient(err) {
			continue
		}
		pt.mu.Lock()
		if pt.closed {
			pt.mu.Unlock()
			return
		}
		var act rxloop.Action
		var d time.Duration
		if err == nil {
			act = pt.w.Readable()
		} else {
			act, d = pt.w.Error()
		}
		stopped := pt.w.State() == rxloop.Stopped
		pt.do(act, d, err)
		pt.mu.Unlock()
		if stopped {
			return
		}
		<-pt.arm // an Arm, or close
	}
}

// do performs what the Watch decided; pt.mu is held.
func (pt *port) do(act rxloop.Action, d time.Duration, err error) {
	if act&rxloop.Signal != 0 {
		pt.signal()
	}
	if act&rxloop.Arm != 0 {
		select {
		case pt.arm <- struct{}{}:
		default:
		}
	}
	if act&rxloop.Wait != 0 {
		pt.v.mod.Log.Warn("vmprx receive", "port", pt.conn.LocalAddr(), "err", err, "errors", pt.w.Backoff.Failures())
		if pt.timer != nil {
			pt.timer.Stop()
		}
		// A replaced timer's callback may already wait for mu: the
		// generation tells it that its delay is no longer the current one.
		pt.timerGen++
		gen := pt.timerGen
		pt.timer = pt.v.mod.Clock.AfterFunc(d, func() {
			pt.mu.Lock()
			if gen == pt.timerGen {
				pt.do(pt.w.Elapsed(), 0, nil)
			}
			pt.mu.Unlock()
		})
	}
	if act&rxloop.Stop != 0 {
		pt.v.fail(err)
	}
}

// signal signals the consumers of a caller-reads port: the VMP[rx] and
// the DTLS[rx]s that take its DTLS.
func (pt *port) signal() {
	v := pt.v
	v.ep.Signal()
	if ref := v.dtls[pt.idx].Load(); ref != nil {
		ref.s.Flush()
	}
	if pt.idx == 0 && v.cfg.RTCPMux {
		if ref := v.dtls[1].Load(); ref != nil {
			ref.s.Flush()
		}
	}
}

// read is a consumer's read of a caller-reads port: it reads and routes,
// without waiting, one batch, and more while the socket may hold more and
// nothing came for the caller, up to maxPoll datagrams. self, when not
// nil, is the DTLS[rx] that reads: it is not signalled for what read
// routes to it (it looks at its queue next). The first datagrams go
// straight into d's buffers when these can hold any datagram and self's
// queue is empty (then they are the next in order): read returns how many
// of them, from the first, are for self (link.Source). d.q, when not nil,
// is the VMP[rx]'s queue, for a read on its behalf.
func (pt *port) read(self link.Sink, d *direct) (got int) {
	v := pt.v
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.closed {
		return 0
	}
	for read := 0; ; {
		if pt.rd == nil {
			pt.rd = getReader(v.mod, pt.gro, pt.meta, pt.conn)
		}
		r := pt.rd
		k := 0
		if read == 0 && self != nil && r.slots != nil && emptySink(self) {
			for k < len(r.rd.Msgs) && k < d.len() && len(d.buf(k)) >= len(r.slots[k].Buf) {
				r.rd.Msgs[k].Buf = d.buf(k)
				k++
			}
		}
		// On the descriptor: the watcher may be waiting in the socket's
		// poller, which admits one reader. close waits for mu.
		n, err := r.rd.TryReadFD(pt.fd)
		if err != nil {
			n = 0
		}
		first := 0 // the datagrams [0, first) went to self directly
		for i := 0; i < k; i++ {
			m := &r.rd.Msgs[i]
			m.Buf = r.slots[i].Buf
			if i >= n {
				continue
			}
			if m.N > len(m.Buf) { // fits the caller's buffer, not MaxPacket
				m.N, m.Trunc = len(m.Buf), true
			}
			if first == i && v.forSelf(pt.idx, d.buf(i)[:m.N], m.Trunc, self) && v.dtlsPermitted(m.Src) {
				d.set(i, m.N, m.Src, &m.Meta)
				first++
			} else {
				copy(m.Buf, d.buf(i)[:m.N]) // routed as usual, as is every later one
			}
		}
		if first > 0 {
			v.count[cDTLS].Add(uint64(first)) // routed to self, as it were
			got += first
		}
		v.route(pt, r, first, n)
		read += n
		if self != nil && pt.b.flush == self {
			pt.b.flush = nil
		}
		v.endBatch(&pt.b)

		var act rxloop.Action
		var delay time.Duration
		more := false
		switch {
		case err == nil:
			more = n == len(r.rd.Msgs)
			mine := got > 0 || (self != nil && !emptySink(self)) || (d.q != nil && d.q.Pending())
			if more && !mine && read < maxPoll {
				pt.w.Read(true) // reads on: no one to signal
				continue
			}
			// More may wait: Signal tells every consumer, not only the
			// caller, which may stop reading before the socket is empty.
			act = pt.w.Read(more)
		case errors.Is(err, net.ErrClosed):
			return got
		case udp.Transient(err):
			if read++; read < maxPoll {
				continue // an ICMP error was read; datagrams may follow
			}
			more = true
			act = pt.w.Read(true)
		default:
			act, delay = pt.w.Error()
		}
		if !more {
			putReader(r)
			pt.rd = nil
		}
		pt.do(act, delay, err)
		return got
	}
}

// direct is where a read may put datagrams for the reading DTLS[rx]: one
// buffer (GetPacket, with n and src set for it) or several (GetPackets,
// with their sizes and sources).
type direct struct {
	q     *pktq.Queue // the VMP[rx]'s, when it reads (self nil)
	one   []byte
	n     int
	src   netip.AddrPort
	meta  udp.Meta // with one: the datagram's metadata
	bufs  [][]byte
	sizes []int
	srcs  []netip.AddrPort
}

func (d *direct) len() int {
	if d.bufs != nil {
		return len(d.bufs)
	}
	if d.one != nil {
		return 1
	}
	return 0
}

func (d *direct) buf(i int) []byte {
	if d.bufs != nil {
		return d.bufs[i]
	}
	return d.one
}

func (d *direct) set(i, n int, src netip.AddrPort, meta *udp.Meta) {
	if d.bufs != nil {
		d.sizes[i], d.srcs[i] = n, src
		return
	}
	d.n, d.src, d.meta = n, src, *meta
}

// source is port idx of a VMP[rx] as a DTLS[rx] reads it (link.Source).
type source struct {
	v   *VMPRx
	idx int
}

func (s *source) Poll(self link.Sink, buf []byte) (int, netip.AddrPort, udp.Meta, bool) {
	pt := s.port()
	if pt == nil {
		return 0, netip.AddrPort{}, udp.Meta{}, false
	}
	d := direct{one: buf}
	got := pt.read(self, &d)
	return d.n, d.src, d.meta, got > 0
}

func (s *source) PollBatch(self link.Sink, bufs [][]byte, sizes []int, srcs []netip.AddrPort) int {
	pt := s.port()
	if pt == nil {
		return 0
	}
	d := direct{bufs: bufs, sizes: sizes, srcs: srcs}
	return pt.read(self, &d)
}

func (s *source) CallerReads() bool { return s.v.callerReads.Load() }

// port returns the caller-reads port the source stands for, or nil.
func (s *source) port() *port {
	pt := s.v.ports[s.idx].Load()
	if pt == nil && s.idx == 1 {
		pt = s.v.ports[0].Load() // "the RTCP port" under rtcp-mux
	}
	if pt == nil || !pt.callerReads {
		return nil
	}
	return pt
}
