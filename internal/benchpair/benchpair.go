// Package benchpair runs mediaport's paired benchmarks: one sub-benchmark
// named "mediaport" and one named "baseline" that does the same work with
// a raw socket or a raw pion, compared by internal/benchreport.
//
// The side that runs second in a process can be favoured: it finds the
// runtime warmed up (goroutine descriptors, threads, heap) and the machine
// past the load of what ran before. So the order is a parameter: with the
// environment variable named by OrderEnv set to "baseline-first" the
// baseline runs first. benchreport alternates it between rounds.
package benchpair

import (
	"os"
	"testing"
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
