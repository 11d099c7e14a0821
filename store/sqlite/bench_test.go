package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
	"github.com/warden-authz/warden/types"
)

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteOne commits batches of one write, each a transaction
// fsynced before Write returns, into a store of 10,000 records: the
// latency of a single durable write, reported as its median and 99th
// percentile.
func BenchmarkWriteOne(b *testing.B) {
	for _, w := range []workload{workloads[0], workloads[3]} {
		b.Run(w.name, func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			write(b, s, w.batch(1<<40, 10_000)...)
			var lat []time.Duration
			n := 0
			for b.Loop() {
				ws := w.batch(n, 1)
				n++
				start := time.Now()
				if _, err := s.Write(ctx, store.Batch{Writes: ws}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// A workload says what batch n's writes are. Names decide the cost: each
// index is a B-tree, and a batch dirties about one page of it per
// distinct place its keys land, every dirty page being appended to the
// write-ahead log at commit.
type workload struct {
	name  string
	write func(k int) store.Write
}

var workloads = []workload{
	// New users joining a few teams: the users' names are new and close
	// together, the groups' few.
	{"membership/few-groups", func(k int) store.Write {
		return member(store.OpAdd, fmt.Sprintf("user%d@example.com", k), fmt.Sprintf("group%d", k%10))
	}},
	// Each user of the batch into a group of its own out of 10,000.
	{"membership/many-groups", func(k int) store.Write {
		return member(store.OpAdd, fmt.Sprintf("user%d@example.com", k), fmt.Sprintf("group%d", k%10_000))
	}},
	// Names scattered at random: every key lands somewhere else.
	{"membership/random", func(int) store.Write {
		k := rand.Uint32()
		return member(store.OpAdd, fmt.Sprintf("user%d@example.com", k), fmt.Sprintf("group%d", k%10_000))
	}},
	// New documents shared with one of 1,000 users each.
	{"grant/new-documents", func(k int) store.Write {
		return grantWrite(fmt.Sprintf("user%d@example.com", k%1000), fmt.Sprintf("doc:%d", k))
	}},
	{"grant/random", func(int) store.Write {
		k := rand.Uint32()
		return grantWrite(fmt.Sprintf("user%d@example.com", k%100_000), fmt.Sprintf("doc:%d", k))
	}},
}

func grantWrite(subject, resource string) store.Write {
	return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: subject, Resource: resource, Action: "read"}}
}

func (w workload) batch(first, n int) []store.Write {
	ws := make([]store.Write, n)
	for i := range ws {
		ws[i] = w.write(first + i)
	}
	return ws
}

// BenchmarkWriteBatch commits batches of 1,000 adds, each one fsynced
// transaction, into a store that already holds 100,000 records of the
// same workload, and reports records/s and CPU time per record, which a
// shared machine's noise hardly moves: SQLite writes from one
// connection, so one core bounds it at 1e9/cpu-ns records/s.
//
// Batches of 10,000 (store.MaxBatch) show how much of the cost is per
// dirty page rather than per record: a batch ten times larger dirties
// far fewer than ten times the pages.
func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{1000, store.MaxBatch} {
		for _, w := range workloads {
			b.Run(fmt.Sprintf("%s/%d", w.name, size), func(b *testing.B) { benchWriteBatch(b, w, size) })
		}
	}
}

func benchWriteBatch(b *testing.B, w workload, size int) {
	{
		{
			s := open(b)
			ctx := context.Background()
			for i := 0; i < 100_000; i += store.MaxBatch {
				write(b, s, w.batch(1<<40+i, store.MaxBatch)...)
			}
			n := 0
			var elapsed, cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				ws := w.batch(n, size)
				n += size
				start, cpu0 := time.Now(), processCPU(b)
				b.StartTimer()
				if _, err := s.Write(ctx, store.Batch{Writes: ws}); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				cpu += processCPU(b) - cpu0
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/record")
		}
	}
}

// bench2MEnv names the database BenchmarkSnapshot2M reads: 1,000,000
// memberships and 1,000,000 grants, built there by the benchmark if the
// file does not exist (which takes about a minute), and kept for the next
// run. Unset, the benchmark is skipped: it is not for CI.
const bench2MEnv = "WARDEN_BENCH_2M"

// BenchmarkSnapshot2M reads every record of a store holding 1,000,000
// memberships and 1,000,000 grants, as warden serve does when it starts,
// and reports the time of one snapshot, its CPU time, the file's size and
// the heap the records take once held.
func BenchmarkSnapshot2M(b *testing.B) {
	path := os.Getenv(bench2MEnv)
	if path == "" {
		b.Skipf("set %s to a file path (created on first run) to run it", bench2MEnv)
	}
	if _, err := os.Stat(path); os.IsNotExist(err) {
		build2M(b, path)
	}
	s, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var size int64
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	ctx := context.Background()
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			n := 0
			start := processCPU(b)
			if _, err := s.Snapshot(ctx, func(store.Record) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != 2_000_000 {
				b.Fatalf("%d records, want 2,000,000", n)
			}
			b.ReportMetric((processCPU(b) - start).Seconds(), "cpu-s")
		}
		b.ReportMetric(float64(size)/(1<<20), "file-MiB")
	})
	b.Run("hold", func(b *testing.B) {
		for b.Loop() {
			recs := make([]store.Record, 0, 2_000_000)
			if _, err := s.Snapshot(ctx, func(r store.Record) error { recs = append(recs, r); return nil }); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var ms runtimeMem
			ms.read()
			b.ReportMetric(float64(ms.heap)/(1<<20), "heap-MiB")
			recs = recs[:0]
			b.StartTimer()
		}
	})
}

// build2M writes the 2,000,000 records through the store, in batches of
// store.MaxBatch.
func build2M(b *testing.B, path string) {
	s, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	for _, w := range []workload{workloads[1], workloads[3]} {
		for i := 0; i < 1_000_000; i += store.MaxBatch {
			write(b, s, w.batch(i, store.MaxBatch)...)
		}
	}
	b.Logf("built 2,000,000 records in %v", time.Since(start).Round(time.Millisecond))
}

// runtimeMem is the live heap after a collection.
type runtimeMem struct{ heap uint64 }

func (m *runtimeMem) read() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = ms.HeapAlloc
}
