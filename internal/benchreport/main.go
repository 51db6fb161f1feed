// Command benchreport runs mediaport's paired benchmarks and prints one table:
// for each pair, mediaport's time per op, the baseline's (raw socket, raw
// pion) measured in the same run, their ratio and mediaport's allocations.
//
//	go run ./internal/benchreport                 # every package, 4 rounds of 300ms
//	go run ./internal/benchreport -count 10 -benchtime 1s   # closer figures
//	go run ./internal/benchreport -v -bench Send ./dispatcher
//	go test -run '^$' -bench . -benchmem ./... | go run ./internal/benchreport -in -
//
// Standard output gets the table only; standard error a progress line, or
// with -v go test's own output.
//
// A pair is two sub-benchmarks of one benchmark named "mediaport" and
// "baseline", or the per-side metrics of a benchmark that runs them op by
// op (benchpair.Interleave); a few pairs of other names are listed in
// extraPairs. The ratio is baseline time ÷ mediaport time, so above 1
// mediaport is faster and 0.9 means mediaport runs at 90% of the
// baseline's speed; pairs listed in units compare another metric the same
// way (baseline ÷ mediaport, lower is better). Each value is the median of
// the runs (-count), to resist a noisy shared machine; the runs are rounds
// of one go test process each, so both sides of a pair are measured close
// together, the side that runs first alternates between rounds
// (internal/benchpair), and the table also shows the range of the
// per-round ratios.
package main

