package core

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLifecycle(t *testing.T) {
	m := NewModule(nil, nil, Limits{})
	var stops atomic.Int32
	e, err := m.NewEndpoint("thing", func() { stops.Add(1) })
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
	if _, err := m.NewEndpoint("x", nil); !errors.Is(err, ErrNilModule) {
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
			e, err := m.NewEndpoint("thing", func() { stops.Add(1) })
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
		if _, err := m.NewEndpoint("late", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("NewEndpoint after Close = %v", err)
		}
	}
}

func TestLimitAndDefaults(t *testing.T) {
	m := NewModule(nil, nil, Limits{MaxEndpoints: 1})
	if m.Limits.QueueLen != DefaultLimits.QueueLen || m.Limits.Batch != DefaultLimits.Batch || m.Log == nil || m.Clock == nil {
		t.Fatalf("defaults not applied: %+v", m.Limits)
	}
	a, _ := m.NewEndpoint("a", nil)
	if _, err := m.NewEndpoint("b", nil); !errors.Is(err, ErrLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	a.Destroy()
	if _, err := m.NewEndpoint("b", nil); err != nil {
		t.Fatal(err)
	}
}
