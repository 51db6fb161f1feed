// Package dispatcher is Prosody's UDP dispatcher (sm_udp_dispatcher_create):
// an endpoint that transmits UDP datagrams from one local address to one
// destination, IPv4 or IPv6, with a TOS byte (IPv4) or traffic class (IPv6).
//
//	d, err := dispatcher.Create(mod, dispatcher.Config{
//		Destination: netip.MustParseAddrPort("192.0.2.10:4000"),
//		TOS:         0xb8, // EF
//	})
//	...
//	err = d.Send(pkt)
//	err = d.Destroy()
//
// # Sending from a media port
//
// A dispatcher whose Config.Local is the RTP or RTCP port of a VMP[rx] on
// the same module sends from that VMP[rx]'s own socket, so the peer sees
// the media come from the address its ICE checks selected and its DTLS
// talks to: a browser drops RTP from any other. This is how an application
// sends RTP and RTCP on a WebRTC port (VMPRx.SendFrom remains for STUN).
// The socket stays the VMP[rx]'s: the dispatcher never changes its options
// and never closes it; its TOS travels with each datagram instead (a
// control message; Linux only), so STUN, DTLS and other dispatchers on the
// port keep theirs. When the VMP[rx] stops, the dispatcher stops with it:
// Status reports Stopped, Err returns ErrSourceClosed, and sends fail with
// an error matching ErrSourceClosed and mediaport.ErrStopped.
package dispatcher

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
	"github.com/mediaport/mediaport/internal/udp"
)

// Config is what sm_udp_dispatcher_create takes. The address family
// (kSMDispatcherTypeIPv4 or kSMDispatcherTypeIPv6) follows the addresses.
type Config struct {
	// Destination is the address and port every datagram is sent to.
	// Required; IPv4-mapped IPv6 addresses count as IPv4.
	Destination netip.AddrPort
	// Local is the address and port datagrams are sent from (Prosody's
	// source address). The zero value, or an unspecified address, means
	// any suitable address; port 0 means a port chosen by the system.
	// LocalAddr reports what was chosen. A Local of the other family than
	// Destination is an error (ErrAddressFamily).
	//
	// A Local whose port is a VMP[rx]'s RTP or RTCP port on the same
	// module, with that VMP[rx]'s address or the unspecified one, shares
	// the VMP[rx]'s socket (see the package documentation); otherwise the
	// dispatcher binds a socket of its own.
	Local netip.AddrPort
	// TOS is the IPv4 Type Of Service byte, or for IPv6 the traffic class,
	// of every datagram sent (0..255). Prosody applies TOS to IPv4 only;
	// mediaport applies it to both families. On a socket of its own the
	// dispatcher sets it on the socket; on a VMP[rx]'s socket it sends it
	// with each datagram (IP_TOS or IPV6_TCLASS control message) and
	// leaves the socket alone. Outside Linux a shared socket sends every
	// datagram with the socket's TOS, 0, whatever TOS says.
	TOS int
}

// ErrSourceClosed: the dispatcher sent from a VMP[rx]'s socket and that
// VMP[rx] stopped, closing it. The dispatcher has stopped too; the error
// matches mediaport.ErrStopped.
var ErrSourceClosed = fmt.Errorf("%w: the VMP[rx] whose socket it sent from has stopped", mediaport.ErrStopped)

// Status is what Status reports.
type Status int

const (
	// Running: nothing significant to report; the dispatcher can send.
	Running Status = iota
	// Stopped: the dispatcher has stopped (final status) and can be
	// destroyed; its event is signalled permanently.
	Stopped
)

