// Package core is the machinery every mediaport endpoint shares: the module
// (sm_open_module) with its logger, clock and limits, the error sentinels,
// and the endpoint lifecycle Create → Config → Stop → Stopped → Destroy,
// implemented once here.
//
// Package mediaport (the module root) wraps Module and re-exports the
// errors; endpoint packages reach a module's core through Of.
package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/internal/nilhandle"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// Errors shared by every endpoint. Package mediaport re-exports them; match
// them with errors.Is.
var (
	ErrDestroyed       = errors.New("mediaport: handle destroyed")
	ErrStopped         = errors.New("mediaport: endpoint stopped")
	ErrClosed          = errors.New("mediaport: module closed")
	ErrNilHandle       = nilhandle.Err
	ErrNilModule       = errors.New("mediaport: nil module")
	ErrState           = errors.New("mediaport: call not valid in this state")
	ErrInvalidArgument = errors.New("mediaport: invalid argument")
	ErrAddressFamily   = fmt.Errorf("%w: address family mismatch", ErrInvalidArgument)
	ErrLimit           = errors.New("mediaport: module limit reached")
	ErrBufferTooSmall  = pktq.ErrBufferTooSmall
)

// Limits are the sizes a module gives its endpoints.
type Limits struct {
	// MaxEndpoints bounds the endpoints alive on the module at once.
	MaxEndpoints int
	// QueueLen is the default bound of an endpoint's packet queue.
	QueueLen int
	// MaxPacket is the largest datagram an endpoint receives whole; longer
	// ones are truncated and dropped (and counted).
	MaxPacket int
	// Batch is the number of datagrams read or written per system call.
	Batch int
	// MaxCredentials bounds the credential pool.
	MaxCredentials int
}

// DefaultLimits are the limits of a module opened with zero Options.
var DefaultLimits = Limits{MaxEndpoints: 65536, QueueLen: 256, MaxPacket: 2048, Batch: 32, MaxCredentials: 64}

// Clock is the module's clock as endpoints use it: package mediaport
// adapts its public Clock to it.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call started by Clock.AfterFunc.
type Timer interface {
	Stop() bool
}

// SystemClock is the operating system's clock as the core sees it, for
// internal code that runs without a module.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                            { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Module is the core of a mediaport module.
type Module struct {
	Log    *slog.Logger
	Clock  Clock
	Limits Limits

	mu        sync.Mutex
	closed    bool
	endpoints []*Endpoint                  // live endpoints; each knows its index (Endpoint.idx)
	stopping  sync.WaitGroup               // StopLater's goroutines
	sockets   map[netip.AddrPort]*udp.Conn // the ports endpoints own, for sharing

	// Packets recycles the receive buffers (Limits.MaxPacket bytes) of
	// every endpoint on the module.
	Packets *pktq.Pool

	// Creds is the module's credential pool (RIOT credman).
	Creds Credentials

	// Answers limits the error answers sent to unauthenticated peers.
	Answers AnswerBudget
}

// Handle is the core of a module as the public *mediaport.Module holds
// it: the root package embeds a Handle under an unexported alias, so the
// handle's unexported method puts *mediaport.Module in Holder, and Get
// takes it typed, while neither the field nor the method is part of the
// module's API.
type Handle struct{ c *Module }

func (h *Handle) handle() *Handle { return h }

// Holder is a type that embeds Handle: a *mediaport.Module.
type Holder interface{ handle() *Handle }

// SetModule gives the *mediaport.Module that embeds h its core (at open).
func SetModule(h *Handle, c *Module) { h.c = c }

// Get returns the core of mod, or ErrNilModule for a nil or zero one.
func Get(mod Holder) (*Module, error) {
	if mod == nil {
		return nil, ErrNilModule
	}
	// A nil *mediaport.Module in the interface: its promoted method would
	// dereference it.
	if v := reflect.ValueOf(mod); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, ErrNilModule
	}
	c := mod.handle().c
	if c == nil {
		return nil, ErrNilModule
	}
	return c, nil
}

// NewModule returns a module core; zero fields of limits take their defaults.
func NewModule(log *slog.Logger, clk Clock, limits Limits) *Module {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = systemClock{}
	}
	if limits.MaxEndpoints <= 0 {
		limits.MaxEndpoints = DefaultLimits.MaxEndpoints
	}
	if limits.QueueLen <= 0 {
		limits.QueueLen = DefaultLimits.QueueLen
	}
	if limits.MaxPacket <= 0 {
		limits.MaxPacket = DefaultLimits.MaxPacket
	}
	if limits.Batch <= 0 {
		limits.Batch = DefaultLimits.Batch
	}
	if limits.MaxCredentials <= 0 {
		limits.MaxCredentials = DefaultLimits.MaxCredentials
	}
	m := &Module{Log: log, Clock: clk, Limits: limits,
		sockets: map[netip.AddrPort]*udp.Conn{},
		Packets: pktq.NewPool(limits.MaxPacket)}
	m.Creds.max = limits.MaxCredentials
	return m
}

