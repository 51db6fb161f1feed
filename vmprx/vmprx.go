// Package vmprx is Prosody's VMP[rx]: the media receive endpoint that owns
// an RTP port and an RTCP port (RTP+1, or one port with rtcp-mux) and
// demultiplexes every datagram that arrives on them by its first byte
// (RFC 7983 / RFC 9443):
//
//   - RTP and RTCP go to the VMP[rx]'s own bounded queue (GetPacket);
//   - DTLS goes to the DTLS[rx] set with ConfigDTLS (sm_vmprx_config_dtls);
//   - STUN goes to the handler set with SetSTUNHandler (a STUN session);
//   - everything else — ZRTP, TURN ChannelData, unknown, short or truncated
//     datagrams, and RTP/RTCP on the wrong port — is dropped and counted
//     (Stats).
//
// Each port has a receive goroutine that waits for traffic and reads it in
// batches (recvmmsg on Linux); a GetPacket that finds its queue empty reads
// the port itself, one reader at a time, so a reader that keeps up is not
// woken by the receive goroutine for every batch. Packet buffers are
// pooled and handed to the queues without copying, so the receive path
// does not allocate in steady state. With Config.GRO the kernel may hand
// a run of datagrams over in one piece, which the port splits again.
package vmprx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Config is the local side of a VMP[rx].
type Config struct {
	// Local is the address to bind; the zero value means any IPv4
	// address. Use netip.IPv6Unspecified() (or an IPv6 address) for IPv6.
	Local netip.Addr
	// RTPPort is the RTP port: even, with RTCP on RTPPort+1 (or on the same
	// port with RTCPMux). 0 allocates a free even/odd pair (one free port
	// with RTCPMux); Ports reports it.
	RTPPort uint16
	// RTCPMux receives RTP and RTCP on one port (RFC 5761), told apart by
	// packet type.
	RTCPMux bool
	// QueueLen bounds the RTP/RTCP queue (default: the module's QueueLen).
	QueueLen int
	// GRO lets the kernel hand a run of datagrams from one source to the
	// port in one piece (UDP_GRO, Linux 5.0 and later), which the VMP[rx]
	// splits again: far fewer system calls for a high-rate flow, such as
	// a peer sending with segmentation offload. Each port then reads into
	// GROSlots buffers of 64 KiB of its own (instead of the module's
	// Batch pooled packets) and copies each datagram out of them. Config
	// fails, matching errors.ErrUnsupported, where the system cannot.
	GRO bool
}

// GROSlots is the number of 64 KiB messages a port with Config.GRO reads
// per system call.
const GROSlots = 8

// Status is what Status reports.
type Status int

const (
	// Running: nothing significant to report.
	Running Status = iota
	// Stopped: the VMP[rx] has stopped (final status); its event is
	// signalled permanently.
	Stopped
	// GotPorts: the ports are bound; Ports returns them. Reported once,
	// after Config.
	GotPorts
	// NewSSRC: RTP from an SSRC not seen before arrived; NewSSRC returns
	// it. Reported once per SSRC (for the first 64 SSRCs).
	NewSSRC
	// HasPacket: an RTP or RTCP packet is available to GetPacket.
	HasPacket
	// Overrun: RTP/RTCP packets were lost because the queue was full.
	// Reported once per overflow episode; reading it clears it.
	Overrun
)

