// Package mediaport is the module of the mediaport library: the Prosody
// "module" (sm_open_module) on which every endpoint is created, and the
// errors and clock that all endpoints share.
//
// mediaport gives Go media servers the media-port plumbing of Aculab
// Prosody — UDP dispatcher, VMP[rx], DTLS[rx], DTLS[tx] — with Prosody's
// handle-and-event API, on real UDP sockets. Endpoints live in their own
// packages (dispatcher, vmprx, dtlsrx, dtlstx, stun, turn); each is created on
// a *Module, owns one event.Event, and follows one lifecycle:
//
//	Create → Config → (event signalled → Status → …) → Stop → Stopped → Destroy
//
// After Stop the endpoint's final status is Stopped and its event is
// signalled permanently. Destroy stops a running endpoint first; after it
// every call on the handle returns an error matching ErrDestroyed. Module.Close
// destroys every endpoint still open.
//
// Status's error means only that the call failed (a nil or destroyed
// handle). Why an endpoint ended — a failed DTLS handshake, a TURN server's
// 401, a socket error — is what its Err method returns; Err is nil while
// the endpoint runs and after Stop. A nil or zero handle returns
// ErrNilHandle from every method and never panics.
package mediaport

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mediaport/mediaport/internal/core"
)

// Errors returned by every endpoint package; match them with errors.Is.
var (
	// ErrDestroyed: the handle was destroyed (or the module closed under it).
	ErrDestroyed = core.ErrDestroyed
	// ErrStopped: the endpoint has stopped; only Status, Err, Event, Stats
	// and Destroy (and reading what is still queued) remain valid.
	ErrStopped = core.ErrStopped
	// ErrClosed: the module is closed.
	ErrClosed = core.ErrClosed
	// ErrNilHandle: the method was called on a nil or zero handle.
	ErrNilHandle = core.ErrNilHandle
	// ErrNilModule: a nil module was given.
	ErrNilModule = core.ErrNilModule
	// ErrState: the call is not valid in the endpoint's current state (for
	// example sending before Config).
	ErrState = core.ErrState
	// ErrInvalidArgument: an argument or configuration field is invalid.
	ErrInvalidArgument = core.ErrInvalidArgument
	// ErrAddressFamily: addresses of different families (IPv4 and IPv6) were
	// mixed. It also matches ErrInvalidArgument.
	ErrAddressFamily = core.ErrAddressFamily
	// ErrLimit: a module limit (Options.MaxEndpoints) was reached.
	ErrLimit = core.ErrLimit
	// ErrBufferTooSmall: a read buffer is shorter than the packet; the
	// packet stays queued.
	ErrBufferTooSmall = core.ErrBufferTooSmall
	// ErrNoPacket: a GetPacket found no packet queued (vmprx, dtlsrx and
	// turn return it, under their own names too).
	ErrNoPacket = errors.New("mediaport: no packet queued")
	// ErrNotEstablished: the DTLS handshake has not completed, or the
	// association has ended (dtlstx and association return it). It also
	// matches ErrState.
	ErrNotEstablished = fmt.Errorf("%w: DTLS handshake not complete", ErrState)
)

// Clock tells the time and runs timers. Every timer of every endpoint on a
// module runs on the module's Clock, so tests can replace it.
//
// Implementations must be safe for concurrent use. AfterFunc may run f in
// its own goroutine (as time.AfterFunc does) or synchronously from
// whatever advances a fake clock; f must not assume either.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc waits for the duration to elapse and then calls f.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call started by Clock.AfterFunc. *time.Timer is one.
type Timer interface {
	// Stop prevents the timer from firing. It returns false if the timer
	// already fired or was stopped.
	Stop() bool
}

// SystemClock returns the operating system's clock (package time), the
// default.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// coreClock is a Clock as the module's core sees it.
type coreClock struct{ c Clock }

func (c coreClock) Now() time.Time { return c.c.Now() }

func (c coreClock) AfterFunc(d time.Duration, f func()) core.Timer { return c.c.AfterFunc(d, f) }

// Options configure a module. The zero value is valid: a discarding
// logger, the system clock and the default limits.
type Options struct {
	// Logger receives the logs of every endpoint on the module. Nil
	// discards them.
	Logger *slog.Logger
	// Clock runs every timer of every endpoint. Nil means SystemClock.
	Clock Clock
	// MaxEndpoints bounds the endpoints alive at once (default 65536).
	MaxEndpoints int
	// QueueLen is the default bound of each endpoint's packet queue
	// (default 256 packets).
	QueueLen int
	// MaxPacket is the largest datagram received whole (default 2048
	// bytes); longer ones are dropped and counted.
	MaxPacket int
	// Batch is the number of datagrams moved per system call by batch
	// receive and send (default 32).
	Batch int
	// MaxCredentials bounds the credential pool (default 64).
	MaxCredentials int
}

// Module is an open mediaport module (Prosody's tSMModuleId). Endpoints are
// created on it and share its logger, clock and limits. A Module is safe for
// concurrent use.
type Module struct {
	coreHandle // how endpoint packages reach c (core.Get)
	c          *core.Module
	clk        Clock
}

// coreHandle keeps core.Handle out of the Module's API.
type coreHandle = core.Handle

// OpenModule opens a module (sm_open_module).
func OpenModule(opts Options) (*Module, error) {
	limits := core.Limits{
		MaxEndpoints: opts.MaxEndpoints,
		QueueLen:     opts.QueueLen,
		MaxPacket:    opts.MaxPacket,
		Batch:        opts.Batch,

		MaxCredentials: opts.MaxCredentials,
	}
	if limits.MaxEndpoints < 0 || limits.QueueLen < 0 || limits.MaxPacket < 0 || limits.Batch < 0 || limits.MaxCredentials < 0 {
		return nil, core.ErrInvalidArgument
	}
	if limits.MaxPacket > 65535 {
		return nil, core.ErrInvalidArgument
	}
	clk := opts.Clock
	if clk == nil {
		clk = SystemClock()
	}
	m := &Module{c: core.NewModule(opts.Logger, coreClock{clk}, limits), clk: clk}
	core.SetModule(&m.coreHandle, m.c)
	return m, nil
}

// Close stops and destroys every endpoint still open on the module (their
// events end signalled permanently and their goroutines end before Close
// returns) and makes later creates fail with ErrClosed. A second Close
// returns ErrClosed.
func (m *Module) Close() error {
	if m == nil || m.c == nil {
		return ErrNilModule
	}
	return m.c.Close()
}

// Logger returns the module's logger.
func (m *Module) Logger() *slog.Logger {
	if m == nil || m.c == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.c.Log
}

// Clock returns the module's clock.
func (m *Module) Clock() Clock {
	if m == nil || m.c == nil {
		return SystemClock()
	}
	return m.clk
}

// Endpoints returns the number of endpoints currently open on the module.
func (m *Module) Endpoints() int {
	if m == nil || m.c == nil {
		return 0
	}
	return m.c.Endpoints()
}
