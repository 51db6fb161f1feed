// Package dispatcher is Prosody's UDP dispatcher (sm_udp_dispatcher_create):
// an endpoint that transmits UDP datagrams from one local address to one
// destination, IPv4 or IPv6, with a TOS byte (IPv4) or traffic class (IPv6)
// set on its socket.
//
//	d, err := dispatcher.Create(mod, dispatcher.Config{
//		Destination: netip.MustParseAddrPort("192.0.2.10:4000"),
//		TOS:         0xb8, // EF
//	})
//	...
//	err = d.Send(pkt)
//	err = d.Destroy()
package dispatcher

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
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
	Local netip.AddrPort
	// TOS is the IPv4 Type Of Service byte, or for IPv6 the traffic class,
	// of every datagram sent (0..255). Prosody applies TOS to IPv4 only;
	// mediaport applies it to both families.
	TOS int
}

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
	ep    *core.Endpoint
	conn  *udp.Conn
	dst   netip.AddrPort
	batch *udp.Batch
	srtp  atomic.Pointer[srtpTx] // ConfigSRTP; nil: sent as they are

	packets, bytes, errs atomic.Uint64
}

// Create allocates a UDP dispatcher on mod (sm_udp_dispatcher_create): it
// binds the local address, sets the TOS, and is Running when it returns.
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
	conn, err := udp.Listen(netip.AddrPortFrom(src, cfg.Local.Port()))
	if err != nil {
		return nil, fmt.Errorf("dispatcher: bind %v: %w", netip.AddrPortFrom(src, cfg.Local.Port()), err)
	}
	if err := conn.SetTOS(cfg.TOS); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dispatcher: set TOS: %w", err)
	}
	d := &Dispatcher{conn: conn, dst: dst}
	d.batch = udp.NewBatch(conn, dst, m.Limits.Batch)
	d.ep, err = m.NewEndpoint("dispatcher", func() { conn.Close() })
	if err != nil {
		conn.Close()
		return nil, err
	}
	d.ep.SetRunning()
	m.Log.Debug("dispatcher created", "local", conn.LocalAddr(), "destination", dst, "tos", cfg.TOS)
	return d, nil
}

func (d *Dispatcher) check() error {
	if d == nil || d.ep == nil {
		return mediaport.ErrNilHandle
	}
	return d.ep.Check()
}

// LocalAddr returns the local address and port the dispatcher sends from,
// with the port the system allocated when Config.Local had port 0.
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

// Send sends one datagram (protected with SRTP after ConfigSRTP). It does
// not allocate. After Stop it returns an
// error matching ErrStopped, after Destroy one matching ErrDestroyed.
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
	if _, err := d.conn.WriteTo(p, d.dst); err != nil {
		return d.sendError(err)
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(len(p)))
	return nil
}

// SendBatch sends the datagrams of pkts in order, up to the module's Batch
// size per sendmmsg system call. It returns how many were sent; on error
// the rest were not. After ConfigSRTP each is protected first; one that
// cannot be fails the call before any is sent. In steady use it does not
// allocate.
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
		// Stop closed the socket under us.
		return d.ep.Check()
	}
	d.errs.Add(1)
	return fmt.Errorf("dispatcher: send to %v: %w", d.dst, err)
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

// Err returns why the dispatcher ended: nil while it runs and after Stop.
// (A send error fails that send and does not end the dispatcher.) After
// Destroy it returns an error matching ErrDestroyed; on a nil handle,
// ErrNilHandle.
func (d *Dispatcher) Err() error {
	if d == nil {
		return mediaport.ErrNilHandle
	}
	return d.ep.Err()
}

// Stop stops the dispatcher: it closes the socket, reaches its final status
// Stopped and signals its event permanently. Sends after Stop fail with
// ErrStopped. Stopping twice does nothing.
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