import (
	"bufio"
	"bytes"
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

// goals are the minimum ratios mediaport holds itself to, by pair name.
var goals = map[string]float64{
	"dispatcher/Send":             0.95,
	"dispatcher/SendBatch":        1.5,
	"dispatcher/SendPort":         0.9, // sendmsg + an IP_TOS control message per datagram: 6–9 % more kernel time than sendto
	"dispatcher/SendBatchPort":    1.5,
	"dispatcher/SendBatchPortGSO": 0.95,
	"event/QueueSignal":           1 / 1.5,
	"vmprx/ReceiveBatch":          1.2,
	"vmprx/ReceiveGRO":            1.2,
	"vmprx/ReceiveSingle":         0.9,
	"vmprx/IdlePorts":             1.0,

	"stun/Respond":              0.8,
	"turn/ProcessAllocate":      0.9,
	"turn/RelayRoundTrip":       0.9,
	"association/Throughput":    0.9, // vs raw pion/dtls
	"association/ThroughputUDP": 0.8, // vs raw UDP: the whole DTLS cost
	// The user's batch path (SendPackets/GetPackets) vs raw UDP one
	// datagram per call. Against raw sendmmsg/recvmmsg (ThroughputBatch)
	// there is no goal: AES-GCM's seal and open alone cost about what the
	// raw batch path costs per datagram, which caps that ratio near 0.5.
	"association/ThroughputBatchUDP": 0.8,
	"association/Handshake":          0.9,
	"association/IdleMemory":         1.0, // heap + goroutine stacks

	"srtp/EncryptRTP":              0.95,
	"srtp/DecryptRTP":              0.95,
	"vmprx/ReceiveSRTPCallerReads": 0.95,
	"dispatcher/SendSRTP":          0.95,
	"dispatcher/SendBatchSRTP":     1.5,
}

// units names, for pairs compared on something other than time, the
// metric to compare (lower is better, as for time).
var units = map[string]string{
	"dispatcher/Send":                "ns/delivered",
	"dispatcher/SendBatch":           "ns/delivered",
	"dispatcher/SendPort":            "ns/delivered",
	"dispatcher/SendBatchPort":       "ns/delivered",
	"dispatcher/SendBatchPortGSO":    "ns/delivered",
	"association/IdleMemory":         "B/assoc",
	"association/ThroughputBatch":    "ns/delivered",
	"association/ThroughputBatchUDP": "ns/delivered",
	"association/ThroughputBatchGRO": "ns/delivered", // no goal: the baseline's wire is nearly free, AES-GCM is not
	"vmprx/IdlePorts":                "B/port",

	"dispatcher/SendSRTP":      "ns/delivered",
	"dispatcher/SendBatchSRTP": "ns/delivered",
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

// options are the flags of a run.
type options struct {
	bench, benchtime string
	count            int
	verbose          bool
	pkgs             []string
}

func main() {
	var o options
	in := flag.String("in", "", "read `go test -bench` output from this file (- for stdin) instead of running it")
	flag.StringVar(&o.bench, "bench", ".", "benchmarks to run (go test -bench)")
	flag.IntVar(&o.count, "count", 4, "rounds: go test runs, each running every benchmark once; the side of a pair that runs first alternates")
	flag.StringVar(&o.benchtime, "benchtime", "300ms", "go test -benchtime")
	flag.BoolVar(&o.verbose, "v", false, "print go test's output (to standard error) as it runs")
	flag.Parse()
	o.pkgs = flag.Args()
	if len(o.pkgs) == 0 {
		o.pkgs = []string{"./..."}
	}
	switch *in {
	case "":
		os.Exit(rounds(o, execGo, os.Stdout, os.Stderr, isTerminal(os.Stderr)))
	case "-":
		results := map[string]*result{}
		parse(os.Stdin, results)
		os.Exit(report(os.Stdout, results))
	default:
		f, err := os.Open(*in)
		if err != nil {
			fatal(err)
		}
		results := map[string]*result{}
		parse(f, results)
		f.Close()
		os.Exit(report(os.Stdout, results))
	}
}

// goRunner runs the go command with args and env, its standard output to
// stdout and its standard error to stderr.
type goRunner func(args, env []string, stdout, stderr io.Writer) error

func execGo(args, env []string, stdout, stderr io.Writer) error {
	cmd := exec.Command("go", args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// isTerminal reports whether f is a terminal (a character device), where
// the progress line may redraw itself.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// rounds runs the benchmarks o.count times with goTest and prints the
// table to stdout; it returns the exit code (report's, or 2 if go test
// failed). One go test run per round, each with -count 1, so that drift of
// a shared machine (other load, frequency) affects both sides of a pair
// alike instead of whichever ran its repetitions later; and the side that
// runs first alternates between rounds (benchpair.OrderEnv).
//
// stderr gets a progress line (redrawn in place when tty is set, a line
// per round otherwise) or, with o.verbose, go test's output as it comes.
// When go test fails without o.verbose, the output of that round goes to
// stderr.
func rounds(o options, goTest goRunner, stdout, stderr io.Writer, tty bool) int {
	results := map[string]*result{}
	for round := 1; round <= o.count; round++ {
		args := append([]string{"test", "-run", "^$", "-bench", o.bench, "-benchmem",
			"-count", "1", "-benchtime", o.benchtime}, o.pkgs...)
		order := "mediaport first"
		env := append(os.Environ(), benchpair.OrderEnv+"=")
		if round%2 == 0 {
			order = "baseline first"
			env = append(os.Environ(), benchpair.OrderEnv+"="+benchpair.BaselineFirst)
		}
		status := fmt.Sprintf("benchreport: round %d of %d (%s)", round, o.count, order)
		p := &lineParser{results: results}
		var raw bytes.Buffer // the round's output, shown if it fails
		var goErr io.Writer = &raw
		if o.verbose {
			fmt.Fprintf(stderr, "%s: go %s\n", status, strings.Join(args, " "))
			p.echo, goErr = stderr, stderr
		} else {
			p.raw = &raw
			if tty {
				p.progress = func(pkg string) { fmt.Fprintf(stderr, "\r\033[K%s: %s", status, pkg) }
				p.progress("")
			} else {
				fmt.Fprintln(stderr, status)
			}
		}
		err := goTest(args, env, p, goErr)
		p.flush()
		if tty && !o.verbose {
			fmt.Fprint(stderr, "\r\033[K")
		}
		if err != nil {
			if !o.verbose {
				stderr.Write(raw.Bytes())
			}
			fmt.Fprintln(stderr, "benchreport: go test:", err)
			return 2
		}
	}
	return report(stdout, results)
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
	p := &lineParser{results: results}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.line(sc.Text())
	}
}

// lineParser parses go test -bench output a line at a time into results;
// as an io.Writer it takes the output as it comes.
type lineParser struct {
	results  map[string]*result
	pkg      string
	echo     io.Writer        // when not nil, gets every line
	raw      io.Writer        // when not nil, gets every line too
	progress func(pkg string) // when not nil, called at each package
	partial  []byte           // the start of a line not yet ended
}

// Write parses the complete lines of b and keeps the rest for the next.
func (p *lineParser) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			return n, nil
		}
		p.partial = append(p.partial, b[:i]...)
		p.line(string(p.partial))
		p.partial, b = p.partial[:0], b[i+1:]
	}
}

// flush parses a last line that has no newline.
func (p *lineParser) flush() {
	if len(p.partial) > 0 {
		p.line(string(p.partial))
		p.partial = p.partial[:0]
	}
}

func (p *lineParser) line(line string) {
	for _, w := range []io.Writer{p.echo, p.raw} {
		if w != nil {
			fmt.Fprintln(w, line)
		}
	}
	if m := pkgLine.FindStringSubmatch(line); m != nil {
		p.pkg = m[1][strings.LastIndex(m[1], "/")+1:]
		if p.progress != nil {
			p.progress(p.pkg)
		}
		return
	}
	m := benchLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	key := p.pkg + "/" + m[1]
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
		res := p.results[k]
		if res == nil {
			res = &result{}
			p.results[k] = res
		}
		res.add(unit, v)
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
		if len(o.values(unit)) == 0 || len(b.values(unit)) == 0 {
			if unit == "" {
				unit = "ns/op"
			}
			fmt.Fprintf(w, "%-36s %14s %14s %8s %12s %10s  no %s: MISSED\n", r.name, "-", "-", "-", "-", "-", unit)
			missed++
			continue
		}
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
