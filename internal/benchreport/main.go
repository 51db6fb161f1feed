// Command benchreport runs mediaport's paired benchmarks and prints one table:
// for each pair, mediaport's time per op, the baseline's (raw socket, raw
// pion) measured in the same run, their ratio and mediaport's allocations.
//
//	go run ./internal/benchreport                 # every package, 6 rounds
//	go run ./internal/benchreport -bench Send ./dispatcher
//	go test -run '^$' -bench . -benchmem ./... | go run ./internal/benchreport -in -
//
// A pair is two sub-benchmarks of one benchmark named "mediaport" and
// "baseline", or the per-side metrics of a benchmark that runs them op by
// op (benchpair.Interleave); a few pairs of other names are listed in
// extraPairs. The
// ratio is baseline time ÷ mediaport time, so above 1 mediaport is faster
// and 0.9 means mediaport runs at 90% of the baseline's speed; pairs listed
// in units compare another metric the same way (baseline ÷ mediaport, lower
// is better). Each value is the median of the runs (-count), to resist a
// noisy shared machine; the runs are rounds of one go test process each,
// so both sides of a pair are measured close together, the side that runs
// first alternates between rounds (internal/benchpair), and the table also
// shows the range of the per-round ratios.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mediaport/mediaport/internal/benchpair"
)

// goals are the minimum ratios the issues set, by pair name.
var goals = map[string]float64{
	"dispatcher/Send":      0.95,
	"dispatcher/SendBatch": 1.5,
	"event/QueueSignal":    1 / 1.5,
	"vmprx/ReceiveBatch":   1.2,
	"vmprx/ReceiveGRO":     1.2,
	"vmprx/ReceiveSingle":  0.9,
	"vmprx/IdlePorts":      1.0,

	"stun/Respond":           0.8,
	"turn/ProcessAllocate":   0.9,
	"turn/RelayRoundTrip":    0.9,
	"association/Throughput": 0.9,
	"association/Handshake":  0.9,
	"association/IdleMemory": 1 / 1.2,
}

// units names, for pairs compared on something other than time, the
// metric to compare (lower is better, as for time).
var units = map[string]string{
	"association/IdleMemory": "B/assoc",
	"vmprx/IdlePorts":        "B/port",
}

// extraPairs compare two sub-benchmarks that are not mediaport/baseline:
// the name of the pair, then ours and baseline.
var extraPairs = [][3]string{
	{"event/QueueSignal", "event/QueueSignal/attached=100000", "event/QueueSignal/attached=1000"},
	{"event/QueueSignalSpread", "event/QueueSignalSpread/attached=100000", "event/QueueSignalSpread/attached=1000"},
}

type result struct {
	ns     []float64
	allocs []float64
	extra  map[string][]float64 // other metrics by unit
}

// value returns the median of the pair's compared metric.
func (r *result) value(unit string) float64 { return median(r.values(unit)) }

// values returns the compared metric of each run.
func (r *result) values(unit string) []float64 {
	if unit == "" {
		return r.ns
	}
	return r.extra[unit]
}

// roundRatios returns baseline ÷ ours for each run both sides have.
func roundRatios(ours, base []float64) (lo, hi float64, ok bool) {
	for i := 0; i < min(len(ours), len(base)); i++ {
		if ours[i] <= 0 {
			continue
		}
		r := base[i] / ours[i]
		if !ok || r < lo {
			lo = r
		}
		if !ok || r > hi {
			hi = r
		}
		ok = true
	}
	return lo, hi, ok
}

func main() {
	in := flag.String("in", "", "read `go test -bench` output from this file (- for stdin) instead of running it")
	bench := flag.String("bench", ".", "benchmarks to run (go test -bench)")
	count := flag.Int("count", 6, "rounds: go test runs, each running every benchmark once; the side of a pair that runs first alternates")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	flag.Parse()
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	var r io.Reader
	switch *in {
	case "":
		// One go test run per round, each with -count 1, so that drift of
		// a shared machine (other load, frequency) affects both sides of a
		// pair alike instead of whichever ran its repetitions later; and
		// the side that runs first alternates between rounds
		// (benchpair.OrderEnv).
		results := map[string]*result{}
		for round := 1; round <= *count; round++ {
			args := append([]string{"test", "-run", "^$", "-bench", *bench, "-benchmem",
				"-count", "1", "-benchtime", *benchtime}, pkgs...)
			cmd := exec.Command("go", args...)
			cmd.Stderr = os.Stderr
			order := "mediaport first"
			cmd.Env = append(os.Environ(), benchpair.OrderEnv+"=")
			if round%2 == 0 {
				order = "baseline first"
				cmd.Env = append(os.Environ(), benchpair.OrderEnv+"="+benchpair.BaselineFirst)
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				fatal(err)
			}
			if err := cmd.Start(); err != nil {
				fatal(err)
			}
			fmt.Fprintf(os.Stderr, "round %d of %d (%s): go %s\n", round, *count, order, strings.Join(args, " "))
			parse(io.TeeReader(out, os.Stderr), results)
			if err := cmd.Wait(); err != nil {
				fatal(fmt.Errorf("go test: %w", err))
			}
		}
		os.Exit(report(os.Stdout, results))
	case "-":
		r = os.Stdin
	default:
		f, err := os.Open(*in)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		r = f
	}
	results := map[string]*result{}
	parse(r, results)
	os.Exit(report(os.Stdout, results))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(2)
}

