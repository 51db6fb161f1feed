// Package vmprx is Prosody's VMP[rx]: the media receive endpoint that owns
// an RTP port and an RTCP port (RTP+1, or one port with rtcp-mux) and
// demultiplexes every datagram that arrives on them by its first byte
// (RFC 7983 / RFC 9443):
//
//   - RTP and RTCP whose header fits go to the VMP[rx]'s own bounded
//     queue (GetPacket), authenticated and decrypted first after
//     ConfigSRTP;
//   - DTLS goes to the DTLS[rx] set with ConfigDTLS (sm_vmprx_config_dtls);
//   - STUN goes to the handler set with SetSTUNHandler (a STUN session);
//   - everything else — ZRTP, TURN ChannelData, unknown, short or truncated
//     datagrams, RTP/RTCP on the wrong port and RTP/RTCP whose header runs
//     past the datagram — is dropped and counted (Stats), as are the
//     datagrams the kernel dropped (Stats.KernelDrops, Linux).
//
// Each socket has one reader at a time, chosen at Config. By default the
// port's receive goroutine reads it, in batches (recvmmsg on Linux), and
// GetPacket (of the VMP[rx] and of the DTLS[rx]s it feeds) only pops a
// queue. With Config.CallerReads no goroutine reads: a watcher goroutine
// waits for traffic and signals, and GetPacket, GetPackets and Status read
// the socket themselves — fewer wake-ups and copies for an application
// that polls. Either way an idle port holds its socket and one goroutine
// blocked in the netpoller, and no buffers: readers and packet buffers
// come from pools shared by the module while datagrams arrive, and are
// handed to the queues without copying, so the receive path does not
// allocate in steady state. With Config.GRO the kernel may hand a run of
// datagrams over in one piece, which the port splits again.
//
// What leaves the port leaves from its socket: STUN with SendFrom
// (SendSTUN), DTLS through a DTLS[tx] whose Config.Local is the port, and
// RTP and RTCP through a dispatcher whose Config.Local is the port, which
// adds its TOS to each datagram and sends in batches.
package vmprx

import (
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
	// RTCP has room of its own beyond it (RTCPQueueLen), so a burst of
	// RTP that fills the queue does not drop RTCP.
	QueueLen int
	// RTCPQueueLen is the room RTCP keeps beyond QueueLen (default
	// DefaultRTCPQueueLen): RTP is refused once the queue holds QueueLen
	// packets, RTCP only once it holds QueueLen+RTCPQueueLen, that is
	// only when at least RTCPQueueLen RTCP packets wait.
	RTCPQueueLen int
	// ReadBuffer is the receive buffer, in bytes, asked of the kernel for
	// each of the VMP[rx]'s sockets (SO_RCVBUF; SO_RCVBUFFORCE where the
	// process may, beyond net.core.rmem_max). 0 asks for
	// DefaultReadBuffer; a negative value leaves the system's default
	// (net.core.rmem_default, 208 KiB on most Linux systems, which a
	// video keyframe burst overflows). ReadBuffer reports what the kernel
	// granted; Stats.KernelDrops counts what overflowed it.
	ReadBuffer int
	// GRO lets the kernel hand a run of datagrams from one source to the
	// port in one piece (UDP_GRO, Linux 5.0 and later), which the VMP[rx]
	// splits again: far fewer system calls for a high-rate flow, such as
	// a peer sending with segmentation offload. While datagrams arrive,
	// such a port reads into GROSlots buffers of 64 KiB (a reader from a
	// pool shared by the GRO ports, instead of the module's Batch pooled
	// packets) and copies each datagram out of them. Config fails,
	// matching errors.ErrUnsupported, where the system cannot.
	GRO bool
	// CallerReads makes the application's calls read the sockets instead
	// of a receive goroutine per port: GetPacket and Status of the
	// VMP[rx], and GetPacket, GetPackets and Status of a pass-through
	// DTLS[rx] it feeds, read (without waiting, one caller at a time) and
	// route what the port has received — STUN to the handler, on the
	// caller's goroutine, RTP/RTCP to the VMP[rx]'s queue, DTLS to its
	// DTLS[rx], straight into the caller's buffers when they are the next
	// for it. A watcher goroutine per port, holding no buffer, waits for
	// traffic and signals the port's consumers (the VMP[rx] and its
	// DTLS[rx]s) when datagrams wait and no one reads; a consumer so
	// signalled must read (GetPacket or Status) until it finds nothing,
	// or datagrams stay in the socket. This is the fastest mode for an
	// application that reads as soon as it is signalled. A terminated
	// DTLS association, which reads on its own goroutine, cannot take
	// the DTLS of such a port: Config, ConfigDTLS and the association's
	// Bind fail with an error matching ErrState.
	CallerReads bool
	// RecvMeta asks the kernel for each datagram's receive time, TTL (hop
	// limit) and TOS (traffic class) on the VMP[rx]'s ports; GetPacket
	// reports them in Packet.Meta, and a DTLS[rx] it feeds in GetPacketMeta.
	// Off, nothing is asked and nothing changes on the receive path; on,
	// every read takes the control messages. Config fails, matching errors.ErrUnsupported,
	// where the system cannot (elsewhere than Linux).
	RecvMeta bool
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
	// Meta is what the kernel reported with the datagram, with
	// Config.RecvMeta; its zero value otherwise.
	Meta mediaport.RecvMeta
}