func (s Status) String() string {
	switch s {
	case Running:
		return "Running"
	case Stopped:
		return "Stopped"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Stats counts what a dispatcher has sent.
type Stats struct {
	Packets uint64 // datagrams sent
	Bytes   uint64 // payload bytes sent
	Errors  uint64 // datagrams the socket refused
}

// Dispatcher is a UDP dispatcher. Its methods are safe for concurrent use.
// A nil or zero Dispatcher returns ErrNilHandle from every method.
type Dispatcher struct {
	ep     *core.Endpoint
	conn   *udp.Conn
	shared bool   // conn is a VMP[rx]'s
	ctl    []byte // on a shared socket, the TOS control message of each datagram
	dst    netip.AddrPort
	batch  *udp.Batch
	srtp   atomic.Pointer[srtpTx] // ConfigSRTP; nil: sent as they are

	mu     sync.Mutex
	unhook func() // cancels the shared socket's OnClose

	packets, bytes, errs atomic.Uint64
}

// Create allocates a UDP dispatcher on mod (sm_udp_dispatcher_create): it
// binds the local address and sets the TOS, or takes a VMP[rx]'s socket
// (Config.Local), and is Running when it returns.
func Create(mod *mediaport.Module, cfg Config) (*Dispatcher, error) {
	m, err := core.Get(mod)
	if err != nil {
		return nil, err
	}
	dst := netip.AddrPortFrom(cfg.Destination.Addr().Unmap(), cfg.Destination.Port())
	if !dst.Addr().IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0 {
		return nil, fmt.Errorf("dispatcher: %w: destination %v needs an address and a port", mediaport.ErrInvalidArgument, cfg.Destination)
	}
	src := cfg.Local.Addr().Unmap()
	switch {
	case !src.IsValid():
		src = netip.IPv4Unspecified()
		if dst.Addr().Is6() {
			src = netip.IPv6Unspecified()
		}
	case src.Is4() != dst.Addr().Is4():
		return nil, fmt.Errorf("dispatcher: %w: local %v, destination %v", mediaport.ErrAddressFamily, cfg.Local, cfg.Destination)
	}
	if cfg.TOS < 0 || cfg.TOS > 255 {
		return nil, fmt.Errorf("dispatcher: %w: TOS %d out of range 0..255", mediaport.ErrInvalidArgument, cfg.TOS)
	}
	source := netip.AddrPortFrom(src, cfg.Local.Port())
	d := &Dispatcher{dst: dst}
	if c := m.LookupSocket(source); c != nil && c.Is6() == src.Is6() {
		d.conn, d.shared = c, true
		if cfg.TOS != 0 { // the socket's own is 0: a VMP[rx] never sets it
			d.ctl = c.TOSControl(cfg.TOS)
		}
	} else {
		if d.conn, err = udp.Listen(source); err != nil {
			return nil, fmt.Errorf("dispatcher: bind %v: %w", source, err)
		}
		if err := d.conn.SetTOS(cfg.TOS); err != nil {
			d.conn.Close()
			return nil, fmt.Errorf("dispatcher: set TOS: %w", err)
		}
	}
	d.batch = udp.NewBatch(d.conn, dst, m.Limits.Batch)
	if d.ctl != nil {
		d.batch.SetControl(d.ctl)
	}
	if d.ep, err = m.NewEndpoint((*owner)(d)); err != nil {
		if !d.shared {
			d.conn.Close()
		}
		return nil, err
	}
	if d.shared {
		cancel, ok := d.conn.OnClose(d.sourceClosed)
		if !ok { // the VMP[rx] closed it since LookupSocket
			_ = d.ep.Destroy()
			return nil, fmt.Errorf("dispatcher: %w", ErrSourceClosed)
		}
		d.mu.Lock()
		d.unhook = cancel
		d.mu.Unlock()
	}
	if !d.ep.SetRunning() {
		// Stopped meanwhile: the VMP[rx] closed the socket, or
		// Module.Close destroyed the dispatcher. release may have run
		// before unhook was set.
		err := d.check()
		_ = d.ep.Destroy()
		d.release()
		return nil, err
	}
	m.Log.Debug("dispatcher created", "local", d.conn.LocalAddr(), "shared", d.shared, "destination", dst, "tos", cfg.TOS)
	return d, nil
}

// release is the lifecycle's stop function: it closes the dispatcher's own
// socket, or stops watching a shared one.
func (d *Dispatcher) release() {
	d.mu.Lock()
	unhook := d.unhook
	d.unhook = nil
	d.mu.Unlock()
	if unhook != nil {
		unhook()
	}
	if !d.shared {
		d.conn.Close()
	}
}

// sourceClosed runs when the VMP[rx] closes the shared socket, before it
// closes: a send from then on fails with ErrSourceClosed.
func (d *Dispatcher) sourceClosed() { _ = d.ep.StopWith(ErrSourceClosed) }

func (d *Dispatcher) check() error {
	if d == nil || d.ep == nil {
		return mediaport.ErrNilHandle
	}
	if err := d.ep.Check(); err != nil {
		return d.ended(err)
	}
	return nil
}

// ended returns err, a lifecycle error, or the cause the dispatcher
// stopped for when it has one (ErrSourceClosed) and is not destroyed.
func (d *Dispatcher) ended(err error) error {
	if cause := d.ep.Cause(); cause != nil && errors.Is(err, mediaport.ErrStopped) {
		return fmt.Errorf("dispatcher: %w", cause)
	}
	return err
}

// LocalAddr returns the local address and port the dispatcher sends from,
// with the port the system allocated when Config.Local had port 0; for a
// shared socket, the address the VMP[rx] bound.
func (d *Dispatcher) LocalAddr() (netip.AddrPort, error) {
	if d == nil || d.ep == nil {
		return netip.AddrPort{}, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	return d.conn.LocalAddr(), nil
}

// Destination returns the address datagrams are sent to.
func (d *Dispatcher) Destination() (netip.AddrPort, error) {
	if d == nil || d.ep == nil {
		return netip.AddrPort{}, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return netip.AddrPort{}, err
	}
	return d.dst, nil
}

// Send sends one datagram, with the dispatcher's TOS (protected with SRTP
// after ConfigSRTP). It does not allocate. After Stop it returns an error
// matching ErrStopped, after Destroy one matching ErrDestroyed; once the
// VMP[rx] whose socket it shares has stopped, one matching ErrSourceClosed
// (and ErrStopped).
func (d *Dispatcher) Send(p []byte) error {
	if err := d.check(); err != nil {
		return err
	}
	if t := d.srtp.Load(); t != nil {
		var err error
		if p, err = t.protect(p); err != nil {
			return err
		}
		defer t.mu.Unlock()
	}
	return d.write(p)
}

// write hands one datagram, as it goes on the wire, to the kernel.
func (d *Dispatcher) write(p []byte) error {
	if _, err := d.conn.WriteMsgTo(p, d.ctl, d.dst); err != nil {
		return d.sendError(err)
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(len(p)))
	return nil
}

// SendBatch sends the datagrams of pkts in order, up to the module's Batch
// size per sendmmsg system call, with UDP segmentation offload where the
// kernel has it, each with the dispatcher's TOS. It returns how many were
// sent; on error the rest were not. After ConfigSRTP each is protected
// first; one that cannot be fails the call before any is sent. In steady
// use it does not allocate. Its errors are Send's.
func (d *Dispatcher) SendBatch(pkts [][]byte) (int, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	if t := d.srtp.Load(); t != nil {
		var err error
		if pkts, err = t.protectBatch(pkts); err != nil {
			return 0, err
		}
		defer t.mu.Unlock()
	}
	return d.writeBatch(pkts)
}

// writeBatch hands datagrams, as they go on the wire, to the kernel.
func (d *Dispatcher) writeBatch(pkts [][]byte) (int, error) {
	n, err := d.batch.Send(pkts)
	var b uint64
	for _, p := range pkts[:n] {
		b += uint64(len(p))
	}
	d.packets.Add(uint64(n))
	d.bytes.Add(b)
	if err != nil {
		return n, d.sendError(err)
	}
	return n, nil
}

func (d *Dispatcher) sendError(err error) error {
	if errors.Is(err, net.ErrClosed) {
		// Our Stop closed the socket under us, or the VMP[rx] whose
		// socket it is stopped (its OnClose stopped us first).
		if cerr := d.check(); cerr != nil {
			return cerr
		}
	}
	d.errs.Add(1)
	return fmt.Errorf("dispatcher: send to %v: %w", d.dst, err)
}

// SharesSocket reports whether the dispatcher sends from a VMP[rx]'s
// socket (Config.Local).
func (d *Dispatcher) SharesSocket() (bool, error) {
	if d == nil || d.ep == nil {
		return false, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return false, err
	}
	return d.shared, nil
}

// Stats returns the dispatcher's counters.
func (d *Dispatcher) Stats() (Stats, error) {
	if d == nil || d.ep == nil {
		return Stats{}, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return Stats{}, err
	}
	return Stats{Packets: d.packets.Load(), Bytes: d.bytes.Load(), Errors: d.errs.Load()}, nil
}

// Event returns the dispatcher's event. It is signalled when the status
// changes, and permanently once the dispatcher has stopped. It stays valid
// (signalled) after Destroy.
func (d *Dispatcher) Event() (*event.Event, error) {
	if d == nil || d.ep == nil {
		return nil, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return nil, err
	}
	return d.ep.Event(), nil
}

// Status returns the current status.
func (d *Dispatcher) Status() (Status, error) {
	if d == nil || d.ep == nil {
		return 0, mediaport.ErrNilHandle
	}
	if err := d.ep.CheckAlive(); err != nil {
		return 0, err
	}
	if d.ep.State() == core.Stopped {
		return Stopped, nil
	}
	return Running, nil
}

// Err returns why the dispatcher ended: nil while it runs and after Stop,
// ErrSourceClosed after the VMP[rx] whose socket it shared stopped. (A
// send error fails that send and does not end the dispatcher.) After
// Destroy it returns an error matching ErrDestroyed; on a nil handle,
// ErrNilHandle.
func (d *Dispatcher) Err() error {
	if d == nil {
		return mediaport.ErrNilHandle
	}
	return d.ep.Err()
}

// Stop stops the dispatcher: it closes its socket (a shared one stays
// open: it is the VMP[rx]'s), reaches its final status Stopped and
// signals its event permanently. Sends after Stop fail with ErrStopped.
// Stopping twice does nothing.
func (d *Dispatcher) Stop() error {
	if d == nil || d.ep == nil {
		return mediaport.ErrNilHandle
	}
	return d.ep.Stop()
}

// Destroy stops the dispatcher if needed and invalidates the handle: every
// later call returns an error matching ErrDestroyed.
func (d *Dispatcher) Destroy() error {
	if d == nil || d.ep == nil {
		return mediaport.ErrNilHandle
	}
	return d.ep.Destroy()
}

// owner is the dispatcher as its core.Endpoint sees it (core.Owner).
type owner Dispatcher

func (o *owner) Kind() string { return "dispatcher" }
func (o *owner) Release()     { (*Dispatcher)(o).release() }