// Close destroys every endpoint still on the module (stopping it first) and
// makes later creates fail with ErrClosed. A second Close returns ErrClosed.
func (m *Module) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.closed = true
	eps := slices.Clone(m.endpoints)
	m.mu.Unlock()
	for _, e := range eps {
		_ = e.Destroy()
	}
	m.stopping.Wait() // StopLater's goroutines
	m.Creds.Clear()   // zeroes the keys
	return nil
}

// Closed reports whether Close has been called.
func (m *Module) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Endpoints returns the number of endpoints alive on the module.
func (m *Module) Endpoints() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.endpoints)
}

// RegisterSocket records that an endpoint on the module owns c, bound to
// c.LocalAddr(), so that other endpoints can send from it (LookupSocket).
func (m *Module) RegisterSocket(c *udp.Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sockets[c.LocalAddr()] = c
}

// UnregisterSocket removes c from the registry.
func (m *Module) UnregisterSocket(c *udp.Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sockets[c.LocalAddr()] == c {
		delete(m.sockets, c.LocalAddr())
	}
}

// LookupSocket returns the registered socket that a packet sent from src
// would leave from: one bound to exactly src; for an unspecified (or
// invalid) address, one bound to any address of that family on src's port;
// for a specific address, one bound to the unspecified address on src's
// port. It returns nil when src's port is 0 or no endpoint owns such a
// socket.
func (m *Module) LookupSocket(src netip.AddrPort) *udp.Conn {
	if src.Port() == 0 {
		return nil
	}
	addr := src.Addr().Unmap()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !addr.IsValid() || addr.IsUnspecified() {
		for a, c := range m.sockets {
			if a.Port() == src.Port() && (!addr.IsValid() || a.Addr().Is4() == addr.Is4()) {
				return c
			}
		}
		return nil
	}
	if c := m.sockets[netip.AddrPortFrom(addr, src.Port())]; c != nil {
		return c
	}
	if addr.Is4() {
		return m.sockets[netip.AddrPortFrom(netip.IPv4Unspecified(), src.Port())]
	}
	return m.sockets[netip.AddrPortFrom(netip.IPv6Unspecified(), src.Port())]
}

// State is where an endpoint is in its lifecycle.
type State int32

// The lifecycle states, in order. An endpoint only moves forward.
const (
	Created   State = iota // created, waiting for Config
	Running                // configured and running
	Stopped                // final status reached; event signalled permanently
	Destroyed              // handle invalid; every call returns ErrDestroyed
)

func (s State) String() string {
	switch s {
	case Created:
		return "created"
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Destroyed:
		return "destroyed"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Endpoint is the lifecycle of one endpoint: its state, its event and its
// registration on the module. Endpoint packages embed a *Endpoint and call
// Check at the top of every method.
//
// Calls on the hot path (send, receive) read the state with one atomic load
// and no lock; they may race with Stop, so their I/O must treat a closed
// socket as ErrStopped.
type Endpoint struct {
	mod   *Module
	src   event.Source // by value: one allocation per endpoint
	state atomic.Int32
	idx   int32      // in mod.endpoints, under mod.mu; -1 once removed
	mu    sync.Mutex // serialises Stop and Destroy
	owner Owner
	cause atomic.Pointer[error] // why it ended; nil while live or after Stop
}

// Owner is the endpoint an Endpoint is the core of. An endpoint package
// implements it on an unexported conversion of its handle type (type
// owner DTLSRx), so that the interface holds the handle's pointer and
// costs no allocation, and neither method is part of the handle's API.
type Owner interface {
	// Kind names the endpoint type in errors and logs ("dtlsrx").
	Kind() string
	// Release releases the endpoint's resources (closes sockets, ends
	// goroutines and waits for them). The lifecycle calls it exactly
	// once, from Stop, Destroy or Module.Close, before the state becomes
	// Stopped; it must not call back into the lifecycle.
	Release()
}

// NewEndpoint registers a new endpoint on m, the core of o. The endpoint
// starts in Created.
func (m *Module) NewEndpoint(o Owner) (*Endpoint, error) {
	if m == nil {
		return nil, ErrNilModule
	}
	e := &Endpoint{mod: m, owner: o}
	e.src.Init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("%s: %w", o.Kind(), ErrClosed)
	}
	if len(m.endpoints) >= m.Limits.MaxEndpoints {
		return nil, fmt.Errorf("%s: %w (%d endpoints)", o.Kind(), ErrLimit, m.Limits.MaxEndpoints)
	}
	e.idx = int32(len(m.endpoints))
	m.endpoints = append(m.endpoints, e)
	return e, nil
}

// remove takes e out of its module's endpoints; m.mu is held.
func (m *Module) remove(e *Endpoint) {
	i := e.idx
	if i < 0 {
		return
	}
	last := len(m.endpoints) - 1
	m.endpoints[i] = m.endpoints[last]
	m.endpoints[i].idx = i
	m.endpoints[last] = nil
	m.endpoints = m.endpoints[:last]
	e.idx = -1
	if cap(m.endpoints) > 64 && len(m.endpoints) < cap(m.endpoints)/4 {
		m.endpoints = slices.Clip(slices.Clone(m.endpoints))
	}
}

// kind names e's endpoint type.
func (e *Endpoint) kind() string { return e.owner.Kind() }

// Module returns the module e was created on.
func (e *Endpoint) Module() *Module { return e.mod }

// Event returns the endpoint's event.
func (e *Endpoint) Event() *event.Event { return e.src.Event() }

// Signal signals the endpoint's event.
func (e *Endpoint) Signal() { e.src.Signal() }

// State returns the current state.
func (e *Endpoint) State() State { return State(e.state.Load()) }

// Check returns nil when e is Created or Running, and otherwise the error a
// call that needs a live endpoint returns: ErrNilHandle, ErrStopped or
// ErrDestroyed, wrapped with the endpoint kind.
func (e *Endpoint) Check() error {
	if e == nil {
		return ErrNilHandle
	}
	switch State(e.state.Load()) {
	case Created, Running:
		return nil
	case Stopped:
		return fmt.Errorf("%s: %w", e.kind(), ErrStopped)
	default:
		return fmt.Errorf("%s: %w", e.kind(), ErrDestroyed)
	}
}

// CheckAlive returns nil unless e is nil or destroyed: calls such as Status
// and Event stay valid on a stopped endpoint.
func (e *Endpoint) CheckAlive() error {
	if e == nil {
		return ErrNilHandle
	}
	if State(e.state.Load()) == Destroyed {
		return fmt.Errorf("%s: %w", e.kind(), ErrDestroyed)
	}
	return nil
}

// Errorf returns an error prefixed with the endpoint kind that wraps err.
func (e *Endpoint) Errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", e.kind(), err, fmt.Sprintf(format, args...))
}

