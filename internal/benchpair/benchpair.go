// Package benchpair runs mediaport's paired benchmarks: mediaport's path
// and a baseline that does the same work with a raw socket or a raw pion,
// compared by internal/benchreport — as two sub-benchmarks named
// "mediaport" and "baseline" (Run), or op by op in one benchmark
// (Interleave).
//
// The side that runs second in a process can be favoured: it finds the
// runtime warmed up (goroutine descriptors, threads, heap) and the machine
// past the load of what ran before. So the order is a parameter: with the
// environment variable named by OrderEnv set to "baseline-first" the
// baseline runs first. benchreport alternates it between rounds.
package benchpair

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// OrderEnv is the environment variable that sets the order of a pair:
// "baseline-first", or anything else for mediaport first.
const OrderEnv = "MEDIAPORT_BENCH_ORDER"

// BaselineFirst is the value of OrderEnv that runs the baseline first.
const BaselineFirst = "baseline-first"

// Run runs ours as the sub-benchmark "mediaport" and baseline as
// "baseline", in the order OrderEnv gives.
func Run(b *testing.B, ours, baseline func(*testing.B)) {
	if os.Getenv(OrderEnv) == BaselineFirst {
		b.Run("baseline", baseline)
		b.Run("mediaport", ours)
		return
	}
	b.Run("mediaport", ours)
	b.Run("baseline", baseline)
}

// Interleave runs the two sides of a pair in one benchmark, an op of one
// and then an op of the other, so that drift of a shared machine (other
// load, frequency, the scheduler's placement) during the run falls on both
// sides alike. It suits ops long enough to time one by one (a handshake);
// Run suits the others.
//
// ours and baseline are called once, before the timer starts, to set up
// their side (cleanup goes to b.Cleanup) and return its op. Iteration i
// runs both ops; which runs first alternates (the side OrderEnv names
// starts), so each side's op follows the other side's op as often as its
// own, and what one side leaves behind (goroutines still ending,
// garbage) burdens both alike.
//
// Each side's time and allocations per op are reported as the metrics
// "mediaport-ns/op", "baseline-ns/op", "mediaport-allocs/op" and
// "baseline-allocs/op"; internal/benchreport reads them as a pair. The
// time is that of the timed iterations; the allocations are counted after
// them, over allocOps more ops of each side, so that counting (which stops
// the world) does not disturb the timing. The benchmark's own ns/op is the
// time of one op of each.
func Interleave(b *testing.B, ours, baseline func(b *testing.B) (op func())) {
	sides := [2]struct {
		name string
		op   func()
		ns   time.Duration
	}{{name: "mediaport"}, {name: "baseline"}}
	sides[0].op, sides[1].op = ours(b), baseline(b)
	first := 0
	if os.Getenv(OrderEnv) == BaselineFirst {
		first = 1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range 2 {
			s := &sides[(first+i+k)%2]
			t0 := time.Now()
			s.op()
			s.ns += time.Since(t0)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(float64(s.ns.Nanoseconds())/float64(b.N), s.name+"-ns/op")
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range allocOps {
			s.op()
		}
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/allocOps, s.name+"-allocs/op")
	}
}

// allocOps is how many ops of each side Interleave counts allocations over.
const allocOps = 8