var statusNames = [...]string{"Running", "Stopped", "GotPorts", "NewSSRC", "HasPacket", "Overrun"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Packet describes a packet returned by GetPacket.
type Packet struct {
	Len      int            // bytes copied into the buffer
	Class    Class          // ClassRTP or ClassRTCP
	Src      netip.AddrPort // where it came from
	RTCPPort bool           // it arrived on the RTCP port (never with rtcp-mux)
}

// Stats counts the datagrams a VMP[rx] received, by class and by fate.
type Stats struct {
	RTP, RTCP   uint64 // queued
	DTLS        uint64 // DTLS datagrams received (routed or not)
	STUN        uint64 // STUN datagrams received (handled or not)
	ZRTP        uint64 // dropped: no ZRTP handling
	TURN        uint64 // dropped: TURN ChannelData on a media port
	Unknown     uint64 // dropped: first byte of no known protocol
	Short       uint64 // dropped: empty or shorter than its header
	Truncated   uint64 // dropped: longer than the module's MaxPacket
	Misdirected uint64 // dropped: RTCP on the RTP port or RTP on the RTCP port (without rtcp-mux)

	DTLSUnrouted uint64 // DTLS dropped: no DTLS[rx] configured for that port
	DTLSRefused  uint64 // DTLS dropped: the DTLS[rx] was full or stopped
	STUNUnrouted uint64 // STUN dropped: no handler set
	Overrun      uint64 // RTP/RTCP dropped: the queue was full
	SSRCOverflow uint64 // SSRCs beyond the 64 reported with NewSSRC

	Coalesced uint64 // datagrams that arrived coalesced with others (Config.GRO), whatever their fate
}

// STUNHandler receives the STUN datagrams that arrive on a VMP[rx]'s ports,
// on the goroutine reading the port: its receive goroutine, or one in a
// GetPacket (of the VMP[rx] or of a DTLS[rx] it feeds) that found its
// queue empty and read the socket itself. Calls for one port never
// overlap. pkt is valid only during the call (copy what you keep). Replies
// go out from the same port with SendFrom. The handler must not Stop or
// Destroy the VMP[rx] (that waits for the reading goroutines); it may call
// any other method.
type STUNHandler func(pkt []byte, src netip.AddrPort, rtcpPort bool)

const (
	maxSSRCs   = 64 // SSRCs remembered for NewSSRC
	maxPending = 16 // NewSSRC reports waiting for Status
)

// Counter indexes.
const (
	cRTP = iota
	cRTCP
	cDTLS
	cSTUN
	cZRTP
	cTURN
	cUnknown
	cShort
	cTruncated
	cMisdirected
	cDTLSUnrouted
	cDTLSRefused
	cSTUNUnrouted
	cSSRCOverflow
	cCoalesced
	nCounters
)

// VMPRx is a VMP[rx] endpoint. Its methods are safe for concurrent use. A
// nil or zero VMPRx returns ErrNilHandle from every method.
type VMPRx struct {
	ep  *core.Endpoint
	mod *core.Module
	q   *pktq.Queue

	mu       sync.Mutex
	cfg      Config
	socks    [2]*udp.Conn // RTP, RTCP (RTCP nil with rtcp-mux)
	gotPorts bool         // GotPorts to report
	known    map[uint32]struct{}
	pending  []uint32 // NewSSRC reports waiting
	lastSSRC uint32

	dtls    [2]atomic.Pointer[sinkRef] // per port
	ports   [2]atomic.Pointer[port]    // set by Config
	sources [2]*source                 // what a DTLS[rx] polls, per port
	stun    atomic.Pointer[STUNHandler]
	wg      sync.WaitGroup

	count [nCounters]atomic.Uint64
}

type sinkRef struct{ s link.Sink }

// source is port idx of a VMP[rx] as a DTLS[rx] polls it (link.Source).
type source struct {
	v   *VMPRx
	idx int
}

func (s *source) Poll(self link.Sink, buf []byte) (int, netip.AddrPort, bool) {
	pt := s.port()
	if pt == nil {
		return 0, netip.AddrPort{}, false
	}
	d := direct{one: buf}
	got := pt.poll(s.v, self, &d)
	return d.n, d.src, got > 0
}

func (s *source) PollBatch(self link.Sink, bufs [][]byte, sizes []int, srcs []netip.AddrPort) int {
	pt := s.port()
	if pt == nil {
		return 0
	}
	d := direct{bufs: bufs, sizes: sizes, srcs: srcs}
	return pt.poll(s.v, self, &d)
}

func (s *source) port() *port {
	pt := s.v.ports[s.idx].Load()
	if pt == nil && s.idx == 1 {
		pt = s.v.ports[0].Load() // "the RTCP port" under rtcp-mux
	}
	return pt
}

// Create allocates a VMP[rx] on mod. It binds nothing until Config.
func Create(mod *mediaport.Module) (*VMPRx, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	v := &VMPRx{mod: m, known: map[uint32]struct{}{}}
	v.sources = [2]*source{{v, 0}, {v, 1}}
	v.ep, err = m.NewEndpoint("vmprx", v.release)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (v *VMPRx) endpoint() *core.Endpoint {
	if v == nil {
		return nil
	}
	return v.ep
}

// Config binds the ports and starts receiving; the status GotPorts follows.
// It is valid once, before Stop.
func (v *VMPRx) Config(cfg Config) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	addr := cfg.Local.Unmap()
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	if cfg.QueueLen < 0 {
		return fmt.Errorf("vmprx: %w: QueueLen %d", mediaport.ErrInvalidArgument, cfg.QueueLen)
	}
	if !cfg.RTCPMux && cfg.RTPPort%2 == 1 {
		return fmt.Errorf("vmprx: %w: RTP port %d is odd (RTCP goes on RTP+1)", mediaport.ErrInvalidArgument, cfg.RTPPort)
	}
	if !cfg.RTCPMux && cfg.RTPPort == 65534 {
		return fmt.Errorf("vmprx: %w: RTP port 65534 leaves no RTCP port", mediaport.ErrInvalidArgument)
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = v.mod.Limits.QueueLen
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.q != nil {
		return fmt.Errorf("vmprx: %w: already configured", mediaport.ErrState)
	}
	socks, err := bindPorts(addr, cfg.RTPPort, cfg.RTCPMux)
	if err != nil {
		return fmt.Errorf("vmprx: %w", err)
	}
	var ports [2]*port
	for i, c := range socks {
		if c == nil {
			continue
		}
		if ports[i], err = v.newPort(i, c, cfg.GRO); err != nil {
			for _, c := range socks {
				if c != nil {
					c.Close()
				}
			}
			return fmt.Errorf("vmprx: %w", err)
		}
	}
	v.cfg = cfg
	v.socks = socks
	v.q = pktq.NewQueue(cfg.QueueLen, v.mod.Packets)
	if !v.ep.SetRunning() {
		// Stopped while we were binding: release (which waits for v.mu)
		// closes the sockets.
		return v.ep.Check()
	}
	for i, pt := range ports {
		if pt == nil {
			continue
		}
		v.mod.RegisterSocket(pt.conn)
		v.ports[i].Store(pt)
		v.wg.Add(1)
		go v.receive(pt)
	}
	v.gotPorts = true
	v.mod.Log.Debug("vmprx configured", "rtp", socks[0].LocalAddr(), "rtcp_mux", cfg.RTCPMux)
	v.ep.Signal()
	return nil
}

// bindPorts binds the RTP port and, without mux, the RTCP port RTP+1. With
// port 0 it tries allocated ports until it finds an even one whose
// successor is free.
func bindPorts(addr netip.Addr, port uint16, mux bool) ([2]*udp.Conn, error) {
	var socks [2]*udp.Conn
	if mux {
		c, err := udp.Listen(netip.AddrPortFrom(addr, port))
		if err != nil {
			return socks, err
		}
		socks[0] = c
		return socks, nil
	}
	if port != 0 {
		rtp, err := udp.Listen(netip.AddrPortFrom(addr, port))
		if err != nil {
			return socks, err
		}
		rtcp, err := udp.Listen(netip.AddrPortFrom(addr, port+1))
		if err != nil {
			rtp.Close()
			return socks, fmt.Errorf("RTCP port %d: %w", port+1, err)
		}
		return [2]*udp.Conn{rtp, rtcp}, nil
	}
	var held []*udp.Conn // odd or unpaired ports, kept until done so they are not offered again
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for attempt := 0; attempt < 64; attempt++ {
		rtp, err := udp.Listen(netip.AddrPortFrom(addr, 0))
		if err != nil {
			return socks, err
		}
		p := rtp.LocalAddr().Port()
		if p%2 == 1 || p == 65534 {
			held = append(held, rtp)
			continue
		}
		rtcp, err := udp.Listen(netip.AddrPortFrom(addr, p+1))
		if err != nil {
			held = append(held, rtp)
			continue
		}
		return [2]*udp.Conn{rtp, rtcp}, nil
	}
	return socks, errors.New("no free even/odd port pair found")
}

// release is the lifecycle's stop function: it closes the sockets, waits
// for the receive goroutines and refuses further packets.
func (v *VMPRx) release() {
	v.mu.Lock()
	socks := v.socks
	q := v.q
	v.mu.Unlock()
	for i, c := range socks {
		if c == nil {
			continue
		}
		v.mod.UnregisterSocket(c)
		if pt := v.ports[i].Load(); pt != nil && pt.conn == c {
			pt.rd.Close(&pt.gate) // once no poller reads it
		} else {
			c.Close() // never polled: Config stopped before it published the port
		}
	}
	v.wg.Wait()
	if q != nil {
		q.Close()
	}
	for i, src := range v.sources {
		if ref := v.dtls[i].Load(); ref != nil {
			if f, ok := ref.s.(link.Fed); ok {
				f.SetSource(src, nil) // nothing left to poll
			}
		}
	}
}

// port is one bound socket and its reading state. Reading a port — one
// recvmmsg and the routing of what it returned — happens inside its gate,
// either on the port's receive goroutine (which waits for traffic) or on a
// goroutine in GetPacket that found its queue empty (poll, which never
// waits). So datagrams are routed in the order they arrived, and a reader
// that keeps up reads the socket itself instead of waiting for a wake-up
// from the receive goroutine (udp.Gate says how the two hand over).
type port struct {
	idx  int // 0 RTP, 1 RTCP
	conn *udp.Conn

	gate  udp.Gate
	rd    *udp.Reader    // its slots' buffers are slots[i].Buf (GRO: its own)
	slots []*pktq.Packet // owned by the reader until handed on; nil with GRO
	spare *pktq.Packet   // GRO: the packet the next datagram is copied into
	b     batch
}

// newPort prepares the reading state of conn.
func (v *VMPRx) newPort(idx int, conn *udp.Conn, gro bool) (*port, error) {
	if gro {
		pt := &port{idx: idx, conn: conn, rd: udp.NewReader(conn, GROSlots, udp.GROBufSize)}
		if err := pt.rd.EnableGRO(); err != nil {
			return nil, err
		}
		return pt, nil
	}
	pt := &port{idx: idx, conn: conn, rd: udp.NewReader(conn, v.mod.Limits.Batch, 0)}
	pt.slots = make([]*pktq.Packet, len(pt.rd.Msgs))
	for i := range pt.slots {
		pt.slots[i] = v.mod.Packets.Get()
		pt.rd.Msgs[i].Buf = pt.slots[i].Buf
	}
	return pt, nil
}

// receive is the goroutine of one port. When the socket closes it leaves
// the slots to the garbage collector rather than wait for the gate, which
// a STUN handler running in poll may hold.
func (v *VMPRx) receive(pt *port) {
	defer v.wg.Done()
	for {
		n, err := pt.rd.ReadHolding(&pt.gate)
		if err != nil {
			switch {
			case errors.Is(err, net.ErrClosed):
				return
			default:
				// ICMP errors and the like: nothing was read.
				v.mod.Log.Debug("vmprx receive", "port", pt.conn.LocalAddr(), "err", err)
			}
			continue
		}
		// The gate is held. Drain what else is queued before signalling,
		// so that a backlog wakes the application once, not once per
		// read; bounded so that the first packet is not held back for
		// long. A read that did not fill the reader emptied the socket:
		// another would only cost a system call.
		v.route(pt, 0, n)
		for drained := n; n == len(pt.rd.Msgs) && drained < maxDrain; drained += n {
			if n, err = pt.rd.TryRead(); err != nil || n == 0 {
				break
			}
			v.route(pt, 0, n)
		}
		v.endBatch(&pt.b)
		pt.gate.Release()
	}
}

// poll reads and routes, without waiting, what one recvmmsg of the port
// returns, unless another goroutine is reading the port (that one signals
// what it routes). When that read fills the reader and the caller got
// something from it, the port is leased to the caller: the receive
// goroutine leaves the rest to the next poll for as long as polls keep
// coming (udp.Gate). When the caller got nothing and the receive
// goroutine stepped back meanwhile, poll reads on. self, when not nil, is
// the DTLS[rx] sink that polls: it is not signalled (it looks at its
// queue next). poll returns how many datagrams it read straight into d's
// buffers for self (link.Source).
func (pt *port) poll(v *VMPRx, self link.Sink, d *direct) (got int) {
	owe := false // the receive goroutine stepped back and we did not lease
	for read := 0; (!owe && pt.gate.TryEnter()) || (owe && pt.gate.TryEnterOwing()); {
		// The first datagrams go straight into the caller's buffers when
		// these can hold any datagram and the caller's queue is empty now
		// that we hold the port (before, another reader of the port may
		// have queued for it): the datagrams for the caller that come
		// first are the next in order, returned without a queue or a
		// second copy.
		k := 0
		if read == 0 && self != nil && pt.slots != nil && emptySink(self) {
			for k < len(pt.rd.Msgs) && k < d.len() && len(d.buf(k)) >= len(pt.slots[k].Buf) {
				pt.rd.Msgs[k].Buf = d.buf(k)
				k++
			}
		}
		n, err := pt.rd.Poll()
		if err != nil {
			n = 0
		}
		first := 0 // the datagrams [0, first) went to self directly
		for i := 0; i < k; i++ {
			m := &pt.rd.Msgs[i]
			m.Buf = pt.slots[i].Buf
			if i >= n {
				continue
			}
			if m.N > len(m.Buf) { // fits the caller's buffer, not MaxPacket
				m.N, m.Trunc = len(m.Buf), true
			}
			if first == i && v.forSelf(pt.idx, d.buf(i)[:m.N], m.Trunc, self) {
				d.set(i, m.N, m.Src)
				first++
			} else {
				copy(m.Buf, d.buf(i)[:m.N]) // routed as usual, as is every later one
			}
		}
		if first > 0 {
			v.count[cDTLS].Add(uint64(first)) // routed to self, as it were
			got += first
		}
		if n > 0 {
			v.route(pt, first, n)
			read += n
		}
		if self != nil && pt.b.flush == self {
			pt.b.flush = nil
		}
		v.endBatch(&pt.b)
		// Lease the port to the caller when this read may have left
		// datagrams and the caller got some, so that it will be back.
		// Once the receive goroutine has stepped back, a caller that got
		// nothing reads on until the socket is empty.
		full := err == nil && n == len(pt.rd.Msgs)
		mine := got > 0 || (self != nil && !emptySink(self)) || (d.q != nil && d.q.Pending())
		lease := full && mine
		owe = pt.gate.Leave(lease) || (owe && full && !lease)
		if !owe || read >= maxPoll {
			// Done; or, after maxPoll datagrams, enough for one call: the
			// receive goroutine, which stepped back, comes back for the
			// rest within the lease time.
			return got
		}
	}
	// The gate is held by another reader, whose Leave now says to read on.
	return got
}

// direct is where poll may read datagrams for the polling DTLS[rx]: one
// buffer (GetPacket, with n and src set for it) or several (GetPackets,
// with their sizes and sources).
type direct struct {
	q     *pktq.Queue // the VMP[rx]'s, when it polls (self nil)
	one   []byte
	n     int
	src   netip.AddrPort
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

func (d *direct) set(i, n int, src netip.AddrPort) {
	if d.bufs != nil {
		d.sizes[i], d.srcs[i] = n, src
		return
	}
	d.n, d.src = n, src
}

// emptySink reports whether nothing is queued in s. Called with the port's
// gate held, so nothing from this port can reach s meanwhile.
func emptySink(s link.Sink) bool {
	f, ok := s.(link.Fed)
	return ok && f.Empty()
}

// forSelf reports whether datagram d, read into a polling DTLS[rx]'s own
// buffer, is a DTLS record for that DTLS[rx] (self) rather than something
// to route.
func (v *VMPRx) forSelf(port int, d []byte, trunc bool, self link.Sink) bool {
	if trunc || self == nil || Classify(d) != ClassDTLS {
		return false
	}
	ref := v.dtls[port].Load()
	if ref == nil && v.cfg.RTCPMux {
		ref = v.dtls[1].Load()
	}
	return ref != nil && ref.s == self
}

// route hands on the n datagrams the port's reader returned; the gate is
// held.
func (v *VMPRx) route(pt *port, from, n int) {
	if pt.slots == nil {
		v.routeCoalesced(pt, n)
		return
	}
	for i := from; i < n; i++ {
		m := &pt.rd.Msgs[i]
		p := pt.slots[i]
		p.N, p.Src = m.N, m.Src
		if v.handle(pt.idx, p, m.Trunc, &pt.b) {
			pt.slots[i] = v.mod.Packets.Get()
			m.Buf = pt.slots[i].Buf
		}
	}
}

// routeCoalesced is route for a GRO port: it copies each datagram of each
// message (several when the kernel coalesced them) into a pooled packet.
func (v *VMPRx) routeCoalesced(pt *port, n int) {
	for i := 0; i < n; i++ {
		m := &pt.rd.Msgs[i]
		if m.Trunc { // longer than GROBufSize: cannot happen with UDP
			v.count[cTruncated].Add(1)
			continue
		}
		d := m.Buf[:m.N]
		seg := m.Seg
		if seg <= 0 || seg >= len(d) {
			seg = len(d)
		} else {
			v.count[cCoalesced].Add(uint64((len(d) + seg - 1) / seg))
		}
		for first := true; first || len(d) > 0; first = false {
			k := min(seg, len(d))
			v.routeCopy(pt, d[:k], m.Src)
			d = d[k:]
		}
	}
}

// routeCopy routes a copy of datagram d from src.
func (v *VMPRx) routeCopy(pt *port, d []byte, src netip.AddrPort) {
	p := pt.spare
	if p == nil {
		p = v.mod.Packets.Get()
	}
	if len(d) > len(p.Buf) {
		pt.spare = p
		v.count[cTruncated].Add(1)
		return
	}
	p.N, p.Src = copy(p.Buf, d), src
	if v.handle(pt.idx, p, false, &pt.b) {
		p = nil // handed on
	}
	pt.spare = p
}

// maxDrain bounds the datagrams one receive goroutine reads before it
// signals; maxPoll those one poll reads when it polls again (udp.Gate's
// Leave said so) before it leaves the rest to the receive goroutine.
const (
	maxDrain = 64
	maxPoll  = 128
)

// batch is what the receive goroutine remembers across one batch (and,
// for the SSRC cache, across batches).
type batch struct {
	signal   bool      // something for the VMP[rx]'s own status
	flush    link.Sink // a DTLS[rx] that was handed packets
	lastSSRC uint32
	haveSSRC bool
}

// handle routes one datagram, p.Bytes(), that arrived on port (0 RTP,
// 1 RTCP). It returns true when p was handed on (queued or delivered), in
// which case the caller no longer owns it.
func (v *VMPRx) handle(port int, p *pktq.Packet, trunc bool, b *batch) bool {
	if trunc {
		v.count[cTruncated].Add(1)
		return false
	}
	data := p.Bytes()
	switch cls := Classify(data); cls {
	case ClassRTP, ClassRTCP:
		if !v.cfg.RTCPMux && (port == 0) != (cls == ClassRTP) {
			v.count[cMisdirected].Add(1)
			return false
		}
		if cls == ClassRTP {
			if ssrc := binary.BigEndian.Uint32(data[8:12]); !b.haveSSRC || ssrc != b.lastSSRC {
				b.lastSSRC, b.haveSSRC = ssrc, true
				if v.noteSSRC(ssrc) {
					b.signal = true
				}
			}
		}
		p.Kind = uint8(cls) | uint8(port)<<7
		b.signal = true
		if !v.q.Push(p) {
			return false // counted by the queue (Overrun)
		}
		v.count[cRTP+int(cls-ClassRTP)].Add(1)
		return true
	case ClassDTLS:
		v.count[cDTLS].Add(1)
		ref := v.dtls[port].Load()
		if ref == nil && v.cfg.RTCPMux {
			ref = v.dtls[1].Load() // set for "the RTCP port" before Config chose rtcp-mux
		}
		if ref == nil {
			v.count[cDTLSUnrouted].Add(1)
			return false
		}
		p.Kind = uint8(cls)
		b.flush = ref.s
		if !ref.s.Deliver(p) {
			v.count[cDTLSRefused].Add(1)
			return false
		}
		return true
	case ClassSTUN:
		v.count[cSTUN].Add(1)
		h := v.stun.Load()
		if h == nil {
			v.count[cSTUNUnrouted].Add(1)
			return false
		}
		(*h)(data, p.Src, port == 1)
	case ClassZRTP:
		v.count[cZRTP].Add(1)
	case ClassTURN:
		v.count[cTURN].Add(1)
	case ClassShort:
		v.count[cShort].Add(1)
	default:
		v.count[cUnknown].Add(1)
	}
	return false
}

// endBatch signals whoever received something during the batch.
func (v *VMPRx) endBatch(b *batch) {
	if b.signal {
		v.ep.Signal()
	}
	if b.flush != nil {
		b.flush.Flush()
	}
	b.signal, b.flush = false, nil
}

// noteSSRC records an SSRC and queues a NewSSRC report the first time; it
// reports whether it queued one.
func (v *VMPRx) noteSSRC(ssrc uint32) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.known[ssrc]; ok {
		return false
	}
	if len(v.known) >= maxSSRCs || len(v.pending) >= maxPending {
		v.count[cSSRCOverflow].Add(1)
		return false
	}
	v.known[ssrc] = struct{}{}
	v.pending = append(v.pending, ssrc)
	return true
}

// ConfigDTLS sets the DTLS[rx] that receives the DTLS packets arriving on
// the RTP port, or on the RTCP port when useRTCPPort is true
// (sm_vmprx_config_dtls). A nil rx (kSMNullDTLSrxId) stops passing DTLS
// from that port: such packets are then dropped and counted. With rtcp-mux
// both choices name the one port. It may be called before or after Config.
func (v *VMPRx) ConfigDTLS(rx *dtlsrx.DTLSRx, useRTCPPort bool) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	port := 0
	if useRTCPPort && !v.cfg.RTCPMux {
		port = 1
	}
	if rx == nil {
		v.setDTLS(port, nil)
		if v.cfg.RTCPMux {
			v.setDTLS(1, nil)
		}
		return nil
	}
	s, err := link.DTLSRx(rx)
	if err != nil {
		return fmt.Errorf("vmprx: ConfigDTLS: %w", err)
	}
	v.setDTLS(port, &sinkRef{s})
	return nil
}

// setDTLS routes port's DTLS to ref (nil: none) and makes the DTLS[rx]
// poll that port instead of the one it replaces.
func (v *VMPRx) setDTLS(port int, ref *sinkRef) {
	src := v.sources[port]
	if old := v.dtls[port].Swap(ref); old != nil {
		if f, ok := old.s.(link.Fed); ok {
			f.SetSource(src, nil)
		}
	}
	if ref != nil {
		if f, ok := ref.s.(link.Fed); ok {
			f.SetSource(nil, src)
		}
	}
}

// SetSTUNHandler sets the function that receives STUN datagrams arriving on
// the VMP[rx]'s ports; nil drops them (counted).
func (v *VMPRx) SetSTUNHandler(h STUNHandler) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	if h == nil {
		v.stun.Store(nil)
	} else {
		v.stun.Store(&h)
	}
	return nil
}

