package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/auditurl"
	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/internal/wire"
)

// The load benchmarks drive the real server over loopback with keep-alive
// clients, the way the service's targets are stated:
//
//	go test -run '^$' -bench Load -benchtime 5s ./internal/server/
//
// BenchmarkLoadCheck reports single checks per second and the p99 of the
// round trip; BenchmarkLoadBatch reports decisions per second through
// batches of 1,000. Each runs with the default SQLite audit store and
// with the audit log off. Client and server share the machine's cores, so
// the figures are a floor for a server with the machine to itself.

// auditStore opens the audit store a benchmark variant names: "off" for
// none, "sqlite" or "jsonl" for a file of that kind, with "-required"
// for `serve --audit-required` (serveBench).
func auditStore(tb testing.TB, kind string) auditurl.Store {
	tb.Helper()
	if kind == "off" {
		return nil
	}
	scheme := strings.TrimSuffix(kind, "-required")
	st, err := auditurl.Open(scheme + ":" + filepath.Join(tb.TempDir(), "warden-audit."+scheme))
	if err != nil {
		tb.Fatal(err)
	}
	// Registered before the server's cleanup, so it runs after it: the
	// server flushes into an open store.
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Error(err)
		}
	})
	return st
}

func serveBench(b *testing.B, kind string) (*live, func()) {
	st := auditStore(b, kind)
	l := serveLive(b, policyAllow, func(c *server.Config) {
		if st != nil {
			c.Audit = st
		}
		// `serve --audit-required`: a decision is answered only once its
		// event is committed, waiting requests sharing the commits.
		c.AuditRequired = strings.HasSuffix(kind, "-required")
	})
	return l, func() {
		if err := l.stop(); err != nil {
			b.Error(err)
		}
	}
}

// cpuTime is the CPU time this process (client and server) has used.
// Reported per operation it says what a check costs whatever else the
// machine is running, which wall-clock throughput on shared cores cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// latencies collects round-trip times from parallel goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// quantile returns the q-quantile (0.5 for the median) of the latencies.
func (l *latencies) quantile(q float64) time.Duration {
	if len(l.all) == 0 {
		return 0
	}
	slices.Sort(l.all)
	return l.all[int(float64(len(l.all))*q)]
}

func (l *latencies) p99() time.Duration { return l.quantile(0.99) }

