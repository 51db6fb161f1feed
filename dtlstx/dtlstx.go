// Package dtlstx is Prosody's DTLS[tx] (sm_dtlstx_*): the endpoint that
// sends DTLS packets to a remote device.
//
// In pass-through mode (what Prosody does) SendPacket sends the raw DTLS
// records the application's own DTLS stack produced. When Config.Local
// names the address and port of a VMP[rx] on the same module, the DTLS[tx]
// sends from that VMP[rx]'s very socket, so the peer sees one 5-tuple for
// media, DTLS and STUN, as DTLS-SRTP and ICE need. SendPackets sends a
// batch in one sendmmsg (with UDP GSO), in either mode.
package dtlstx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/udp"
)

// Config is where a DTLS[tx] sends from and to (sm_dtlstx_config for IPv4,
// sm_dtlstx_config_ipv6 for IPv6: the family follows the addresses).
type Config struct {
	// Destination is the address and port DTLS packets are sent to. It
	// may be left zero for a server association that learns its peer from
	// the first ClientHello (association.Bind sets it); until then
	// SendPacket fails with ErrState.
	Destination netip.AddrPort
	// Local is the address and port packets are sent from (Prosody's
	// source address). The zero value, or an unspecified address, means
	// any suitable address; port 0 means a port chosen by the system. A
	// Local whose port is a VMP[rx]'s port on the same module (with its
	// address or the unspecified one) shares that VMP[rx]'s socket.
	Local netip.AddrPort
}

// Status is what Status reports (kSMDTLStxStatus).
type Status int

const (
	// Running: nothing significant to report.
	Running Status = iota
	// Stopped: the DTLS[tx] has stopped (final status) and can be
	// destroyed; its event is signalled permanently.
	Stopped
	// HasCapacity: the DTLS[tx] can take a packet of the length set with
	// ConfigNotify.
	HasCapacity
)