// SendFrom sends p to dst from the RTP port (or the RTCP port), so the peer
// sees the same 5-tuple as the media: for STUN responses and consent.
func (v *VMPRx) SendFrom(rtcpPort bool, p []byte, dst netip.AddrPort) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	v.mu.Lock()
	c := v.socks[0]
	if rtcpPort && v.socks[1] != nil {
		c = v.socks[1]
	}
	v.mu.Unlock()
	if c == nil {
		return fmt.Errorf("vmprx: %w: not configured", mediaport.ErrState)
	}
	if _, err := c.WriteTo(p, dst); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return v.ep.Check()
		}
		return fmt.Errorf("vmprx: send to %v: %w", dst, err)
	}
	return nil
}

// Ports returns the bound RTP and RTCP addresses (equal with rtcp-mux).
func (v *VMPRx) Ports() (rtp, rtcp netip.AddrPort, err error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return rtp, rtcp, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.socks[0] == nil {
		return rtp, rtcp, fmt.Errorf("vmprx: %w: not configured", mediaport.ErrState)
	}
	rtp = v.socks[0].LocalAddr()
	rtcp = rtp
	if v.socks[1] != nil {
		rtcp = v.socks[1].LocalAddr()
	}
	return rtp, rtcp, nil
}

// Event returns the VMP[rx]'s event, signalled when the status changes and
// permanently once stopped. It stays valid (signalled) after Destroy.
func (v *VMPRx) Event() (*event.Event, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return nil, err
	}
	return v.ep.Event(), nil
}