// Stats counts the datagrams a VMP[rx] received, by class and by fate.
//
// Malformed counts what Classify calls RTP or RTCP (version 2, by the
// first byte) but whose header does not fit: an RTP CSRC list, extension
// or padding that runs past the datagram, a padding count of 0, RTCP
// whose length fields do not add up to the datagram (RFC 3550 A.1, A.2).
// Such a datagram is never queued and never reported with NewSSRC.
//
// KernelDrops counts the datagrams the kernel dropped on the VMP[rx]'s
// sockets before anyone could read them, mostly because a receive buffer
// was full: the drops column of /proc/net/udp. The kernel tells the count
// with each datagram read (SO_RXQ_OVFL), so drops show once the next
// datagram after them is read. It is 0 where the system does not count
// them (elsewhere than Linux).
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
	Malformed   uint64 // dropped: RTP or RTCP whose header, padding or lengths do not fit (see below)
	KernelDrops uint64 // never read: dropped by the kernel, the socket's receive buffer full (see below)

	DTLSUnrouted uint64 // DTLS dropped: no DTLS[rx] configured for that port
	DTLSRefused  uint64 // DTLS dropped: the DTLS[rx] was full or stopped
	STUNUnrouted uint64 // STUN dropped: no handler set
	Overrun      uint64 // RTP/RTCP dropped: the queue was full
	SSRCOverflow uint64 // SSRCs beyond the 64 reported with NewSSRC

	Coalesced uint64 // datagrams that arrived coalesced with others (Config.GRO), whatever their fate

	DTLSUnchecked uint64 // DTLS dropped: from an address without ICE consent (AttachSTUN with a stun.ICELite)
	SRTPAuth      uint64 // RTP/RTCP dropped under ConfigSRTP: not authentic (bad tag, too short, malformed)
	SRTPReplay    uint64 // RTP/RTCP dropped under ConfigSRTP: replayed, or older than the replay window
	SRTPUnkeyed   uint64 // RTP/RTCP dropped under ConfigSRTPPeer: from a source with no keys, and no ConfigSRTP session
}

// STUNHandler receives the STUN datagrams that arrive on a VMP[rx]'s ports,
// on the goroutine reading the port: its receive goroutine, or, with
// Config.CallerReads, the one in a GetPacket or Status (of the VMP[rx] or
// of a DTLS[rx] it feeds) that reads the socket. Calls for one port never
// overlap. pkt is valid only during the call (copy what you keep). Replies
// go out from the same port with SendFrom. The handler must not Stop or
// Destroy the VMP[rx] (that waits for the port's reader) nor, with
// CallerReads, call GetPacket, GetPackets or Status of the VMP[rx] or of
// its DTLS[rx]s (they would read the port it is called from); it may call
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
	cMalformed
	cKernelDrops
	cDTLSUnrouted
	cDTLSRefused
	cSTUNUnrouted
	cSSRCOverflow
	cCoalesced
	cDTLSUnchecked
	cSRTPAuth
	cSRTPReplay
	cSRTPUnkeyed
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
	socks    [2]*udp.Conn        // RTP, RTCP (RTCP nil with rtcp-mux)
	gotPorts bool                // GotPorts to report
	known    map[uint32]struct{} // allocated with the first SSRC
	pending  []uint32            // NewSSRC reports waiting
	lastSSRC uint32

	dtls        [2]atomic.Pointer[sinkRef] // per port
	ports       [2]atomic.Pointer[port]    // set by Config
	sources     [2]source                  // what a DTLS[rx] reads, per port
	callerReads atomic.Bool                // Config.CallerReads, set by Config
	stun        atomic.Pointer[STUNHandler]
	ice         atomic.Pointer[iceRef]  // the ICE agent that gates DTLS (AttachSTUN)
	srtp        atomic.Pointer[srtpRef] // ConfigSRTP, ConfigSRTPPeer; nil: plain RTP
	wg          sync.WaitGroup

	count [nCounters]atomic.Uint64
}

