package turn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/stun"
)

// Status is what Allocation.Status reports.
type Status int

const (
	// Allocating: the Allocate is in progress.
	Allocating Status = iota
	// Allocated: the allocation exists; RelayedAddr and MappedAddr tell
	// where. Reported once per (re)allocation.
	Allocated
	// HasPacket: data from a peer is available to GetPacket.
	HasPacket
	// Overrun: data was lost because the queue was full (once per episode).
	Overrun
	// Running: nothing to report.
	Running
	// Failed: the allocation failed or was lost; Err returns why (a
	// *stun.StatusError for an error response, stun.ErrTimeout for a
	// server that stopped answering). Final, like Stopped.
	Failed
	// Stopped: stopped by Stop (final).
	Stopped
)

var statusNames = [...]string{"Allocating", "Allocated", "HasPacket", "Overrun", "Running", "Failed", "Stopped"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Config is what an allocation asks of its server.
type Config struct {
	// Server is the TURN server's UDP address (required).
	Server netip.AddrPort
	// Username and Password are the long-term credentials.
	Username, Password string
	// Compatibility is the dialect. The endpoint speaks RFC5766 (the zero
	// value: RFC 8656 over UDP, as coturn and pion/turn do); any other
	// dialect returns ErrCompatibility from Config. The message-level usage
	// (NewAllocate, ProcessAllocate, …) covers all five dialects, but their
	// data relaying differs and no server to run them against exists.
	Compatibility Compatibility
	// Lifetime asked for (default 600 s, the RFC's default; the server
	// may grant less). The allocation is refreshed before it expires.
	Lifetime time.Duration
	// EvenPort asks for an even relayed port (RFC 8656 EVEN-PORT);
	// ReservePort also reserves the next one.
	EvenPort, ReservePort bool
	// Local is the local address to bind (default: any address of the
	// server's family, any port).
	Local netip.AddrPort
	// QueueLen bounds the peer data queued for GetPacket (default: the
	// module's QueueLen).
	QueueLen int
	// ReadBuffer is the receive buffer, in bytes, asked of the kernel for
	// the allocation's socket (SO_RCVBUF, or SO_RCVBUFFORCE beyond
	// net.core.rmem_max where the process may); 0 leaves the system's
	// default. Relayed media arrives on it: a video peer needs as much as
	// a VMP[rx] (vmprx.DefaultReadBuffer). ReadBuffer reports the grant.
	ReadBuffer int
	// RTO is the STUN retransmission timeout (default 100 ms).
	RTO time.Duration
	// Keepalive is how often the allocation asks its server, with a
	// Refresh, whether it still holds the allocation (default 30 s;
	// negative: only the refreshes the lifetime needs). A server that lost
	// it (restarted: 437 Allocation Mismatch) or stopped answering (the
	// Refresh times out after 79 RTOs, 7.9 s at the default RTO) fails the
	// allocation: the loss is known within Keepalive + 79·RTO, not at the
	// next refresh near the end of the lifetime.
	Keepalive time.Duration
}

// DefaultKeepalive is Config.Keepalive's default.
const DefaultKeepalive = 30 * time.Second

// Lifetimes of permissions and channels (RFC 8656 §9, §12) and how long
// before expiry they are refreshed.
const (
	permissionLifetime = 300 * time.Second
	channelLifetime    = 600 * time.Second
	refreshMargin      = 60 * time.Second
)

// Errors of the allocation endpoint.
var (
	// ErrNotAllocated: the call needs an allocation that exists.
	ErrNotAllocated = fmt.Errorf("turn: %w: not allocated", mediaport.ErrState)
	// ErrNoChannels: all 4096 channel numbers are in use.
	ErrNoChannels = errors.New("turn: no free channel number")
	// ErrNoPacket: GetPacket found nothing queued. It is
	// mediaport.ErrNoPacket.
	ErrNoPacket = mediaport.ErrNoPacket
)

// Allocation is a TURN allocation endpoint on a module (beyond libnice's
// usage: the whole client side of RFC 8656 over UDP). It allocates,
// answers 401/438 challenges (through its STUN session), follows one 300
// alternate server, refreshes the allocation, its permissions and channel
// bindings before they expire (on the module clock), sends to peers through
// ChannelData once a channel is bound and Send indications before, and
// queues what peers send for GetPacket. Its methods are safe for concurrent
// use.
type Allocation struct {
	ep   *core.Endpoint
	mod  *core.Module
	pmod *mediaport.Module
	clk  core.Clock
	pub  mediaport.Clock // the same clock, for the STUN session
	conn *udp.Conn
	sess *stun.Session
	q    *pktq.Queue
	wg   sync.WaitGroup
	quit chan struct{} // closed by release: ends the receive goroutine's backoff

	mu          sync.Mutex
	cfg         Config
	server      netip.AddrPort
	followed    bool // a 300 was followed already
	state       Status
	allocated   bool // Allocated to report
	relay       netip.AddrPort
	mapped      netip.AddrPort
	lifetime    time.Duration
	refresh     core.Timer
	perms       map[netip.Addr]*grant
	channels    map[netip.AddrPort]*grant
	byChannel   map[uint16]netip.AddrPort
	nextChannel uint16
	waiters     map[*stun.TxData]chan error
	stopping    bool

	sendBuf sync.Pool // ChannelData encode buffers

	packets, bytes, sentPackets, sentBytes           atomic.Uint64
	foreign, truncated, malformed, unbound, sendErrs atomic.Uint64
}

// Stats counts what an allocation relayed and dropped.
type Stats struct {
	Packets, Bytes         uint64 // peer data queued for GetPacket (ChannelData and Data indications)
	SentPackets, SentBytes uint64 // peer data sent through the relay (ChannelData and Send indications)
	SendErrors             uint64 // SendTo calls whose datagram the socket refused

	Foreign   uint64 // dropped: not from the server
	Truncated uint64 // dropped: longer than the module's MaxPacket
	Malformed uint64 // dropped: empty, malformed ChannelData or Data indication, or no known protocol
	Unbound   uint64 // dropped: ChannelData on a channel not bound
	Overrun   uint64 // peer data dropped: the queue was full
}

// Create allocates an allocation endpoint on mod. It does nothing until
// Config.
func Create(mod *mediaport.Module) (*Allocation, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	a := &Allocation{mod: m, pmod: mod, clk: m.Clock, pub: mod.Clock(), perms: map[netip.Addr]*grant{}, channels: map[netip.AddrPort]*grant{},
		byChannel: map[uint16]netip.AddrPort{}, nextChannel: MinChannel, waiters: map[*stun.TxData]chan error{}}
	a.sendBuf.New = func() any { b := make([]byte, 0, 65536+ChannelDataHeader); return &b }
	a.ep, err = m.NewEndpoint((*owner)(a))
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Allocation) endpoint() *core.Endpoint {
	if a == nil {
		return nil
	}
	return a.ep
}

// Config binds the local socket and starts allocating (status Allocating,
// then Allocated or Failed). It is valid once.
func (a *Allocation) Config(cfg Config) error {
	if err := a.endpoint().Check(); err != nil {
		return err
	}
	srv := netip.AddrPortFrom(cfg.Server.Addr().Unmap(), cfg.Server.Port())
	if !srv.Addr().IsValid() || srv.Port() == 0 {
		return fmt.Errorf("turn: %w: server %v", mediaport.ErrInvalidArgument, cfg.Server)
	}
	if cfg.Compatibility != RFC5766 {
		return fmt.Errorf("%w: the allocation endpoint speaks RFC5766 only, not %v", ErrCompatibility, cfg.Compatibility)
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 600 * time.Second
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	local := cfg.Local
	if !local.Addr().IsValid() {
		any := netip.IPv4Unspecified()
		if srv.Addr().Is6() {
			any = netip.IPv6Unspecified()
		}
		local = netip.AddrPortFrom(any, cfg.Local.Port())
	}
	if local.Addr().Unmap().Is4() != srv.Addr().Is4() {
		return fmt.Errorf("turn: %w: local %v, server %v", mediaport.ErrAddressFamily, cfg.Local, cfg.Server)
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = a.mod.Limits.QueueLen
	}
	if cfg.ReadBuffer < 0 || cfg.ReadBuffer > udp.MaxReadBuffer {
		return fmt.Errorf("turn: %w: ReadBuffer %d", mediaport.ErrInvalidArgument, cfg.ReadBuffer)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		return fmt.Errorf("turn: %w: already configured", mediaport.ErrState)
	}
	conn, err := udp.Listen(local)
	if err != nil {
		return fmt.Errorf("turn: bind %v: %w", local, err)
	}
	if cfg.ReadBuffer > 0 {
		if _, err := conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
			conn.Close()
			return fmt.Errorf("turn: %w", err)
		}
	}
	scfg := stun.ModuleConfig(a.pmod) // the module's clock, logger and answer budget
	scfg.RTO = cfg.RTO
	sess, err := stun.Create(scfg, "turn", stun.Callbacks{
		OnSendMsg: func(_ *stun.Session, _ any, pkt []byte, dst netip.AddrPort) error {
			_, err := conn.WriteTo(pkt, dst)
			return err
		},
		OnRequestComplete: a.onComplete,
		OnRxIndication:    a.onIndication,
	}, true)
	if err != nil {
		conn.Close()
		return err
	}
	sess.SetServerName("mediaport")
	pw := []byte(cfg.Password)
	sess.SetCredential(stun.AuthLongTerm, &stun.Credential{Username: cfg.Username, Password: pw})
	clear(pw)         // the session keeps its own copy, zeroed when it is destroyed
	cfg.Password = "" // and the allocation none
	a.cfg, a.server, a.conn, a.sess = cfg, srv, conn, sess
	a.q = pktq.NewQueue(cfg.QueueLen, a.mod.Packets)
	if !a.ep.SetRunning() {
		return a.ep.Check() // stopped meanwhile: release closes what we opened
	}
	a.state = Allocating
	a.quit = make(chan struct{})
	a.wg.Add(1)
	go a.receive()
	if err := a.sendAllocateLocked(); err != nil {
		a.failLocked(err)
	}
	a.ep.Signal()
	return nil
}

// request kinds, as session tokens.
type kind int

const (
	kindAllocate kind = iota + 1
	kindRefresh
	kindPermission
	kindChannel
	kindDeallocate
)

// token is what a transaction carries back to onComplete.
type token struct {
	kind kind
	peer netip.AddrPort
}

func (a *Allocation) sendAllocateLocked() error {
	td, err := a.sess.CreateReq(pionstun.MethodAllocate, stun.MagicCookie, nil)
	if err != nil {
		return err
	}
	td.Add(pionstun.AttrRequestedTransport, []byte{17, 0, 0, 0})
	td.Add(pionstun.AttrLifetime, binary.BigEndian.AppendUint32(nil, uint32(a.cfg.Lifetime/time.Second)))
	if a.cfg.EvenPort || a.cfg.ReservePort {
		v := byte(0)
		if a.cfg.ReservePort {
			v = 0x80
		}
		td.Add(pionstun.AttrEvenPort, []byte{v})
	}
	return a.sess.SendMsg(token{kind: kindAllocate}, false, true, a.server, td)
}

// onComplete handles the end of every request (the session's callback).
func (a *Allocation) onComplete(_ *stun.Session, status error, tok any, td *stun.TxData, res *pionstun.Message, _ netip.AddrPort) {
	t, _ := tok.(token)
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.waiters[td]; w != nil {
		delete(a.waiters, td)
		w <- status
	}
	if a.stopping {
		return
	}
	switch t.kind {
	case kindAllocate:
		var r Response
		if res != nil {
			r = ProcessAllocate(res.Raw, a.cfg.Compatibility)
		}
		switch {
		case res != nil && r.Return == AlternateServer && !a.followed:
			if err := checkAlternate(a.server, r.Alternate); err != nil {
				a.failLocked(fmt.Errorf("turn: Allocate: %w", err))
				return
			}
			a.followed = true
			a.server = r.Alternate
			a.mod.Log.Debug("turn: following the alternate server", "server", r.Alternate)
			if err := a.sendAllocateLocked(); err != nil {
				a.failLocked(err)
			}
		case status != nil:
			a.failLocked(fmt.Errorf("turn: Allocate: %w", status))
		case r.Return != RelaySuccess && r.Return != MappedSuccess:
			a.failLocked(fmt.Errorf("turn: Allocate: %w: no relayed address in the response", stun.ErrInvalidMessage))
		default:
			a.relay, a.mapped = r.Relay, r.Mapped
			a.lifetime = time.Duration(r.Lifetime) * time.Second
			if a.lifetime == 0 {
				a.lifetime = a.cfg.Lifetime
			}
			a.state, a.allocated = Allocated, true
			a.scheduleRefreshLocked()
			a.ep.Signal()
		}
	case kindRefresh:
		if a.state != Allocated {
			return
		}
		if status != nil {
			a.failLocked(fmt.Errorf("turn: Refresh: %w", status))
			return
		}
		r := ProcessRefresh(res.Raw, a.cfg.Compatibility)
		if r.Lifetime > 0 {
			a.lifetime = time.Duration(r.Lifetime) * time.Second
		}
		a.scheduleRefreshLocked()
	case kindPermission, kindChannel:
		var g *grant
		if t.kind == kindPermission {
			g = a.perms[t.peer.Addr()]
		} else {
			g = a.channels[t.peer]
		}
		if g == nil {
			return
		}
		if lost(status) {
			a.failLocked(fmt.Errorf("turn: %v: %w", t.kind, status))
			return
		}
		if status != nil {
			// Lost: forget it; a later SendTo uses a Send indication.
			a.mod.Log.Debug("turn: permission or channel refused", "peer", t.peer, "err", status)
			a.dropGrantLocked(t.kind, t.peer)
			return
		}
		g.ok = true
		life := permissionLifetime
		if t.kind == kindChannel {
			life = channelLifetime
		}
		kind, peer := t.kind, t.peer
		g.timer = a.clk.AfterFunc(life-refreshMargin, func() { a.regrant(kind, peer) })
	}
}

// scheduleRefreshLocked refreshes the allocation a minute before it
// expires (or at half its lifetime when that is shorter), or after
// Keepalive when that comes first.
func (a *Allocation) scheduleRefreshLocked() {
	if a.refresh != nil {
		a.refresh.Stop()
	}
	wait := a.lifetime - refreshMargin
	if wait < a.lifetime/2 {
		wait = a.lifetime / 2
	}
	if a.cfg.Keepalive > 0 && a.cfg.Keepalive < wait {
		wait = a.cfg.Keepalive
	}
	a.refresh = a.clk.AfterFunc(wait, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.state != Allocated || a.stopping {
			return
		}
		if err := a.sendRefreshLocked(a.cfg.Lifetime, kindRefresh); err != nil {
			a.failLocked(err)
		}
	})
}