// Err returns why the VMP[rx] ended: nil while it runs and after Stop, the
// error that stopped it otherwise. After Destroy it returns an error
// matching ErrDestroyed; on a nil handle, ErrNilHandle.
func (v *VMPRx) Err() error { return v.endpoint().Err() }

// Status returns the current status: Stopped once stopped; else, in this
// order, GotPorts (once after Config), Overrun (once per overflow episode),
// NewSSRC (once per new SSRC), HasPacket (while packets are queued),
// Running. While another status remains to be reported, the event is
// signalled again.
func (v *VMPRx) Status() (Status, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if v.ep.State() == core.Stopped {
		return Stopped, nil
	}
	v.mu.Lock()
	st := Running
	q := v.q
	switch {
	case v.gotPorts:
		v.gotPorts = false
		st = GotPorts
	case q != nil && q.TakeOverrun():
		st = Overrun
	case len(v.pending) > 0:
		v.lastSSRC = v.pending[0]
		v.pending = v.pending[1:]
		st = NewSSRC
	case q != nil && q.Len() > 0:
		st = HasPacket
	}
	more := v.gotPorts || len(v.pending) > 0 || (q != nil && q.Pending())
	v.mu.Unlock()
	if more {
		v.ep.Signal()
	}
	return st, nil
}