type sinkRef struct{ s link.Sink }

// Create allocates a VMP[rx] on mod. It binds nothing until Config.
func Create(mod *mediaport.Module) (*VMPRx, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	v := &VMPRx{mod: m}
	v.sources = [2]source{{v, 0}, {v, 1}}
	v.ep, err = m.NewEndpoint((*owner)(v))
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
	if cfg.RTCPQueueLen < 0 {
		return fmt.Errorf("vmprx: %w: RTCPQueueLen %d", mediaport.ErrInvalidArgument, cfg.RTCPQueueLen)
	}
	if cfg.RTCPQueueLen == 0 {
		cfg.RTCPQueueLen = DefaultRTCPQueueLen
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
	if cfg.CallerReads {
		// Before the check, so that a DTLS[rx] binding an association
		// meanwhile sees it (dtlsrx checks the mode after binding).
		v.callerReads.Store(true)
		for i := range v.dtls {
			if ref := v.dtls[i].Load(); ref != nil && terminated(ref.s) {
				v.callerReads.Store(false)
				return fmt.Errorf("vmprx: %w: CallerReads with a DTLS[rx] bound to a terminated association", mediaport.ErrState)
			}
		}
	}
	socks, err := bindPorts(addr, cfg.RTPPort, cfg.RTCPMux)
	if err != nil {
		v.callerReads.Store(false)
		return fmt.Errorf("vmprx: %w", err)
	}
	var ports [2]*port
	for i, c := range socks {
		if c == nil {
			continue
		}
		if ports[i], err = v.newPort(i, c, cfg); err != nil {
			v.callerReads.Store(false)
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
	v.q = pktq.NewReservedQueue(cfg.QueueLen, cfg.RTCPQueueLen, v.mod.Packets)
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
		pt.start()
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
			pt.close() // once no caller reads it
		} else {
			c.Close() // never read: Config stopped before it published the port
		}
	}
	v.wg.Wait()
	v.setICE(nil)
	if q != nil {
		q.Close()
	}
	for i := range v.sources {
		if ref := v.dtls[i].Load(); ref != nil {
			if f, ok := ref.s.(link.Fed); ok {
				f.SetSource(&v.sources[i], nil) // nothing left to read
			}
		}
	}
}

// fail stops the VMP[rx] with err, the cause its ports stopped receiving:
// Status then reports Stopped and Err returns it. It is called from a port's
// goroutine, which Stop waits for: the stop runs on a goroutine of its own.
func (v *VMPRx) fail(err error) {
	v.mod.Log.Error("vmprx stopped: receive failed", "err", err)
	v.ep.StopLater(fmt.Errorf("vmprx: receive failed: %w", err))
}

// terminated reports whether s is a DTLS[rx] bound to a terminated
// association.
func terminated(s link.Sink) bool {
	f, ok := s.(link.Fed)
	return ok && f.Terminated()
}

// ConfigDTLS sets the DTLS[rx] that receives the DTLS packets arriving on
// the RTP port, or on the RTCP port when useRTCPPort is true
// (sm_vmprx_config_dtls). A nil rx (kSMNullDTLSrxId) stops passing DTLS
// on both ports, whichever useRTCPPort says: such packets are then dropped
// and counted. A DTLS[rx] moved from one port to the other no longer gets
// the first port's DTLS; another DTLS[rx] may take that port. With
// rtcp-mux both choices name the one port. It may be called before or
// after Config.
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
		v.setDTLS(0, nil)
		v.setDTLS(1, nil)
		return nil
	}
	s, err := link.SinkOf(rx)
	if err != nil {
		return fmt.Errorf("vmprx: ConfigDTLS: %w", err)
	}
	// Detach it from the other port first, so that it is fed by this one.
	other := v.dtls[1-port].Load()
	moved := other != nil && other.s == s
	if moved {
		v.setDTLS(1-port, nil)
	}
	if err := v.setDTLS(port, &sinkRef{s}); err != nil {
		if moved {
			v.setDTLS(1-port, other)
		}
		return err
	}
	return nil
}

