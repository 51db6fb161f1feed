package benchpair

import (
	"slices"
	"testing"
	"time"
)

// TestOrder: OrderEnv decides which side runs first.
func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []string
	}{
		{"", []string{"mediaport", "baseline"}},
		{BaselineFirst, []string{"baseline", "mediaport"}},
	} {
		t.Setenv(OrderEnv, tc.env)
		var ran []string
		side := func(name string) func(*testing.B) {
			return func(b *testing.B) {
				if !slices.Contains(ran, name) {
					ran = append(ran, name)
				}
			}
		}
		testing.Benchmark(func(b *testing.B) { Run(b, side("mediaport"), side("baseline")) })
		if !slices.Equal(ran, tc.want) {
			t.Errorf("%s=%q: ran %v, want %v", OrderEnv, tc.env, ran, tc.want)
		}
	}
}

var sink []byte

// fakeTime is a clock for interleave that moves only when an op moves it,
// so that the figures it reports are exact whatever the machine's load.
type fakeTime struct{ t time.Time }

func (f *fakeTime) now() time.Time          { return f.t }
func (f *fakeTime) advance(d time.Duration) { f.t = f.t.Add(d) }

// spin busy-waits d of real time. The fake clock makes the figures exact;
// spinning keeps testing.Benchmark's b.N (which grows until a second of real
// time has passed) small enough for ran's capacity.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// TestInterleave: the ops alternate as documented, starting with the side
// OrderEnv names, and each side's time and allocations are reported under
// its own name — ours takes 100 µs of the (fake) clock and allocates 3
// objects per op, the baseline does nothing.
func TestInterleave(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string
	}{
		{"", "mbbmmbbm"},
		{BaselineFirst, "bmmbbmmb"},
	} {
		t.Setenv(OrderEnv, tc.env)
		ran := make([]byte, 0, 1<<20) // appending must not allocate
		res := testing.Benchmark(func(b *testing.B) {
			var clk fakeTime
			interleave(b, func(*testing.B) Side {
				ran = ran[:0] // testing.Benchmark runs this with growing b.N
				return Side{Op: func() {
					ran = append(ran, 'm')
					for range 3 {
						sink = make([]byte, 64)
					}
					clk.advance(100 * time.Microsecond)
					spin(100 * time.Microsecond)
				}}
			}, func(*testing.B) Side {
				return Side{Op: func() { ran = append(ran, 'b') }}
			}, clk.now)
		})
		if res.N < 4 || len(ran) != 2*(res.N+allocOps) || string(ran[:8]) != tc.want {
			t.Fatalf("%s=%q: N=%d, ran %.16s…, want %s…", OrderEnv, tc.env, res.N, ran, tc.want)
		}
		ours, base := res.Extra["mediaport-ns/op"], res.Extra["baseline-ns/op"]
		if ours != 100e3 || base != 0 {
			t.Errorf("ns/op: mediaport %v (takes 100 µs), baseline %v (takes none)", ours, base)
		}
		oa, ba := res.Extra["mediaport-allocs/op"], res.Extra["baseline-allocs/op"]
		if oa < 3 || oa > 3.2 || ba > 0.2 {
			t.Errorf("allocs/op: mediaport %v (want 3), baseline %v (want 0)", oa, ba)
		}
	}
}

// TestInterleaveTimesOps: Interleave times ops on the wall clock — an op
// that spins 100 µs is reported as at least 100 µs. (Only a lower bound can
// be asserted on a machine others share; TestInterleave checks the
// arithmetic exactly, on a fake clock.)
func TestInterleaveTimesOps(t *testing.T) {
	res := testing.Benchmark(func(b *testing.B) {
		Interleave(b, func(*testing.B) Side {
			return Side{Op: func() { spin(100 * time.Microsecond) }}
		}, func(*testing.B) Side { return Side{Op: func() {}} })
	})
	if ours := res.Extra["mediaport-ns/op"]; res.N < 1 || ours < 100e3 {
		t.Errorf("N=%d, mediaport-ns/op %v for an op that spins 100 µs", res.N, ours)
	}
}

// TestInterleavePrepared: Prepare runs before each Op of its side and is
// neither timed nor counted, and a side's figures are per unit op
// (Side.Ops). Ours prepares for 200 µs (of the fake clock) with 5
// allocations, then takes 100 µs with 8 allocations for 4 unit ops: 25 µs
// and 2 allocations each.
func TestInterleavePrepared(t *testing.T) {
	var prepared, ran int
	res := testing.Benchmark(func(b *testing.B) {
		var clk fakeTime
		interleave(b, func(*testing.B) Side {
			prepared, ran = 0, 0
			return Side{
				Prepare: func() {
					if prepared != ran {
						b.Fatalf("Prepare twice without an Op")
					}
					prepared++
					for range 5 {
						sink = make([]byte, 64)
					}
					clk.advance(200 * time.Microsecond)
				},
				Op: func() {
					if prepared != ran+1 {
						b.Fatalf("Op without a Prepare")
					}
					ran++
					for range 8 {
						sink = make([]byte, 64)
					}
					clk.advance(100 * time.Microsecond)
					spin(100 * time.Microsecond)
				},
				Ops: 4,
			}
		}, func(*testing.B) Side { return Side{Op: func() {}} }, clk.now)
	})
	if res.N < 4 || ran != res.N+allocOps {
		t.Fatalf("N=%d, ran %d ops", res.N, ran)
	}
	if ours := res.Extra["mediaport-ns/op"]; ours != 25e3 {
		t.Errorf("mediaport-ns/op %v, want 25 µs (100 µs over 4 ops, Prepare untimed)", ours)
	}
	if oa := res.Extra["mediaport-allocs/op"]; oa < 2 || oa > 2.1 {
		t.Errorf("mediaport-allocs/op %v, want 2 (8 over 4 ops, Prepare not counted)", oa)
	}
	if base := res.Extra["baseline-ns/op"]; base != 0 {
		t.Errorf("baseline-ns/op %v for an op that takes no time", base)
	}
}
