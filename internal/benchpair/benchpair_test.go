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

// TestInterleave: the ops alternate as documented, starting with the side
// OrderEnv names, and each side's time and allocations are reported under
// its own name — ours spins 100 µs and allocates 3 objects per op, the
// baseline does nothing.
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
			Interleave(b, func(*testing.B) func() {
				ran = ran[:0] // testing.Benchmark runs this with growing b.N
				return func() {
					ran = append(ran, 'm')
					for range 3 {
						sink = make([]byte, 64)
					}
					for t0 := time.Now(); time.Since(t0) < 100*time.Microsecond; {
					}
				}
			}, func(*testing.B) func() {
				return func() { ran = append(ran, 'b') }
			})
		})
		if res.N < 4 || len(ran) != 2*(res.N+allocOps) || string(ran[:8]) != tc.want {
			t.Fatalf("%s=%q: N=%d, ran %.16s…, want %s…", OrderEnv, tc.env, res.N, ran, tc.want)
		}
		ours, base := res.Extra["mediaport-ns/op"], res.Extra["baseline-ns/op"]
		if ours < 100e3 || base >= 50e3 {
			t.Errorf("ns/op: mediaport %v (spins 100 µs), baseline %v (does nothing)", ours, base)
		}
		oa, ba := res.Extra["mediaport-allocs/op"], res.Extra["baseline-allocs/op"]
		if oa < 3 || oa > 3.2 || ba > 0.2 {
			t.Errorf("allocs/op: mediaport %v (want 3), baseline %v (want 0)", oa, ba)
		}
	}
}