// setDTLS routes port's DTLS to ref (nil: none) and makes the DTLS[rx]
// read that port (with Config.CallerReads) instead of the one it
// replaces. It fails when the DTLS[rx] refuses the port: a terminated
// association on a caller-reads port.
func (v *VMPRx) setDTLS(port int, ref *sinkRef) error {
	src := &v.sources[port]
	if ref != nil {
		if f, ok := ref.s.(link.Fed); ok {
			if err := f.SetSource(nil, src); err != nil {
				return fmt.Errorf("vmprx: ConfigDTLS: %w", err)
			}
		}
	}
	if old := v.dtls[port].Swap(ref); old != nil && (ref == nil || old.s != ref.s) {
		if f, ok := old.s.(link.Fed); ok {
			f.SetSource(src, nil)
		}
	}
	return nil
}

// SetSTUNHandler sets the function that receives STUN datagrams arriving on
// the VMP[rx]'s ports; nil drops them (counted).
func (v *VMPRx) SetSTUNHandler(h STUNHandler) error { return v.setSTUN(h, nil) }

// SendFrom sends p to dst from the RTP port (or the RTCP port), so the peer
// sees the same 5-tuple as the media: for STUN responses and consent, one
// datagram at a time, with the socket's TOS (0). To send RTP and RTCP from
// the port, use a dispatcher whose Config.Local is the port
// (dispatcher.Create): it sends from this same socket, with its own TOS on
// each datagram, without allocating, and in batches (sendmmsg, UDP
// segmentation offload).
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
// signalled again. With Config.CallerReads and nothing queued, it first
// reads the ports, as GetPacket does.
func (v *VMPRx) Status() (Status, error) {
	if err := v.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if v.ep.State() == core.Stopped {
		return Stopped, nil
	}
	v.mu.Lock()
	q := v.q
	v.mu.Unlock()
	if q != nil && !q.Pending() && v.callerReads.Load() {
		v.readPorts(q)
	}
	v.mu.Lock()
	st := Running
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
// queued it returns ErrNoPacket; with Config.CallerReads it first reads
// what the ports have received — on the caller's goroutine, routing
// every datagram as a receive goroutine would (DTLS to its DTLS[rx], STUN
// to the handler). After Stop, packets queued before the stop can still
// be read; then it returns ErrStopped.
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
	if !ok && v.callerReads.Load() {
		v.readPorts(q)
		pp, ok, err = q.Pop(buf)
	}
	if !ok {
		if err := v.ep.Check(); err != nil {
			return Packet{}, err
		}
		return Packet{}, ErrNoPacket
	}
	pkt := Packet{Len: pp.N, Class: Class(pp.Kind & 0x7f), Src: pp.Src, RTCPPort: pp.Kind&0x80 != 0}
	if pp.Meta != (udp.Meta{}) {
		pkt.Meta = recvMeta(pp.Meta)
	}
	if err != nil {
		return pkt, fmt.Errorf("vmprx: %w: packet of %d bytes, buffer of %d", err, pp.N, len(buf))
	}
	if pp.More {
		v.ep.Signal()
	}
	return pkt, nil
}

// readPorts reads the caller-reads ports for the VMP[rx] itself.
func (v *VMPRx) readPorts(q *pktq.Queue) {
	for i := range v.ports {
		if pt := v.ports[i].Load(); pt != nil && pt.callerReads {
			d := direct{q: q}
			pt.read(nil, &d)
		}
	}
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
		Malformed: c(cMalformed), KernelDrops: c(cKernelDrops),
		DTLSUnrouted: c(cDTLSUnrouted), DTLSRefused: c(cDTLSRefused), STUNUnrouted: c(cSTUNUnrouted),
		SSRCOverflow: c(cSSRCOverflow), Coalesced: c(cCoalesced), DTLSUnchecked: c(cDTLSUnchecked),
		SRTPAuth: c(cSRTPAuth), SRTPReplay: c(cSRTPReplay), SRTPUnkeyed: c(cSRTPUnkeyed),
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

// owner is the VMP[rx] as its core.Endpoint sees it (core.Owner).
type owner VMPRx

func (o *owner) Kind() string { return "vmprx" }
func (o *owner) Release()     { (*VMPRx)(o).release() }

// recvMeta is the public form of m.
func recvMeta(m udp.Meta) mediaport.RecvMeta {
	return mediaport.RecvMeta{Time: m.WallTime(), TTL: m.TTL, TOS: m.TOS, Has: mediaport.RecvFlags(m.Flags)}
}
