package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/udp"
)

func TestLifecycle(t *testing.T) {
	m := NewModule(nil, nil, Limits{})
	var stops atomic.Int32
	e, err := m.NewEndpoint(testOwner{kind: "thing", stop: func() { stops.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if e.State() != Created || e.Check() != nil || e.CheckAlive() != nil {
		t.Fatalf("new endpoint: %v %v", e.State(), e.Check())
	}
	if !e.SetRunning() || e.SetRunning() || e.State() != Running {
		t.Fatal("SetRunning must move Created to Running once")
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if e.State() != Stopped || !errors.Is(e.Check(), ErrStopped) || e.CheckAlive() != nil || !e.Event().Permanent() {
		t.Fatalf("after Stop: state %v, Check %v", e.State(), e.Check())
	}
	if err := e.Stop(); err != nil || stops.Load() != 1 {
		t.Fatalf("second Stop = %v, stop ran %d times", err, stops.Load())
	}
	if err := e.Destroy(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{"Check": e.Check(), "CheckAlive": e.CheckAlive(), "Stop": e.Stop(), "Destroy": e.Destroy()} {
		if !errors.Is(err, ErrDestroyed) {
			t.Errorf("%s after Destroy = %v", name, err)
		}
	}
	if stops.Load() != 1 || m.Endpoints() != 0 {
		t.Fatalf("stop ran %d times; %d endpoints left", stops.Load(), m.Endpoints())
	}
}

func TestNilEndpoint(t *testing.T) {
	var e *Endpoint
	for name, err := range map[string]error{"Check": e.Check(), "CheckAlive": e.CheckAlive(), "Stop": e.Stop(), "Destroy": e.Destroy()} {
		if !errors.Is(err, ErrNilHandle) {
			t.Errorf("%s on nil = %v", name, err)
		}
	}
	var m *Module
	if _, err := m.NewEndpoint(testOwner{kind: "x"}); !errors.Is(err, ErrNilModule) {
		t.Errorf("NewEndpoint on nil module = %v", err)
	}
	if _, err := Get(nil); !errors.Is(err, ErrNilModule) {
		t.Errorf("Get(nil) = %v", err)
	}
}

// TestConcurrentStopDestroyClose: whoever gets there first, the endpoint's
// stop function runs exactly once and everything ends destroyed.
func TestConcurrentStopDestroyClose(t *testing.T) {
	for round := 0; round < 200; round++ {
		m := NewModule(nil, nil, Limits{})
		var stops atomic.Int32
		var eps []*Endpoint
		for i := 0; i < 4; i++ {
			e, err := m.NewEndpoint(testOwner{kind: "thing", stop: func() { stops.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			e.SetRunning()
			eps = append(eps, e)
		}
		var wg sync.WaitGroup
		for _, e := range eps {
			wg.Add(2)
			go func() { defer wg.Done(); e.Stop() }()
			go func() { defer wg.Done(); e.Destroy() }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); m.Close() }()
		wg.Wait()
		if stops.Load() != 4 {
			t.Fatalf("round %d: stop ran %d times for 4 endpoints", round, stops.Load())
		}
		for _, e := range eps {
			if e.State() != Destroyed {
				t.Fatalf("round %d: endpoint left %v", round, e.State())
			}
		}
		if _, err := m.NewEndpoint(testOwner{kind: "late"}); !errors.Is(err, ErrClosed) {
			t.Fatalf("NewEndpoint after Close = %v", err)
		}
	}
}

func TestLimitAndDefaults(t *testing.T) {
	m := NewModule(nil, nil, Limits{MaxEndpoints: 1})
	if m.Limits.QueueLen != DefaultLimits.QueueLen || m.Limits.Batch != DefaultLimits.Batch || m.Log == nil || m.Clock == nil {
		t.Fatalf("defaults not applied: %+v", m.Limits)
	}
	a, _ := m.NewEndpoint(testOwner{kind: "a"})
	if _, err := m.NewEndpoint(testOwner{kind: "b"}); !errors.Is(err, ErrLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	a.Destroy()
	if _, err := m.NewEndpoint(testOwner{kind: "b"}); err != nil {
		t.Fatal(err)
	}
}

func TestSocketRegistry(t *testing.T) {
	m := NewModule(nil, nil, Limits{})
	lo, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	anyc, err := udp.Listen(netip.MustParseAddrPort("0.0.0.0:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer anyc.Close()
	m.RegisterSocket(lo)
	m.RegisterSocket(anyc)
	port := func(c *udp.Conn) uint16 { return c.LocalAddr().Port() }
	for _, tc := range []struct {
		src  string
		want *udp.Conn
	}{
		{lo.LocalAddr().String(), lo},
		{"127.0.0.2:" + fmt.Sprint(port(lo)), nil}, // another address on that port is not ours
		{"127.0.0.1:" + fmt.Sprint(port(anyc)), anyc},
		{"0.0.0.0:" + fmt.Sprint(port(anyc)), anyc},
		{"[::1]:" + fmt.Sprint(port(anyc)), nil}, // the other family
		{"0.0.0.0:" + fmt.Sprint(port(lo)), lo},  // any address: the socket on that port
		{"[::]:" + fmt.Sprint(port(lo)), nil},
		{"127.0.0.1:0", nil},
	} {
		if got := m.LookupSocket(netip.MustParseAddrPort(tc.src)); got != tc.want {
			t.Errorf("LookupSocket(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
	m.UnregisterSocket(lo)
	if m.LookupSocket(lo.LocalAddr()) != nil {
		t.Error("unregistered socket still found")
	}
}

// TestMatchingTagOrder: Matching returns the credentials of a type in the
// order of the tags asked for (the order of preference), not the order
// they were added, once each, and none of another type.
func TestMatchingTagOrder(t *testing.T) {
	p := &Credentials{max: 8}
	for _, tag := range []CredTag{1, 2, 3} {
		if err := p.Add(Credential{Tag: tag, Type: CredPSK, PSK: PSK{Identity: []byte{byte(tag)}, Key: []byte("k")}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []CredTag
	for _, c := range p.Matching([]CredTag{3, 9, 1, 3}, CredPSK) {
		got = append(got, c.Tag)
	}
	if fmt.Sprint(got) != "[3 1]" {
		t.Fatalf("Matching([3 9 1 3]) = %v, want [3 1]", got)
	}
	if m := p.Matching([]CredTag{1, 2}, CredECDSA); len(m) != 0 {
		t.Fatalf("ECDSA credentials among PSKs: %v", m)
	}
}

// TestCause: Err is nil while live and after Stop; the cause of StopWith
// (or SetCause) otherwise, the first one only; ErrDestroyed after Destroy;
// a cause after Stop is dropped.
func TestCause(t *testing.T) {
	m := NewModule(nil, nil, Limits{})
	boom, later := errors.New("boom"), errors.New("later")

	e, _ := m.NewEndpoint(testOwner{kind: "thing"})
	e.SetRunning()
	if err := e.Err(); err != nil {
		t.Fatalf("Err while running = %v", err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e.SetCause(boom)
	if err := e.StopWith(boom); err != nil || e.Err() != nil {
		t.Fatalf("StopWith after Stop = %v, Err %v: want the cause dropped", err, e.Err())
	}
	if err := e.Destroy(); err != nil || !errors.Is(e.Err(), ErrDestroyed) {
		t.Fatalf("Err after Destroy = %v", e.Err())
	}

	f, _ := m.NewEndpoint(testOwner{kind: "thing"})
	f.SetCause(boom) // a failure that does not stop by itself
	if f.State() != Created || f.Err() != boom {
		t.Fatalf("after SetCause: %v, Err %v", f.State(), f.Err())
	}
	if err := f.StopWith(later); err != nil || f.Err() != boom || f.State() != Stopped {
		t.Fatalf("StopWith: %v, Err %v, state %v: want the first cause, stopped", err, f.Err(), f.State())
	}

	g, _ := m.NewEndpoint(testOwner{kind: "thing"})
	if err := g.StopWith(nil); err != nil || g.Err() != nil || g.State() != Stopped {
		t.Fatalf("StopWith(nil): %v, Err %v", err, g.Err())
	}

	var n *Endpoint
	if !errors.Is(n.Err(), ErrNilHandle) || !errors.Is(n.StopWith(boom), ErrNilHandle) || n.Cause() != nil {
		t.Fatal("nil endpoint")
	}
	n.SetCause(boom) // no panic
}

// TestStopLaterClose: an endpoint stopped by StopLater ends Stopped with
// its cause, and Module.Close does not return while StopLater's goroutine
// is still running.
func TestStopLaterClose(t *testing.T) {
	cause := errors.New("socket broke")
	release := make(chan struct{})
	afterStopLater = func() { <-release }
	defer func() { afterStopLater = nil }()
	m := NewModule(nil, nil, Limits{})
	stopped := make(chan struct{})
	e, err := m.NewEndpoint(testOwner{kind: "test", stop: func() { close(stopped) }})
	if err != nil {
		t.Fatal(err)
	}
	e.SetRunning()
	e.StopLater(cause)
	<-stopped // StopLater stopped it, not Close's Destroy
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while StopLater's goroutine runs", err)
	case <-time.After(50 * time.Millisecond): // can only pass wrongly, never fail wrongly
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(e.Cause(), cause) {
		t.Fatalf("cause %v, want %v", e.Cause(), cause)
	}
}

// testOwner is a core.Owner made of a kind and an optional stop function.
type testOwner struct {
	kind string
	stop func()
}

func (o testOwner) Kind() string { return o.kind }
func (o testOwner) Release() {
	if o.stop != nil {
		o.stop()
	}
}

// TestRegistryRandom destroys endpoints in a random order among creates:
// the module's count stays exact, and Close releases each survivor once
// and no destroyed one again.
func TestRegistryRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	m := NewModule(nil, nil, Limits{})
	released := map[int]int{}
	var mu sync.Mutex
	var live []*Endpoint
	var ids []int
	for i := 0; i < 3000; i++ {
		if len(live) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(live))
			if err := live[j].Destroy(); err != nil {
				t.Fatal(err)
			}
			live = append(live[:j], live[j+1:]...)
			ids = append(ids[:j], ids[j+1:]...)
		} else {
			id := i
			e, err := m.NewEndpoint(testOwner{kind: "thing", stop: func() {
				mu.Lock()
				released[id]++
				mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, e)
			ids = append(ids, id)
		}
		if m.Endpoints() != len(live) {
			t.Fatalf("step %d: module counts %d endpoints, %d live", i, m.Endpoints(), len(live))
		}
	}
	destroyed := len(released)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Endpoints() != 0 {
		t.Fatalf("%d endpoints left after Close", m.Endpoints())
	}
	for _, id := range ids {
		if released[id] != 1 {
			t.Fatalf("survivor %d released %d times", id, released[id])
		}
	}
	if len(released) != destroyed+len(ids) {
		t.Fatalf("%d released, want %d destroyed + %d survivors", len(released), destroyed, len(ids))
	}
	for id, n := range released {
		if n != 1 {
			t.Fatalf("endpoint %d released %d times", id, n)
		}
	}
}