func (s Status) String() string {
	switch s {
	case Running:
		return "Running"
	case Stopped:
		return "Stopped"
	case HasCapacity:
		return "HasCapacity"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Stats counts what a DTLS[tx] sent.
type Stats struct {
	Packets uint64
	Bytes   uint64
	Errors  uint64
}

type writerRef struct{ w link.Writer }

// linkTx is unexported so that the embedded handle is no part of the API.
type linkTx = link.TxHandle

// route is where packets go; replaced whole by Config.
type route struct {
	conn   *udp.Conn
	dst    netip.AddrPort
	shared bool // the socket belongs to a VMP[rx]
	// batch sends SendPackets' datagrams to dst (sendmmsg, GSO); made on
	// first use (sendBatch).
	batch atomic.Pointer[udp.Batch]
}

// DTLSTx is a DTLS[tx] endpoint. Its methods are safe for concurrent use.
// A nil or zero DTLSTx returns ErrNilHandle from every method.
type DTLSTx struct {
	linkTx // the control a terminated association drives (link.TxControlOf)

	ep *core.Endpoint
	rt atomic.Pointer[route]

	mu        sync.Mutex // Config, ConfigNotify
	notifySet bool
	notifyLen uint32
	noEvent   bool
	onStop    func()

	// Terminated mode: SendPacket encrypts through the association.
	writer atomic.Pointer[writerRef]

	// startErr: why the last Config of a DTLS[tx] that has never run
	// failed (wraps ErrStartup); Status returns it until a Config works.
	startErr atomic.Pointer[error]

	packets, bytes, errs atomic.Uint64
}

// Create allocates a DTLS[tx] on mod (sm_dtlstx_create). It sends nothing
// until Config.
func Create(mod *mediaport.Module) (*DTLSTx, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	t := &DTLSTx{}
	t.ep, err = m.NewEndpoint((*owner)(t))
	if err != nil {
		return nil, err
	}
	link.SetTxControl(&t.linkTx, control{t})
	return t, nil
}

func (t *DTLSTx) endpoint() *core.Endpoint {
	if t == nil {
		return nil
	}
	return t.ep
}

// Config sets the destination and the local address (sm_dtlstx_config,
// sm_dtlstx_config_ipv6) and makes the DTLS[tx] Running. It may be called
// again to move the destination or the local address; the last call wins.
//
// A Config that fails before the DTLS[tx] has ever run is a start-up
// failure: besides returning the error, it signals the event and Status
// returns an error matching ErrStartup and the cause until a Config
// succeeds (sm_dtlstx_status: "an error to indicate that a problem
// occurred during start-up"). A failed Config of a running DTLS[tx]
// leaves it running as it was.
func (t *DTLSTx) Config(cfg Config) error {
	if err := t.endpoint().Check(); err != nil {
		return err
	}
	if err := t.config(cfg); err != nil {
		t.mu.Lock() // against a concurrent Config that works
		if t.rt.Load() == nil && t.ep.Check() == nil {
			serr := fmt.Errorf("%w: %w", ErrStartup, err)
			t.startErr.Store(&serr)
			t.ep.Signal()
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// ErrStartup: Status of a DTLS[tx] whose start-up (its first Config)
// failed; the error also matches the cause.
var ErrStartup = errors.New("dtlstx: start-up failed")

func (t *DTLSTx) config(cfg Config) error {
	dst := netip.AddrPortFrom(cfg.Destination.Addr().Unmap(), cfg.Destination.Port())
	if cfg.Destination != (netip.AddrPort{}) && (!dst.Addr().IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0) {
		return fmt.Errorf("dtlstx: %w: destination %v needs an address and a port", mediaport.ErrInvalidArgument, cfg.Destination)
	}
	src := cfg.Local.Addr().Unmap()
	switch {
	case !src.IsValid():
		src = netip.IPv4Unspecified()
		if dst.Addr().Is6() {
			src = netip.IPv6Unspecified()
		}
	case dst.IsValid() && src.Is4() != dst.Addr().Is4():
		return fmt.Errorf("dtlstx: %w: local %v, destination %v", mediaport.ErrAddressFamily, cfg.Local, cfg.Destination)
	}
	source := netip.AddrPortFrom(src, cfg.Local.Port())

	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.rt.Load()
	var r *route
	switch {
	case old != nil && (old.conn.LocalAddr() == source || (source.Port() == 0 && !old.shared && old.conn.Is6() == src.Is6())):
		r = &route{conn: old.conn, dst: dst, shared: old.shared} // same socket, new destination
	default:
		if c := t.ep.Module().LookupSocket(source); c != nil && c.Is6() == src.Is6() {
			r = &route{conn: c, dst: dst, shared: true}
			break
		}
		c, err := udp.Listen(source)
		if err != nil {
			return fmt.Errorf("dtlstx: bind %v: %w", source, err)
		}
		r = &route{conn: c, dst: dst}
	}
	t.rt.Store(r)
	t.startErr.Store(nil)
	if old != nil && !old.shared && old.conn != r.conn {
		old.conn.Close()
	}
	if !t.ep.SetRunning() && t.ep.Check() != nil {
		// Stopped meanwhile: release may have run before the store.
		if !r.shared {
			r.conn.Close()
		}
		return t.ep.Check()
	}
	t.signalCapacityLocked()
	return nil
}

// ConfigNotify sets when Status reports HasCapacity: when the DTLS[tx] can
// take a packet of packetLength bytes (sm_dtlstx_config_notify). With
// noCapacityEvent false the event is signalled whenever Status would report
// HasCapacity; with true, capacity alone never signals it.
//
// A DTLS[tx] hands every packet to the kernel inside SendPacket and keeps
// none queued, so once Running it has capacity for any packet up to the
// largest UDP payload (65,507 bytes on IPv4, 65,527 on IPv6); a larger
// packetLength is an error matching ErrInvalidArgument.
func (t *DTLSTx) ConfigNotify(packetLength uint32, noCapacityEvent bool) error {
	if err := t.endpoint().Check(); err != nil {
		return err
	}
	if packetLength > maxUDPPayload6 {
		return fmt.Errorf("dtlstx: %w: packet length %d exceeds the largest UDP payload", mediaport.ErrInvalidArgument, packetLength)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notifySet, t.notifyLen, t.noEvent = true, packetLength, noCapacityEvent
	t.signalCapacityLocked()
	return nil
}

const (
	maxUDPPayload4 = 65507
	maxUDPPayload6 = 65527
)

// capacity returns how many bytes one packet may have now (0: none). In
// terminated mode there is none until the handshake has completed.
func (t *DTLSTx) capacity() int {
	r := t.rt.Load()
	if r == nil || t.ep.Check() != nil {
		return 0
	}
	if w := t.writer.Load(); w != nil && !w.w.Ready() {
		return 0
	}
	if r.conn.Is6() {
		return maxUDPPayload6
	}
	return maxUDPPayload4
}

func (t *DTLSTx) hasCapacityLocked() bool {
	return t.notifySet && t.capacity() >= int(t.notifyLen)
}

func (t *DTLSTx) signalCapacityLocked() {
	if !t.noEvent && t.hasCapacityLocked() {
		t.ep.Signal()
	}
}

// SendPacket sends one packet (sm_dtlstx_send_packet): in pass-through
// mode a raw DTLS datagram, handed to the kernel before SendPacket returns,
// without allocating; in terminated mode application data, encrypted into
// one record (before the handshake has completed: an error matching
// ErrNotEstablished). Before Config it returns an error matching ErrState;
// after Stop, ErrStopped.
func (t *DTLSTx) SendPacket(p []byte) error {
	if err := t.endpoint().Check(); err != nil {
		return err
	}
	if w := t.writer.Load(); w != nil {
		if !w.w.Ready() {
			return ErrNotEstablished
		}
		if err := w.w.Write(p); err != nil {
			// Raced with a change of state: the endpoint stopped, or
			// the association ended (or never was ready): one answer
			// whichever path the race took.
			if cerr := t.ep.Check(); cerr != nil {
				return cerr
			}
			if errors.Is(err, ErrNotEstablished) || !w.w.Ready() {
				return ErrNotEstablished
			}
			t.errs.Add(1)
			return err
		}
		t.packets.Add(1)
		t.bytes.Add(uint64(len(p)))
		return nil
	}
	return t.sendRaw(p)
}

// ErrNotEstablished: in terminated mode, SendPacket before the handshake
// has completed or after the association ended. It is
// mediaport.ErrNotEstablished (the association's too) and matches ErrState.
var ErrNotEstablished = mediaport.ErrNotEstablished

func (t *DTLSTx) sendRaw(p []byte) error { return t.sendRawTo(p, netip.AddrPort{}) }

// sendRawTo sends p to dst, or to the route's destination when dst is
// the zero AddrPort.
func (t *DTLSTx) sendRawTo(p []byte, to netip.AddrPort) error {
	r := t.rt.Load()
	if r == nil {
		return errNotConfigured
	}
	dst := r.dst
	if to.IsValid() {
		dst = to
	}
	if !dst.IsValid() {
		return errNoDestination
	}
	if _, err := r.conn.WriteTo(p, dst); err != nil {
		if errors.Is(err, net.ErrClosed) {
			if err := t.ep.Check(); err != nil {
				return err
			}
			if t.rt.Load() != r { // reconfigured meanwhile: try the new route once
				return t.sendRawTo(p, to)
			}
			t.errs.Add(1)
			return fmt.Errorf("dtlstx: %w: the source socket was closed (its VMP[rx] stopped)", mediaport.ErrState)
		}
		t.errs.Add(1)
		return fmt.Errorf("dtlstx: send to %v: %w", dst, err)
	}
	t.packets.Add(1)
	t.bytes.Add(uint64(len(p)))
	return nil
}

var (
	errNotConfigured = fmt.Errorf("dtlstx: %w: not configured", mediaport.ErrState)
	errNoDestination = fmt.Errorf("dtlstx: %w: no destination yet", mediaport.ErrState)
)

// LocalAddr returns the address packets leave from.
func (t *DTLSTx) LocalAddr() (netip.AddrPort, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	r := t.rt.Load()
	if r == nil {
		return netip.AddrPort{}, errNotConfigured
	}
	return r.conn.LocalAddr(), nil
}

// Destination returns the address packets are sent to.
func (t *DTLSTx) Destination() (netip.AddrPort, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	r := t.rt.Load()
	if r == nil {
		return netip.AddrPort{}, errNotConfigured
	}
	return r.dst, nil
}

// SharesSocket reports whether packets leave from a VMP[rx]'s socket.
func (t *DTLSTx) SharesSocket() (bool, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return false, err
	}
	r := t.rt.Load()
	return r != nil && r.shared, nil
}

// Event returns the DTLS[tx]'s event (sm_dtlstx_get_event): signalled when
// the status changes (with capacity notification on, whenever Status would
// report HasCapacity) and permanently once stopped. It stays valid
// (signalled) after Destroy.
func (t *DTLSTx) Event() (*event.Event, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return nil, err
	}
	return t.ep.Event(), nil
}

// Status returns the current status (sm_dtlstx_status): Stopped once
// stopped; HasCapacity when ConfigNotify was called and a packet of its
// length can be sent; else Running. Its error means the call failed (a nil
// or destroyed handle) or, as in Prosody, that start-up failed: an error
// matching ErrStartup and the cause, with Running, while the event stays
// signalled, until a Config succeeds (see Config).
func (t *DTLSTx) Status() (Status, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return 0, err
	}
	if t.ep.State() == core.Stopped {
		return Stopped, nil
	}
	if p := t.startErr.Load(); p != nil {
		t.ep.Signal() // level-triggered: the cause remains
		return Running, *p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hasCapacityLocked() {
		t.signalCapacityLocked() // level-triggered: the cause remains
		return HasCapacity, nil
	}
	return Running, nil
}

// Err returns why the DTLS[tx] ended: nil while it runs and after Stop,
// the error that stopped it otherwise. After Destroy it returns an error
// matching ErrDestroyed; on a nil handle, ErrNilHandle.
func (t *DTLSTx) Err() error { return t.endpoint().Err() }

// Stats returns the DTLS[tx]'s counters.
func (t *DTLSTx) Stats() (Stats, error) {
	if err := t.endpoint().CheckAlive(); err != nil {
		return Stats{}, err
	}
	return Stats{Packets: t.packets.Load(), Bytes: t.bytes.Load(), Errors: t.errs.Load()}, nil
}

func (t *DTLSTx) release() {
	t.mu.Lock()
	f := t.onStop
	t.onStop = nil
	t.mu.Unlock()
	if f != nil {
		f() // terminated: close_notify goes out before the socket closes
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.rt.Load(); r != nil && !r.shared {
		r.conn.Close()
	}
}

// control is the DTLS[tx] as seen by a terminated association.
type control struct{ t *DTLSTx }

func (c control) Check() error { return c.t.ep.Check() }

func (c control) SetWriter(w link.Writer) error {
	if w == nil {
		c.t.writer.Store(nil)
		return nil
	}
	if !c.t.writer.CompareAndSwap(nil, &writerRef{w}) {
		return fmt.Errorf("dtlstx: %w: already bound to an association", mediaport.ErrState)
	}
	return nil
}

func (c control) SendRaw(p []byte) error {
	if c.t.ep.State() == core.Destroyed {
		return mediaport.ErrDestroyed
	}
	return c.t.sendRaw(p)
}

func (c control) SendRawTo(p []byte, dst netip.AddrPort) error {
	if c.t.ep.State() == core.Destroyed {
		return mediaport.ErrDestroyed
	}
	if !dst.IsValid() {
		return errNoDestination
	}
	return c.t.sendRawTo(p, dst)
}

func (c control) Destination() (netip.AddrPort, error) { return c.t.Destination() }

func (c control) SetDestination(dst netip.AddrPort) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	r := c.t.rt.Load()
	if r == nil {
		return errNotConfigured
	}
	if dst.Addr().Is4() != r.conn.LocalAddr().Addr().Is4() {
		return mediaport.ErrAddressFamily
	}
	c.t.rt.Store(&route{conn: r.conn, dst: dst, shared: r.shared})
	return nil
}
func (c control) LocalAddr() (netip.AddrPort, error) { return c.t.LocalAddr() }

func (c control) CapacityChanged() {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	c.t.signalCapacityLocked()
}

func (c control) SetOnStop(f func()) {
	c.t.mu.Lock()
	c.t.onStop = f
	c.t.mu.Unlock()
}

// Stop stops the DTLS[tx] (sm_dtlstx_stop): it closes its own socket (not
// a VMP[rx]'s), reaches its final status Stopped and signals its event
// permanently. Sends after Stop fail with ErrStopped.
func (t *DTLSTx) Stop() error {
	if t == nil || t.ep == nil {
		return mediaport.ErrNilHandle
	}
	return t.ep.Stop()
}

// Destroy stops the DTLS[tx] if needed and invalidates the handle
// (sm_dtlstx_destroy): every later call returns an error matching
// ErrDestroyed.
func (t *DTLSTx) Destroy() error {
	if t == nil || t.ep == nil {
		return mediaport.ErrNilHandle
	}
	return t.ep.Destroy()
}

// owner is the DTLS[tx] as its core.Endpoint sees it (core.Owner).
type owner DTLSTx

func (o *owner) Kind() string { return "dtlstx" }
func (o *owner) Release()     { (*DTLSTx)(o).release() }
