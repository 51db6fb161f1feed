package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mediaport/mediaport/internal/benchpair"
)

const sample = `goos: linux
pkg: github.com/mediaport/mediaport/dispatcher
BenchmarkSend/mediaport-2   100  1000 ns/op  1.000 delivered/op  1000 ns/delivered  0 B/op  0 allocs/op
BenchmarkSend/mediaport-2   100  3000 ns/op  1.000 delivered/op  3000 ns/delivered  0 B/op  0 allocs/op
BenchmarkSend/mediaport-2   100  1100 ns/op  1.000 delivered/op  1100 ns/delivered  0 B/op  0 allocs/op
BenchmarkSend/baseline-2    100   990 ns/op  1.000 delivered/op   990 ns/delivered  0 B/op  0 allocs/op
BenchmarkSendBatch/mediaport-2   100  1000 ns/op  0.5000 delivered/op  2000 ns/delivered  0 B/op  2 allocs/op
BenchmarkSendBatch/baseline-2    100  2400 ns/op  1.000 delivered/op  2400 ns/delivered  0 B/op  0 allocs/op
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
	// Send: 990/1100 = 0.90 misses 0.95; SendBatch, by time per datagram
	// delivered (2400/2000, not 2400/1000 by send calls): 1.2 misses 1.5.
	if code != 1 || strings.Count(s, "MISSED") != 2 {
		t.Fatalf("exit %d, report:\n%s", code, s)
	}
	if !strings.Contains(s, "0.90x") || !strings.Contains(s, "1.20x") || strings.Contains(s, "Lonely") ||
		strings.Contains(s, "2.40x") || !strings.Contains(s, "(ns/delivered)") {
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

// fakeGo stands for go test: each round writes sample to stdout in pieces
// that split lines, a line to stderr, and records the order it was given.
type fakeGo struct {
	orders []string
	fail   int // the round that fails, 0 for none
}

func (f *fakeGo) run(args, env []string, stdout, stderr io.Writer) error {
	order := "?"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, benchpair.OrderEnv+"="); ok {
			order = v
		}
	}
	f.orders = append(f.orders, order)
	for s := sample; s != ""; {
		k := min(7, len(s))
		stdout.Write([]byte(s[:k]))
		s = s[k:]
	}
	io.WriteString(stderr, "go: a line on stderr\n")
	if len(f.orders) == f.fail {
		return errors.New("exit status 1")
	}
	return nil
}

// TestRoundsPrintTableOnly: by default standard output gets the table and
// nothing else, standard error one progress line per round and none of go
// test's output; the order alternates.
func TestRoundsPrintTableOnly(t *testing.T) {
	var fake fakeGo
	var stdout, stderr bytes.Buffer
	code := rounds(options{bench: ".", benchtime: "1x", count: 2, pkgs: []string{"./..."}}, fake.run, &stdout, &stderr, false)
	out, errs := stdout.String(), stderr.String()
	if code != 1 || !strings.HasPrefix(out, "pair ") || strings.Count(out, "\n") != 3 || strings.Contains(out, "Benchmark") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	// Two rounds of the same sample: the per-round range is one value.
	if !strings.Contains(out, "1.20–1.20") {
		t.Fatalf("per-round ratios missing:\n%s", out)
	}
	if strings.Count(errs, "\n") != 2 || !strings.Contains(errs, "round 1 of 2 (mediaport first)") ||
		!strings.Contains(errs, "round 2 of 2 (baseline first)") || strings.Contains(errs, "Benchmark") || strings.Contains(errs, "go: a line") {
		t.Fatalf("stderr:\n%s", errs)
	}
	if len(fake.orders) != 2 || fake.orders[0] != "" || fake.orders[1] != benchpair.BaselineFirst {
		t.Fatalf("orders %q", fake.orders)
	}
}

// TestRoundsProgressOnTerminal: on a terminal the progress line redraws
// itself with the package being run, and is cleared before the table.
func TestRoundsProgressOnTerminal(t *testing.T) {
	var fake fakeGo
	var stdout, stderr bytes.Buffer
	rounds(options{count: 1}, fake.run, &stdout, &stderr, true)
	errs := stderr.String()
	if strings.Contains(errs, "\n") || !strings.Contains(errs, "\r\033[Kbenchreport: round 1 of 1 (mediaport first): dispatcher") ||
		!strings.HasSuffix(errs, "\r\033[K") {
		t.Fatalf("stderr %q", errs)
	}
	if !strings.HasPrefix(stdout.String(), "pair ") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
}

// TestRoundsVerbose: with -v go test's output and errors go to standard
// error as they come; standard output still gets the table only.
func TestRoundsVerbose(t *testing.T) {
	var fake fakeGo
	var stdout, stderr bytes.Buffer
	rounds(options{count: 2, verbose: true}, fake.run, &stdout, &stderr, false)
	errs := stderr.String()
	if strings.Count(errs, "BenchmarkSendBatch/mediaport-2") != 2 || strings.Count(errs, "go: a line on stderr") != 2 ||
		!strings.Contains(errs, "round 2 of 2 (baseline first): go test -run ^$") {
		t.Fatalf("stderr:\n%s", errs)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "pair ") || strings.Contains(out, "Benchmark") {
		t.Fatalf("stdout:\n%s", out)
	}
}

// TestRoundsFailure: when go test fails, its output (hidden until then)
// goes to standard error, and the exit code is 2 with no table.
func TestRoundsFailure(t *testing.T) {
	fake := fakeGo{fail: 2}
	var stdout, stderr bytes.Buffer
	code := rounds(options{count: 4}, fake.run, &stdout, &stderr, false)
	errs := stderr.String()
	if code != 2 || stdout.Len() != 0 || len(fake.orders) != 2 ||
		strings.Count(errs, "BenchmarkSend/baseline-2") != 1 || !strings.Contains(errs, "go: a line on stderr") ||
		!strings.Contains(errs, "benchreport: go test: exit status 1") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout.String(), errs)
	}
}

// TestMissingMetric: a pair scored by a metric one side lacks is MISSED,
// not a ratio of zeros.
func TestMissingMetric(t *testing.T) {
	res := map[string]*result{}
	parse(strings.NewReader("pkg: x/dispatcher\nBenchmarkSend/mediaport-2 10 100 ns/op\nBenchmarkSend/baseline-2 10 100 ns/op 100 ns/delivered\n"), res)
	var out bytes.Buffer
	if code := report(&out, res); code != 1 || !strings.Contains(out.String(), "no ns/delivered: MISSED") {
		t.Fatalf("exit %d, report:\n%s", code, out.String())
	}
}