// NewSSRC returns the SSRC reported by the last Status that returned
// NewSSRC.
func (v *VMPRx) NewSSRC() (uint32, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastSSRC, nil
}

// ErrNoPacket is returned by GetPacket when no packet is queued.
// It is mediaport.ErrNoPacket.
var ErrNoPacket = mediaport.ErrNoPacket

// GetPacket copies the oldest queued RTP or RTCP packet into buf. When buf
// is too short it returns the packet's length in Packet.Len and an error
// matching ErrBufferTooSmall, and the packet stays queued. With nothing
// queued it first reads what the ports have received but not yet routed —
// on the caller's goroutine, routing every datagram as the receive
// goroutines would (DTLS to its DTLS[rx], STUN to the handler) — and with
// still nothing queued it returns ErrNoPacket. A read that found more
// queued than one batch leaves the rest to the next GetPacket: the port's
// receive goroutine takes over when about a millisecond passes without
// one (see ARCHITECTURE.md, "The receive path"). After Stop, packets
// queued before the stop can still be read; then it returns ErrStopped.
func (v *VMPRx) GetPacket(buf []byte) (Packet, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return Packet{}, err
	}
	v.mu.Lock()
	q := v.q
	v.mu.Unlock()
	if q == nil {
		if err := v.ep.Check(); err != nil {
			return Packet{}, err
		}
		return Packet{}, ErrNoPacket
	}
	var pp pktq.Popped
	var ok bool
	var err error
	if q.Pending() { // as in dtlsrx.GetPacket
		pp, ok, err = q.Pop(buf)
	}
	if !ok {
		// Read the ports ourselves rather than wait for a receive
		// goroutine to queue the packets and wake us.
		for i := range v.ports {
			if pt := v.ports[i].Load(); pt != nil {
				pt.poll(v, nil, &direct{q: q})
			}
		}
		pp, ok, err = q.Pop(buf)
	}
	if !ok {
		if err := v.ep.Check(); err != nil {
			return Packet{}, err
		}
		return Packet{}, ErrNoPacket
	}
	pkt := Packet{Len: pp.N, Class: Class(pp.Kind & 0x7f), Src: pp.Src, RTCPPort: pp.Kind&0x80 != 0}
	if err != nil {
		return pkt, fmt.Errorf("vmprx: %w: packet of %d bytes, buffer of %d", err, pp.N, len(buf))
	}
	if pp.More {
		v.ep.Signal()
	}
	return pkt, nil
}

