package server_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoadCheckInterleaved measures the ratios the audit targets
// are stated in: serve with audit off, with SQLite audit, and with
// --audit-required, against each other and against the bare net/http
// handler; and the same with JSON Lines, the alternative. On a machine whose speed drifts by a quarter within minutes,
// BenchmarkLoadCheck's variants, run one after the other for seconds
// each, are too far apart to compare; here every variant's server runs
// at once, and each iteration is a round that gives every variant a
// short slice of load (WARDEN_LOAD_SLICE, 1s), in a new random order, so
// the variants of a round are measured within seconds of each other.
//
//	go test -run '^$' -bench LoadCheckInterleaved -benchtime 20x ./internal/server/
//
// A slice ends by flushing that server's audit log, inside the slice's
// time, so no variant's writes spill into the next one's. Each round's
// ratios are computed from its own slices; the metrics are the medians
// over rounds, with the range as -min and -max metrics; every ratio of
// every round is logged, with the load average at the start of the run
// and at the end. Clients per core as in
// BenchmarkLoadCheck (WARDEN_LOAD_PARALLELISM).
func BenchmarkLoadCheckInterleaved(b *testing.B) {
	type variant struct {
		kind  string
		url   string
		flush func(context.Context) error
		lat   latencies
		count int
		cpu   time.Duration
		rates []float64
	}
	var vs []*variant
	for _, kind := range []string{"sqlite", "sqlite-required", "jsonl", "jsonl-required", "off", "baseline"} {
		v := &variant{kind: kind, flush: func(context.Context) error { return nil }}
		if kind == "baseline" {
			url, stop := serveCheckBench(b, kind)
			b.Cleanup(stop)
			v.url = url
		} else {
			l, stop := serveBench(b, kind)
			b.Cleanup(stop)
			v.url, v.flush = l.url, l.srv.Flush
		}
		vs = append(vs, v)
	}
	var reqs [][]byte
	for _, body := range checkBodies(1024) {
		reqs = append(reqs, rawRequest("/v1/check", body))
	}
	par := loadParallelism(b) * runtime.GOMAXPROCS(0)
	slice := loadSlice(b)
	b.Logf("%s; %d clients, slices of %v", loadAverage(), par, slice)
	for _, v := range vs { // warm up: connections, caches, the stores' first pages
		driveSlice(b, v.url, reqs, par, slice/4, v.flush)
	}
	ratios := map[string][]float64{}
	ratio := func(rates map[string]float64, a, c string) {
		r := 100 * rates[a] / rates[c]
		ratios[a+"/"+c] = append(ratios[a+"/"+c], r)
	}
	var rounds []string
	for b.Loop() {
		rates := map[string]float64{}
		var line strings.Builder
		for _, i := range rand.Perm(len(vs)) {
			v := vs[i]
			n, elapsed, cpu, lat := driveSlice(b, v.url, reqs, par, slice, v.flush)
			v.count += n
			v.cpu += cpu
			v.lat.add(lat)
			rates[v.kind] = float64(n) / elapsed.Seconds()
			v.rates = append(v.rates, rates[v.kind])
			fmt.Fprintf(&line, " %s %.0f/s", v.kind, rates[v.kind])
		}
		ratio(rates, "off", "baseline")
		ratio(rates, "sqlite", "baseline")
		ratio(rates, "jsonl", "baseline")
		ratio(rates, "sqlite-required", "off")
		ratio(rates, "sqlite-required", "baseline")
		ratio(rates, "jsonl-required", "off")
		rounds = append(rounds, fmt.Sprintf("round %d:%s", len(rounds)+1, line.String()))
	}
	b.StopTimer()
	end := loadAverage()
	for _, v := range vs {
		b.ReportMetric(median(v.rates), v.kind+"-checks/s")
		b.ReportMetric(float64(v.cpu.Microseconds())/float64(max(v.count, 1)), v.kind+"-cpu-µs/check")
		b.ReportMetric(float64(v.lat.p99().Microseconds())/1000, v.kind+"-p99-ms")
	}
	for _, k := range slices.Sorted(maps.Keys(ratios)) {
		rs := ratios[k]
		b.ReportMetric(median(rs), k+"-%")
		b.ReportMetric(slices.Min(rs), k+"-min-%")
		b.ReportMetric(slices.Max(rs), k+"-max-%")
		var each strings.Builder
		for _, r := range rs {
			fmt.Fprintf(&each, " %.0f", r)
		}
		b.Logf("%s: median %.0f%%, range %.0f%% to %.0f%% over %d rounds; by round:%s", k, median(rs), slices.Min(rs), slices.Max(rs), len(rs), each.String())
	}
	b.Logf("%s at the end", end)
	// The testing package keeps only the first lines a benchmark logs:
	// the summary above comes first, then each round's rates.
	for _, r := range rounds {
		b.Log(r)
	}
	b.ReportMetric(0, "ns/op") // one op is a round of every variant: not a figure
}

// driveSlice sends reqs round and round to url from par clients, each on
// its own keep-alive connection, for d; then calls flush. It returns the
// requests answered, the time from the start to the end of flush, the
// process's CPU time over it, and every round trip's latency.
func driveSlice(b *testing.B, url string, reqs [][]byte, par int, d time.Duration, flush func(context.Context) error) (int, time.Duration, time.Duration, []time.Duration) {
	conns := make([]*rawConn, par)
	for i := range conns {
		conns[i] = dialRaw(b, url)
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	var (
		count atomic.Int64
		mu    sync.Mutex
		all   []time.Duration
		wg    sync.WaitGroup
	)
	start, cpu0 := time.Now(), cpuTime()
	deadline := start.Add(d)
	for g, rc := range conns {
		wg.Go(func() {
			mine := make([]time.Duration, 0, 1024)
			for i := g * 97; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				status, _, err := rc.do(reqs[i%len(reqs)])
				if err != nil || status != 200 {
					b.Errorf("POST: %d %v", status, err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			count.Add(int64(len(mine)))
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := flush(ctx); err != nil {
		b.Fatal(err)
	}
	return int(count.Load()), time.Since(start), cpuTime() - cpu0, all
}

// loadSlice is how long each variant is driven in a round of
// BenchmarkLoadCheckInterleaved: 1s unless WARDEN_LOAD_SLICE says.
func loadSlice(b *testing.B) time.Duration {
	s := os.Getenv("WARDEN_LOAD_SLICE")
	if s == "" {
		return time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 100*time.Millisecond || d > time.Minute {
		b.Fatalf("WARDEN_LOAD_SLICE=%q: want a duration from 100ms to 1m", s)
	}
	return d
}

// loadAverage is the machine's load average, as uptime shows it, or why
// it is not known.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], ", ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
