package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/mediaport/mediaport/dispatcher
BenchmarkSend/mediaport-2   100  1000 ns/op  0 B/op  0 allocs/op
BenchmarkSend/mediaport-2   100  3000 ns/op  0 B/op  0 allocs/op
BenchmarkSend/mediaport-2   100  1100 ns/op  0 B/op  0 allocs/op
BenchmarkSend/baseline-2    100   990 ns/op  0 B/op  0 allocs/op
BenchmarkSendBatch/mediaport-2   100  1000 ns/op  1.000 delivered/op  0 B/op  2 allocs/op
BenchmarkSendBatch/baseline-2    100  1200 ns/op  1.000 delivered/op  0 B/op  0 allocs/op
BenchmarkLonely-2  100  5 ns/op
`

func TestReport(t *testing.T) {
	res := map[string]*result{}
	parse(strings.NewReader(sample), res)
	if got := median(res["dispatcher/Send/mediaport"].ns); got != 1100 {
		t.Fatalf("median of 1000, 3000, 1100 = %v", got)
	}
	var out bytes.Buffer
	code := report(&out, res)
	s := out.String()
	// Send: 990/1100 = 0.90 misses 0.95; SendBatch: 1.2 misses 1.5.
	if code != 1 || strings.Count(s, "MISSED") != 2 {
		t.Fatalf("exit %d, report:\n%s", code, s)
	}
	if !strings.Contains(s, "0.90x") || !strings.Contains(s, "1.20x") || strings.Contains(s, "Lonely") {
		t.Fatalf("report:\n%s", s)
	}
	// Per-round ratios: Send has one round with both sides (990/1000).
	if !strings.Contains(s, "0.99–0.99") || !strings.Contains(s, "1.20–1.20") {
		t.Fatalf("per-round ratios missing:\n%s", s)
	}
	if !strings.Contains(s, " 2  ") {
		t.Fatalf("allocs of the mediaport side missing:\n%s", s)
	}
}

// TestRounds: the output of several go test runs adds up, and the
// per-round ratios pair the runs in order.
func TestRounds(t *testing.T) {
	res := map[string]*result{}
	for _, ns := range []string{"100", "200"} {
		parse(strings.NewReader("pkg: x/vmprx\nBenchmarkReceive/mediaport-2 10 "+ns+" ns/op\nBenchmarkReceive/baseline-2 10 150 ns/op\n"), res)
	}
	if got := res["vmprx/Receive/mediaport"].ns; len(got) != 2 || got[1] != 200 {
		t.Fatalf("ours after two rounds: %v", got)
	}
	var out bytes.Buffer
	report(&out, res)
	if !strings.Contains(out.String(), "0.75–1.50") {
		t.Fatalf("per-round ratios 150/200 and 150/100 missing:\n%s", out.String())
	}
}

// TestInterleaved: the per-side metrics of benchpair.Interleave make a
// pair, with its allocations and per-round ratios, and the benchmark's own
// ns/op (both sides together) is not taken for either side.
func TestInterleaved(t *testing.T) {
	res := map[string]*result{}
	for _, ours := range []string{"1000", "1250"} {
		parse(strings.NewReader("pkg: x/association\nBenchmarkHandshake-2 10 2000 ns/op 900 baseline-allocs/op 1000 baseline-ns/op 7 mediaport-allocs/op "+ours+" mediaport-ns/op 120 B/op 9 allocs/op\n"), res)
	}
	if got := res["association/Handshake/mediaport"]; got == nil || len(got.ns) != 2 || got.ns[1] != 1250 || got.allocs[0] != 7 {
		t.Fatalf("mediaport side: %+v", got)
	}
	var out bytes.Buffer
	code := report(&out, res)
	s := out.String()
	// median 1125 against 1000: 0.89 misses 0.9; rounds 1.00 and 0.80.
	if code != 1 || !strings.Contains(s, "0.89x") || !strings.Contains(s, "0.80–1.00") || !strings.Contains(s, " 7  ") {
		t.Fatalf("exit %d, report:\n%s", code, s)
	}
}