// Stats returns the VMP[rx]'s counters.
func (v *VMPRx) Stats() (Stats, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return Stats{}, err
	}
	c := func(i int) uint64 { return v.count[i].Load() }
	s := Stats{
		RTP: c(cRTP), RTCP: c(cRTCP), DTLS: c(cDTLS), STUN: c(cSTUN), ZRTP: c(cZRTP), TURN: c(cTURN),
		Unknown: c(cUnknown), Short: c(cShort), Truncated: c(cTruncated), Misdirected: c(cMisdirected),
		DTLSUnrouted: c(cDTLSUnrouted), DTLSRefused: c(cDTLSRefused), STUNUnrouted: c(cSTUNUnrouted),
		SSRCOverflow: c(cSSRCOverflow), Coalesced: c(cCoalesced),
	}
	v.mu.Lock()
	if v.q != nil {
		s.Overrun = v.q.Drops()
	}
	v.mu.Unlock()
	return s, nil
}

// Stop stops the VMP[rx]: it closes its ports, ends its receive goroutines,
// reaches its final status Stopped and signals its event permanently.
func (v *VMPRx) Stop() error {
	if v == nil || v.ep == nil {
		return mediaport.ErrNilHandle
	}
	return v.ep.Stop()
}

// Destroy stops the VMP[rx] if needed, frees its queue and invalidates the
// handle: every later call returns an error matching ErrDestroyed.
func (v *VMPRx) Destroy() error {
	if v == nil || v.ep == nil {
		return mediaport.ErrNilHandle
	}
	if err := v.ep.Destroy(); err != nil {
		return err
	}
	v.mu.Lock()
	if v.q != nil {
		v.q.Reset()
	}
	v.mu.Unlock()
	return nil
}