// SetRunning moves e from Created to Running and reports whether it did.
func (e *Endpoint) SetRunning() bool {
	return e.state.CompareAndSwap(int32(Created), int32(Running))
}

// SetCause records err as the reason the endpoint ended (a failure that
// does not stop it by itself, such as a TURN allocation's). The first cause
// wins; a cause after Stop or Destroy, or a nil one, is ignored.
func (e *Endpoint) SetCause(err error) {
	if e == nil || err == nil {
		return
	}
	if st := State(e.state.Load()); st != Created && st != Running {
		return
	}
	e.cause.CompareAndSwap(nil, &err)
}

// Cause returns the cause recorded by SetCause or StopWith, or nil.
func (e *Endpoint) Cause() error {
	if e == nil {
		return nil
	}
	if p := e.cause.Load(); p != nil {
		return *p
	}
	return nil
}

// Err returns what an endpoint's Err method returns: ErrNilHandle for a nil
// endpoint, ErrDestroyed once destroyed, else the cause (nil while live or
// when stopped by Stop).
func (e *Endpoint) Err() error {
	if e == nil {
		return ErrNilHandle
	}
	if State(e.state.Load()) == Destroyed {
		return fmt.Errorf("%s: %w", e.kind(), ErrDestroyed)
	}
	return e.Cause()
}

// StopWith stops e as Stop does, recording cause as the reason it ended
// unless it had stopped already (then the cause is dropped: it ended for
// another reason) or had a cause.
func (e *Endpoint) StopWith(cause error) error {
	if e == nil {
		return ErrNilHandle
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.SetCause(cause)
	return e.stopLocked()
}

// StopLater stops e with cause (StopWith) on a goroutine of its own, for an
// endpoint goroutine that Stop waits for (a receive loop that gives up).
// Module.Close waits for that goroutine; Destroy, which stops e itself,
// leaves it nothing to do but return.
func (e *Endpoint) StopLater(cause error) {
	if e == nil {
		return
	}
	e.mod.stopping.Add(1)
	go func() {
		defer e.mod.stopping.Done()
		_ = e.StopWith(cause)
		if afterStopLater != nil {
			afterStopLater()
		}
	}()
}

// afterStopLater, when set by a test, runs at the end of StopLater's
// goroutine.
var afterStopLater func()

// Stop releases the endpoint's resources, moves it to Stopped and signals
// its event permanently. Stopping a stopped endpoint does nothing; stopping
// a destroyed one returns ErrDestroyed.
func (e *Endpoint) Stop() error {
	if e == nil {
		return ErrNilHandle
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopLocked()
}

func (e *Endpoint) stopLocked() error {
	switch State(e.state.Load()) {
	case Destroyed:
		return fmt.Errorf("%s: %w", e.kind(), ErrDestroyed)
	case Stopped:
		return nil
	}
	e.state.Store(int32(Stopped))
	e.owner.Release()
	e.src.SignalPermanently()
	return nil
}

// Destroy stops e if it has not stopped, invalidates it, detaches its event
// from any event.Queue and removes it from its module. A second Destroy
// returns ErrDestroyed.
func (e *Endpoint) Destroy() error {
	if e == nil {
		return ErrNilHandle
	}
	e.mu.Lock()
	if err := e.stopLocked(); err != nil {
		e.mu.Unlock()
		return err
	}
	e.state.Store(int32(Destroyed))
	e.src.Detach()
	e.mu.Unlock()
	e.mod.mu.Lock()
	e.mod.remove(e)
	e.mod.mu.Unlock()
	return nil
}
