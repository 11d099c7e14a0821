// Command ratios reads `go test -bench` output from the bench module and
// prints, for each benchmark and workload, every engine's median and how
// many times faster (or smaller) warden is, then checks the comparison's
// targets. Medians of the raw runs are used rather than benchstat's CSV
// so the table needs nothing but the raw file that is kept in
// docs/benchmarks; benchstat gives the confidence intervals beside it.
//
//	go run ./cmd/ratios < docs/benchmarks/comparison-raw.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// key names one sub-benchmark without its engine: its benchmark
// ("Decide") and workload ("rbac-large").
type key struct{ bench, workload string }

// Results holds every measurement: by key, engine and unit, the values of
// each run.
type Results struct {
	keys    []key // in order of first appearance
	engines []string
	values  map[key]map[string]map[string][]float64
}

// Parse reads benchmark lines such as
//
//	BenchmarkDecide/workload=acl/engine=warden-2  570325  384.0 ns/op  0 B/op
//
// and ignores every other line. A benchmark line it cannot read is an
// error naming the line, not something skipped: a silently dropped run
// would change a median.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{values: map[key]map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if !strings.HasPrefix(text, "Benchmark") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 4 || len(fields)%2 != 0 {
			// A name alone on a line is how go test prints a benchmark
			// that logged before its result; the result follows later
			// on its own line only with -v, which run.sh does not use.
			if len(fields) == 1 {
				continue
			}
			return nil, fmt.Errorf("line %d: %q: want a name, a count and value-unit pairs", line, text)
		}
		k, engine, err := parseName(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return nil, fmt.Errorf("line %d: iteration count %q: %w", line, fields[1], err)
		}
		byEngine := res.values[k]
		if byEngine == nil {
			byEngine = map[string]map[string][]float64{}
			res.values[k] = byEngine
			res.keys = append(res.keys, k)
		}
		if !slices.Contains(res.engines, engine) {
			res.engines = append(res.engines, engine)
		}
		byUnit := byEngine[engine]
		if byUnit == nil {
			byUnit = map[string][]float64{}
			byEngine[engine] = byUnit
		}
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return nil, fmt.Errorf("line %d: value %q for %s is not a finite non-negative number", line, fields[i], fields[i+1])
			}
			byUnit[fields[i+1]] = append(byUnit[fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return res, nil
}

// parseName splits "BenchmarkDecide/workload=acl/engine=warden-2".
func parseName(name string) (key, string, error) {
	parts := strings.Split(strings.TrimPrefix(name, "Benchmark"), "/")
	if len(parts) != 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "workload=") || !strings.HasPrefix(parts[2], "engine=") {
		return key{}, "", fmt.Errorf("benchmark %q: want Benchmark<name>/workload=<w>/engine=<e>", name)
	}
	engine := strings.TrimPrefix(parts[2], "engine=")
	if i := strings.LastIndexByte(engine, '-'); i >= 0 {
		if _, err := strconv.Atoi(engine[i+1:]); err == nil {
			engine = engine[:i]
		}
	}
	w := strings.TrimPrefix(parts[1], "workload=")
	if engine == "" || w == "" {
		return key{}, "", fmt.Errorf("benchmark %q: empty workload or engine", name)
	}
	return key{parts[0], w}, engine, nil
}