func (a *Allocation) sendRefreshLocked(lifetime time.Duration, k kind) error {
	td, err := a.sess.CreateReq(pionstun.MethodRefresh, stun.MagicCookie, nil)
	if err != nil {
		return err
	}
	td.Add(pionstun.AttrLifetime, binary.BigEndian.AppendUint32(nil, uint32(lifetime/time.Second)))
	return a.sess.SendMsg(token{kind: k}, false, true, a.server, td)
}

// failLocked ends the allocation with err: status Failed (final).
func (a *Allocation) failLocked(err error) {
	if a.state == Failed || a.state == Stopped {
		return
	}
	a.state = Failed
	a.ep.SetCause(err)
	if a.refresh != nil {
		a.refresh.Stop()
	}
	a.mod.Log.Debug("turn: allocation failed", "err", err)
	a.ep.Signal()
}

func (a *Allocation) readyLocked() error {
	if err := a.ep.Check(); err != nil {
		return err
	}
	switch a.state {
	case Allocated:
		return nil
	case Failed:
		return fmt.Errorf("%w: %w", ErrNotAllocated, a.ep.Cause())
	}
	return ErrNotAllocated
}

// Status returns the current status: Stopped or Failed (Err tells why)
// once final; else Allocating until the allocation exists, Allocated once
// after it does, Overrun once per overflow episode, HasPacket while data is
// queued, Running.
func (a *Allocation) Status() (Status, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if a.ep.State() == core.Stopped {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.state == Failed {
			return Failed, nil
		}
		return Stopped, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Running
	switch {
	case a.state == Failed:
		a.ep.Signal() // level-triggered: stays reported until Stop or Destroy
		return Failed, nil
	case a.state == Allocating:
		return Allocating, nil
	case a.allocated:
		a.allocated = false
		st = Allocated
	case a.q.TakeOverrun():
		st = Overrun
	case a.q.Len() > 0:
		st = HasPacket
	}
	if a.q.Pending() {
		a.ep.Signal()
	}
	return st, nil
}

// Err returns why the allocation ended: nil while it runs and after Stop;
// once Failed, the cause (a *stun.StatusError for an error response such
// as 401 with wrong credentials, stun.ErrTimeout for a server that stopped
// answering, a socket error). After Destroy it returns an error matching
// ErrDestroyed; on a nil handle, ErrNilHandle.
func (a *Allocation) Err() error { return a.endpoint().Err() }

// RelayedAddr returns the relayed transport address (once Allocated).
func (a *Allocation) RelayedAddr() (netip.AddrPort, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.relay.IsValid() {
		return netip.AddrPort{}, ErrNotAllocated
	}
	return a.relay, nil
}

// MappedAddr returns the server-reflexive address the server reported.
func (a *Allocation) MappedAddr() (netip.AddrPort, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.relay.IsValid() {
		return netip.AddrPort{}, ErrNotAllocated
	}
	return a.mapped, nil
}

// LocalAddr returns the local address the allocation talks to its server
// from.
func (a *Allocation) LocalAddr() (netip.AddrPort, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return netip.AddrPort{}, fmt.Errorf("turn: %w: not configured", mediaport.ErrState)
	}
	return a.conn.LocalAddr(), nil
}

