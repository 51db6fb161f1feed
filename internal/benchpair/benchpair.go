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

// Side is one side of a pair run by Interleave.
type Side struct {
	// Op runs one timed op, which counts as Ops ops of the pair's unit
	// (one when Ops is 0): a handshake, or a backlog of Ops datagrams.
	Op  func()
	Ops int
	// Prepare, when not nil, runs before each Op, untimed: it sets up
	// what Op consumes (the backlog Op reads, say).
	Prepare func()
}

// Interleave runs the two sides of a pair in one benchmark, an op of one
// and then an op of the other, so that drift of a shared machine (other
// load, frequency, the scheduler's placement) during the run falls on both
// sides alike. It suits ops long enough to time one by one (a handshake,
// a backlog of datagrams); Run suits the others.
//
// ours and baseline are called once, before the timer starts, to set up
// their side (cleanup goes to b.Cleanup) and return it. Iteration i runs
// an op of both sides; which runs first alternates (the side OrderEnv
// names starts), so each side's op follows the other side's op as often
// as its own, and what one side leaves behind (goroutines still ending,
// garbage) burdens both alike. A side's Prepare runs just before its Op,
// outside the timing, which reads the clock and nothing else: unlike
// testing.B's StopTimer it does not stop the world.
//
// Each side's time and allocations per unit op (Side.Ops) are reported as
// the metrics "mediaport-ns/op", "baseline-ns/op", "mediaport-allocs/op"
// and "baseline-allocs/op"; internal/benchreport reads them as a pair. The
// time is that of the timed iterations; the allocations are counted after
// them, over allocOps more ops of each side (Prepare not counted), so that
// counting (which stops the world) does not disturb the timing. The
// benchmark's own ns/op is the time of one iteration: an op of each side
// and their Prepare.
func Interleave(b *testing.B, ours, baseline func(b *testing.B) Side) {
	interleave(b, ours, baseline, time.Now)
}

// interleave is Interleave timing ops with now, so that a test can time
// them on a clock it moves itself.
func interleave(b *testing.B, ours, baseline func(b *testing.B) Side, now func() time.Time) {
	sides := [2]struct {
		name string
		Side
		ns time.Duration
	}{{name: "mediaport"}, {name: "baseline"}}
	sides[0].Side, sides[1].Side = ours(b), baseline(b)
	for i := range sides {
		if sides[i].Ops <= 0 {
			sides[i].Ops = 1
		}
		if sides[i].Prepare == nil {
			sides[i].Prepare = func() {}
		}
	}
	first := 0
	if os.Getenv(OrderEnv) == BaselineFirst {
		first = 1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range 2 {
			s := &sides[(first+i+k)%2]
			s.Prepare()
			t0 := now()
			s.Op()
			s.ns += now().Sub(t0)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(float64(s.ns.Nanoseconds())/float64(b.N*s.Ops), s.name+"-ns/op")
		var mallocs uint64
		var m0, m1 runtime.MemStats
		for range allocOps {
			s.Prepare()
			runtime.ReadMemStats(&m0)
			s.Op()
			runtime.ReadMemStats(&m1)
			mallocs += m1.Mallocs - m0.Mallocs
		}
		b.ReportMetric(float64(mallocs)/float64(allocOps*s.Ops), s.name+"-allocs/op")
	}
}

// allocOps is how many ops of each side Interleave counts allocations over.
const allocOps = 8