// BenchmarkLoadCheck's "baseline" variant is the floor for this machine:
// the same client against a bare net/http server, with Serve's timeouts,
// whose handler reads the body and answers with a decision's bytes without
// deciding or recording anything. Measured in the same run, it says how
// much of the round trip is warden's and how much is HTTP over loopback on
// cores the client shares. "audit=sqlite-required" is `serve
// --audit-required`: each answer waits for its event's commit; and
// "audit=jsonl-required" the same with a JSON Lines file, whose commit is
// one write and one fsync.
func BenchmarkLoadCheck(b *testing.B) {
	for _, kind := range []string{"sqlite", "sqlite-required", "jsonl-required", "off", "baseline"} {
		name := "audit=" + kind
		if kind == "baseline" {
			name = "baseline=net-http"
		}
		b.Run(name, func(b *testing.B) {
			url, stop := serveCheckBench(b, kind)
			var reqs [][]byte
			for _, body := range checkBodies(1024) {
				reqs = append(reqs, rawRequest("/v1/check", body))
			}
			elapsed, cpu, lat := driveLoad(b, url, reqs, loadParallelism(b), 97)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checks/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/check")
			b.ReportMetric(float64(lat.quantile(0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat.p99().Microseconds())/1000, "p99-ms")
			stop()
		})
	}
}

// driveLoad sends reqs round and round from par clients per core, each on
// its own keep-alive connection, until b.N requests are answered, and
// returns the wall-clock time, the process's CPU time and every round
// trip's latency. Each client starts stride requests after the previous
// one, so concurrent clients do not send the same request in step. It
// stops the timer before returning.
func driveLoad(b *testing.B, url string, reqs [][]byte, par, stride int) (time.Duration, time.Duration, *latencies) {
	lat := &latencies{}
	var next atomic.Int64
	b.SetParallelism(par)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		rc := dialRaw(b, url)
		defer rc.close()
		mine := make([]time.Duration, 0, 1024)
		i := int(next.Add(1)) * stride
		for pb.Next() {
			t0 := time.Now()
			status, _, err := rc.do(reqs[i%len(reqs)])
			if err != nil || status != 200 {
				b.Errorf("POST: %d %v", status, err)
				return
			}
			mine = append(mine, time.Since(t0))
			i++
		}
		lat.add(mine)
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	return elapsed, cpu, lat
}

// loadParallelism is how many clients per core BenchmarkLoadCheck runs:
// 8 (16 on two cores) unless WARDEN_LOAD_PARALLELISM says otherwise, to
// see how throughput and the tail move with the number of clients.
func loadParallelism(b *testing.B) int {
	s := os.Getenv("WARDEN_LOAD_PARALLELISM")
	if s == "" {
		return 8
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1024 {
		b.Fatalf("WARDEN_LOAD_PARALLELISM=%q: want clients per core, 1 to 1024", s)
	}
	return n
}

// serveCheckBench starts the server a BenchmarkLoadCheck variant names
// and returns its URL and how to stop it.
func serveCheckBench(b *testing.B, kind string) (string, func()) {
	if kind != "baseline" {
		l, stop := serveBench(b, kind)
		return l.url, stop
	}
	// The bare server answers with the bytes warden gives for a typical
	// check, so both write the same response.
	l, stop := serveBench(b, "off")
	status, answer, err := l.post("/v1/check", checkBodies(1)[0])
	stop()
	if err != nil || status != 200 {
		b.Fatalf("reference answer: %d %v", status, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/check", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, wire.MaxRequestBytes)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(answer)))
		w.Write(answer)
	})
	hs := server.NewHTTPServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		if err := hs.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
		if err := <-done; err != http.ErrServerClosed {
			b.Error(err)
		}
	}
}

const benchBatch = 1000

// BenchmarkLoadBatch runs with 2 and 4 clients (one and two per core),
// each sending its next batch as soon as the last is answered: latency
// under load depends on how many batches wait, and 2 clients already keep
// both cores busy.
func BenchmarkLoadBatch(b *testing.B) {
	for _, kind := range []string{"sqlite", "off"} {
		for _, par := range []int{1, 2} {
			b.Run(fmt.Sprintf("audit=%s/clients=%d", kind, par*runtime.GOMAXPROCS(0)), func(b *testing.B) { benchLoadBatch(b, kind, par) })
		}
	}
}

func benchLoadBatch(b *testing.B, kind string, par int) {
	l, stop := serveBench(b, kind)
	reqs := make([][]byte, 8)
	for i := range reqs {
		reqs[i] = rawRequest("/v1/check/batch", batchBody(benchBatch, i*benchBatch))
	}
	elapsed, cpu, lat := driveLoad(b, l.url, reqs, par, 0)
	b.ReportMetric(float64(b.N)*benchBatch/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchBatch), "cpu-ns/decision")
	b.ReportMetric(float64(lat.quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.quantile(0.9).Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(lat.p99().Microseconds())/1000, "p99-ms")
	stop()
}

// TestSoak runs single checks and batches against the SQLite-audited
// server for two minutes (WARDEN_SOAK_DURATION to change it) and checks
// that memory stays flat: the heap after collection at the end is within
// a margin of the heap once warmed up. It runs only with WARDEN_SOAK=1.
//
//	WARDEN_SOAK=1 go test -run TestSoak -v -timeout 10m ./internal/server/
func TestSoak(t *testing.T) {
	if os.Getenv("WARDEN_SOAK") != "1" {
		t.Skip("set WARDEN_SOAK=1 to run the two-minute soak")
	}
	dur := 2 * time.Minute
	if s := os.Getenv("WARDEN_SOAK_DURATION"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	st := auditStore(t, "sqlite")
	l := serveLive(t, policyAllow, func(c *server.Config) { c.Audit = st })
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	var checks, batches atomic.Int64
	bodies := checkBodies(1024)
	batch := batchBody(benchBatch, 0)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if g == 0 {
					if status, _, err := l.post("/v1/check/batch", batch); err != nil || status != 200 {
						t.Errorf("batch: %d %v", status, err)
						return
					}
					batches.Add(1)
					continue
				}
				if status, _, err := l.post("/v1/check", bodies[(g*131+i)%len(bodies)]); err != nil || status != 200 {
					t.Errorf("check: %d %v", status, err)
					return
				}
				checks.Add(1)
			}
		}()
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	warm := time.After(dur / 4)
	var base uint64
	tick := time.NewTicker(dur / 12)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-warm:
			base = heap()
			t.Logf("warmed up: heap in use %.1f MiB, %d goroutines", float64(base)/(1<<20), runtime.NumGoroutine())
		case <-tick.C:
			t.Logf("heap in use %.1f MiB, %d goroutines, %d checks, %d batches", float64(heap())/(1<<20), runtime.NumGoroutine(), checks.Load(), batches.Load())
		case <-ctx.Done():
			done = true
		}
	}
	wg.Wait()
	end := heap()
	t.Logf("end: heap in use %.1f MiB after %d checks and %d batches of %d", float64(end)/(1<<20), checks.Load(), batches.Load(), benchBatch)
	if limit := base + base/2 + 16<<20; end > limit {
		t.Errorf("heap grew from %d to %d bytes (limit %d)", base, end, limit)
	}
	if err := l.stop(); err != nil {
		t.Error(err)
	}
}