var (
	pkgLine   = regexp.MustCompile(`^pkg: (\S+)`)
	benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
)

// parse reads go test -bench output into results keyed "pkg/Name/sub",
// appending to what results holds. The metrics of a benchmark run with
// benchpair.Interleave, "mediaport-ns/op" and the like, go to the keys
// "pkg/Name/mediaport" and "pkg/Name/baseline", as if the sides had been
// sub-benchmarks.
func parse(r io.Reader, results map[string]*result) {
	get := func(key string) *result {
		res := results[key]
		if res == nil {
			res = &result{}
			results[key] = res
		}
		return res
	}
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := pkgLine.FindStringSubmatch(line); m != nil {
			pkg = m[1][strings.LastIndex(m[1], "/")+1:]
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := pkg + "/" + m[1]
		f := strings.Fields(m[2])
		for i := 1; i < len(f); i++ {
			v, err := strconv.ParseFloat(f[i-1], 64)
			if err != nil {
				continue
			}
			k, unit := key, f[i]
			for _, side := range []string{"mediaport", "baseline"} {
				if u, ok := strings.CutPrefix(unit, side+"-"); ok {
					k, unit = key+"/"+side, u
				}
			}
			get(k).add(unit, v)
		}
	}
}

// add records one value of a metric.
func (res *result) add(unit string, v float64) {
	switch unit {
	case "ns/op":
		res.ns = append(res.ns, v)
	case "allocs/op":
		res.allocs = append(res.allocs, v)
	default:
		if res.extra == nil {
			res.extra = map[string][]float64{}
		}
		res.extra[unit] = append(res.extra[unit], v)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the table and returns 1 if a pair misses its goal.
func report(w io.Writer, results map[string]*result) int {
	type row struct{ name, ours, base string }
	var rows []row
	for key := range results {
		if name, ok := strings.CutSuffix(key, "/mediaport"); ok {
			if _, ok := results[name+"/baseline"]; ok {
				rows = append(rows, row{name, key, name + "/baseline"})
			}
		}
	}
	for _, p := range extraPairs {
		if results[p[1]] != nil && results[p[2]] != nil {
			rows = append(rows, row{p[0], p[1], p[2]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	if len(rows) == 0 {
		fmt.Fprintln(w, "benchreport: no paired benchmarks in the output")
		return 1
	}
	missed := 0
	fmt.Fprintf(w, "%-36s %14s %14s %8s %12s %10s  %s\n", "pair", "ours", "baseline", "ratio", "per round", "allocs/op", "goal")
	for _, r := range rows {
		o, b := results[r.ours], results[r.base]
		unit := units[r.name]
		on, bn := o.value(unit), b.value(unit)
		ratio := bn / on
		spread := "-"
		if lo, hi, ok := roundRatios(o.values(unit), b.values(unit)); ok {
			spread = fmt.Sprintf("%.2f–%.2f", lo, hi)
		}
		goal := "-"
		if g, ok := goals[r.name]; ok {
			verdict := "ok"
			if ratio < g {
				verdict = "MISSED"
				missed++
			}
			goal = fmt.Sprintf("≥ %.2f %s", g, verdict)
		}
		allocs := "-"
		if len(o.allocs) > 0 {
			allocs = strconv.FormatFloat(median(o.allocs), 'f', -1, 64)
		}
		if unit == "" {
			unit = "ns/op"
		}
		fmt.Fprintf(w, "%-36s %14.1f %14.1f %7.2fx %12s %10s  %s (%s)\n", r.name, on, bn, ratio, spread, allocs, goal, unit)
	}
	if missed > 0 {
		return 1
	}
	return 0
}