// ReadBuffer returns the receive buffer size of the allocation's socket
// as the kernel reports it (SO_RCVBUF: on Linux twice what it granted for
// data); see Config.ReadBuffer. Outside Linux it returns an error
// matching errors.ErrUnsupported.
func (a *Allocation) ReadBuffer() (int, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return 0, fmt.Errorf("turn: %w: not configured", mediaport.ErrState)
	}
	n, err := a.conn.ReadBuffer()
	if err != nil {
		return 0, fmt.Errorf("turn: %w", err)
	}
	return n, nil
}

// Server returns the server in use (after a 300, the alternate).
func (a *Allocation) Server() netip.AddrPort {
	if a.endpoint().CheckAlive() != nil {
		return netip.AddrPort{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.server
}

// Lifetime returns the lifetime the server granted.
func (a *Allocation) Lifetime() time.Duration {
	if a.endpoint().CheckAlive() != nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lifetime
}

// Stats returns the allocation's counters.
func (a *Allocation) Stats() (Stats, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return Stats{}, err
	}
	s := Stats{Packets: a.packets.Load(), Bytes: a.bytes.Load(),
		SentPackets: a.sentPackets.Load(), SentBytes: a.sentBytes.Load(), SendErrors: a.sendErrs.Load(),
		Foreign: a.foreign.Load(), Truncated: a.truncated.Load(), Malformed: a.malformed.Load(),
		Unbound: a.unbound.Load()}
	a.mu.Lock()
	if a.q != nil {
		s.Overrun = a.q.Drops()
	}
	a.mu.Unlock()
	return s, nil
}

// Event returns the allocation's event.
func (a *Allocation) Event() (*event.Event, error) {
	if err := a.endpoint().CheckAlive(); err != nil {
		return nil, err
	}
	return a.ep.Event(), nil
}

// release is the lifecycle's stop function: it releases the allocation
// (a Refresh with LIFETIME 0, not waited for), then closes the socket.
func (a *Allocation) release() {
	a.mu.Lock()
	a.stopping = true
	if a.refresh != nil {
		a.refresh.Stop()
	}
	for _, g := range a.perms {
		if g.timer != nil {
			g.timer.Stop()
		}
	}
	for _, g := range a.channels {
		if g.timer != nil {
			g.timer.Stop()
		}
	}
	if a.state == Allocated {
		a.sendRefreshLocked(0, kindDeallocate)
	}
	if a.state != Failed {
		a.state = Stopped
	}
	for td, w := range a.waiters {
		w <- mediaport.ErrStopped
		delete(a.waiters, td)
	}
	conn, sess, q := a.conn, a.sess, a.q
	if a.quit != nil {
		close(a.quit) // ends a receive backoff
	}
	a.mu.Unlock()
	if sess != nil {
		sess.Destroy()
	}
	if conn != nil {
		conn.Close()
	}
	a.wg.Wait()
	if q != nil {
		q.Close()
	}
}

// Stop releases the allocation (Refresh with LIFETIME 0), closes the socket
// and reaches Stopped (or keeps Failed); the event is then signalled
// permanently.
func (a *Allocation) Stop() error {
	if a == nil || a.ep == nil {
		return mediaport.ErrNilHandle
	}
	return a.ep.Stop()
}

// Destroy stops the allocation if needed and invalidates the handle.
func (a *Allocation) Destroy() error {
	if a == nil || a.ep == nil {
		return mediaport.ErrNilHandle
	}
	if err := a.ep.Destroy(); err != nil {
		return err
	}
	a.mu.Lock()
	if a.q != nil {
		a.q.Reset()
	}
	a.mu.Unlock()
	return nil
}

// owner is the allocation as its core.Endpoint sees it (core.Owner).
type owner Allocation

func (o *owner) Kind() string { return "turn allocation" }
func (o *owner) Release()     { (*Allocation)(o).release() }