// Median returns the median of the unit's values for (k, engine), and
// false when there are none.
func (r *Results) Median(k key, engine, unit string) (float64, bool) {
	vs := slices.Clone(r.values[k][engine][unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// Ratio is other's median over warden's: how many times faster (for a
// time) or smaller (for a size) warden is. ok is false when either is
// missing or warden's is zero.
func (r *Results) Ratio(k key, other, unit string) (float64, bool) {
	w, ok1 := r.Median(k, "warden", unit)
	o, ok2 := r.Median(k, other, unit)
	if !ok1 || !ok2 || w == 0 {
		return 0, false
	}
	return o / w, true
}

// Write prints one table per benchmark and unit of interest.
func (r *Results) Write(w io.Writer) {
	others := slices.DeleteFunc(slices.Clone(r.engines), func(e string) bool { return e == "warden" })
	benches := []string{}
	for _, k := range r.keys {
		if !slices.Contains(benches, k.bench) {
			benches = append(benches, k.bench)
		}
	}
	for _, bench := range benches {
		units := []string{"ns/op"}
		if bench == "Load" {
			units = []string{"ns/op", "heap-MB"}
		}
		for _, unit := range units {
			fmt.Fprintf(w, "\n%s, %s (median; ratio = engine / warden)\n\n", bench, unit)
			fmt.Fprintf(w, "| workload | warden |")
			for _, o := range others {
				fmt.Fprintf(w, " %s | %s / warden |", o, o)
			}
			fmt.Fprintf(w, "\n| --- | ---: |%s\n", strings.Repeat(" ---: | ---: |", len(others)))
			for _, k := range r.keys {
				if k.bench != bench {
					continue
				}
				fmt.Fprintf(w, "| %s | %s |", k.workload, cell(r, k, "warden", unit))
				for _, o := range others {
					ratio := "—"
					if v, ok := r.Ratio(k, o, unit); ok {
						ratio = formatRatio(v)
					}
					fmt.Fprintf(w, " %s | %s |", cell(r, k, o, unit), ratio)
				}
				fmt.Fprintln(w)
			}
		}
	}
}

func cell(r *Results, k key, engine, unit string) string {
	v, ok := r.Median(k, engine, unit)
	if !ok {
		return "—"
	}
	if unit == "ns/op" {
		return formatNs(v)
	}
	if v < 1 {
		return strconv.FormatFloat(v*1024, 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " MiB"
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return strconv.FormatFloat(ns/1e9, 'f', 2, 64) + " s"
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'f', 2, 64) + " ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'f', 2, 64) + " µs"
	}
	return strconv.FormatFloat(ns, 'f', 1, 64) + " ns"
}

func formatRatio(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "×"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "×"
}

// target is one of the comparison's goals: warden at least min times
// better than engine on (bench, workload, unit).
type target struct {
	bench, workload, engine, unit string
	min                           float64
}

var targets = []target{
	{"Decide", "rbac-large", "casbin", "ns/op", 1000},
	{"Decide", "rbac-large", "cedar", "ns/op", 500},
	{"Decide", "glob-100000", "casbin", "ns/op", 100},
	{"Decide", "glob-100000", "cedar", "ns/op", 100},
	{"Load", "rbac-large", "casbin", "ns/op", 1},
	{"Load", "rbac-large", "casbin", "heap-MB", 1},
}

// Check prints each target as met, missed or not measured, and then
// whether warden is faster than every engine on every workload in every
// decide benchmark. It returns the number of targets missed.
func (r *Results) Check(w io.Writer) int {
	missed := 0
	fmt.Fprintln(w, "\nTargets")
	fmt.Fprintln(w)
	for _, t := range targets {
		v, ok := r.Ratio(key{t.bench, t.workload}, t.engine, t.unit)
		verdict := "not measured"
		if ok {
			verdict = "met"
			if v < t.min {
				verdict = "MISSED"
				missed++
			}
			verdict += " (" + formatRatio(v) + ")"
		}
		fmt.Fprintf(w, "- %s %s, %s: warden ≥ %s better than %s: %s\n", t.bench, t.workload, t.unit, formatRatio(t.min), t.engine, verdict)
	}
	var slower []string
	for _, k := range r.keys {
		if !strings.HasPrefix(k.bench, "Decide") {
			continue
		}
		for _, e := range r.engines {
			if v, ok := r.Ratio(k, e, "ns/op"); ok && e != "warden" && v <= 1 {
				slower = append(slower, fmt.Sprintf("%s %s against %s (%s)", k.bench, k.workload, e, formatRatio(v)))
			}
		}
	}
	if len(slower) == 0 {
		fmt.Fprintln(w, "- warden faster than every engine on every workload and decide benchmark: met")
	} else {
		missed += len(slower)
		fmt.Fprintln(w, "- warden faster than every engine on every workload and decide benchmark: MISSED on "+strings.Join(slower, "; "))
	}
	return missed
}

func main() {
	res, err := Parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios: stdin:", err)
		os.Exit(1)
	}
	if len(res.keys) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: stdin: no benchmark results")
		os.Exit(1)
	}
	res.Write(os.Stdout)
	res.Check(os.Stdout)
}
