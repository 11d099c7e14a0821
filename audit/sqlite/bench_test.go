package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/sqlite"
)

// benchEvent is a realistic event, about 250 bytes with two fields, from
// subject number subject.
func benchEvent(b *testing.B, i, subject int) audit.Event {
	id, err := audit.NewID()
	if err != nil {
		b.Fatal(err)
	}
	status := audit.StatusAllowed
	if i%10 == 0 {
		status = audit.StatusDenied
	}
	return audit.Event{
		ID:            id,
		Time:          t0.Add(time.Duration(i) * time.Second),
		Subject:       fmt.Sprintf("user%d@example.com", subject),
		Action:        "read",
		Resource:      fmt.Sprintf("articles:animals:%d", i%5000),
		Allowed:       status == audit.StatusAllowed,
		Status:        status,
		Rule:          "allow-readers",
		Reason:        "allowed by rule allow-readers",
		Latency:       3 * time.Microsecond,
		PolicyVersion: "v42",
		Fields:        map[string]any{"request_id": fmt.Sprintf("req-%d", i), "ip": "192.0.2.7"},
	}
}

// BenchmarkWriteBatch writes batches of 1,000 events, each batch one
// committed, fsynced transaction, and reports events/s. The subjects'
// distribution matters: the (subject, id) index costs about one page
// write per distinct subject in a batch.
//
//   - distinct: 1,000 subjects in turn, so every event of a batch has its
//     own subject: the worst case.
//   - zipf: subjects drawn from a Zipf distribution (s=1.2) over 100,000
//     users, a few busy and a long tail, as real traffic tends to be.
//
// Each runs with the shipped schema (indexes=all) and without the
// (resource, id) index (indexes=no-resource), which serves resource
// queries ("doc:*") and is the newest of the four B-trees each insert
// writes: the pair says what that index costs a write.
func BenchmarkWriteBatch(b *testing.B) {
	for _, dist := range []struct {
		name    string
		subject func() func(i int) int
	}{
		{"distinct", func() func(int) int { return func(i int) int { return i % 1000 } }},
		{"zipf", zipfSubjects},
	} {
		for _, idx := range []string{"all", "no-resource"} {
			b.Run(dist.name+"/indexes="+idx, func(b *testing.B) {
				s := openBench(b, idx == "all")
				benchBatches(b, s, 1000, dist.subject())
			})
		}
	}
}

// BenchmarkCommitSize writes batches of 1 to 1,000 events (zipf subjects,
// the shipped schema): what a commit costs on its own, whatever it holds
// (its fsync, and a page of each B-tree it touches), against what each
// event adds. `serve --audit-required` commits whatever its waiting
// requests queued, so its batches are about as large as the number of
// clients waiting.
func BenchmarkCommitSize(b *testing.B) {
	for _, size := range []int{1, 4, 16, 64, 256, 1000} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			benchBatches(b, openBench(b, true), size, zipfSubjects())
		})
	}
}

// zipfSubjects draws subjects from a Zipf distribution (s=1.2) over
// 100,000 users, the same sequence each time.
func zipfSubjects() func(int) int {
	z := rand.NewZipf(rand.New(rand.NewSource(1)), 1.2, 1, 99_999)
	return func(int) int { return int(z.Uint64()) }
}

// openBench opens a new store; without withResource, with the (resource,
// id) index dropped, as a schema that had never made it.
func openBench(b *testing.B, withResource bool) *sqlite.Store {
	path := filepath.Join(b.TempDir(), "audit.db")
	if !withResource {
		s, err := sqlite.Open(path) // creates the schema
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec("DROP INDEX events_resource_id"); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return openAt(b, path)
}

// benchBatches writes batches of size events from subject(i) and reports
// events/s, the process's CPU time per event, and the wall-clock time of
// a commit.
func benchBatches(b *testing.B, s *sqlite.Store, size int, subject func(int) int) {
	first := prefill(b, s, subject) // events are numbered on from the prefill's
	n, batches := first, 0
	var wrote int64
	batch := make([]audit.Event, size)
	var elapsed, cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		// Building events is the caller's work, not the store's.
		b.StopTimer()
		for i := range batch {
			batch[i] = benchEvent(b, n, subject(n))
			n++
		}
		start, cpu0, w0 := time.Now(), processCPU(b), written()
		b.StartTimer()
		if err := s.WriteBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		cpu += processCPU(b) - cpu0
		wrote += written() - w0
		batches++
	}
	timed := float64(n - first)
	b.ReportMetric(timed/elapsed.Seconds(), "events/s")
	// CPU time per event is what a shared machine's noise does not move:
	// it bounds events/s at 1e9/cpu-ns on one core, since SQLite writes
	// from one connection.
	b.ReportMetric(float64(cpu.Nanoseconds())/timed, "cpu-ns/event")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(batches), "µs/commit")
	// What the commits wrote (the log's pages, and checkpoints into the
	// database file): an index whose keys a batch scatters dirties a page
	// per key, and each dirty page is written whole, 4 KiB, at commit.
	if wrote >= 0 {
		b.ReportMetric(float64(wrote)/timed, "written-B/event")
	}
}

// prefill writes WARDEN_SQLITE_BENCH_EVENTS events (0 if unset) into s
// before the timed batches, from the same subjects, in batches of 10,000,
// and returns how many. A store's write cost grows with what it holds
// (the indexes' keys spread over more pages, so a batch dirties more of
// them) until it levels off; a store in service holds millions.
func prefill(b *testing.B, s *sqlite.Store, subject func(int) int) int {
	v := os.Getenv("WARDEN_SQLITE_BENCH_EVENTS")
	if v == "" {
		return 0
	}
	total, err := strconv.Atoi(v)
	if err != nil || total < 0 {
		b.Fatalf("WARDEN_SQLITE_BENCH_EVENTS=%q: want a number of events", v)
	}
	batch := make([]audit.Event, 0, 10_000)
	for n := 0; n < total; {
		batch = batch[:0]
		for ; n < total && len(batch) < cap(batch); n++ {
			batch = append(batch, benchEvent(b, n, subject(n)))
		}
		if err := s.WriteBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	return total
}

// written is the bytes this process has passed to write system calls
// (wchar in /proc/self/io), or a negative number where that is not known.
func written() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1 << 62
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1 << 62
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The query benchmarks share one database of a million events, built once
// per test binary run with large batches (10,000 events a transaction) and
// removed by TestMain.
const (
	bigTotal    = 1_000_000
	bigSubjects = 1000
)

var big struct {
	once  sync.Once
	dir   string
	store *sqlite.Store
	err   error
}

// bigStore returns the shared million-event store, building it on first
// use: event i has subject i%1000, resource articles:animals:(i%5000), is
// denied when i%10 == 0, and happened at t0 + i seconds.
func bigStore(b *testing.B) *sqlite.Store {
	big.once.Do(func() {
		start := time.Now()
		big.dir, big.err = os.MkdirTemp("", "warden-audit-sqlite-bench-")
		if big.err != nil {
			return
		}
		big.store, big.err = sqlite.Open(filepath.Join(big.dir, "audit.db"))
		if big.err != nil {
			return
		}
		const batch = 10_000
		evs := make([]audit.Event, batch)
		for n := 0; n < bigTotal; n += batch {
			for i := range evs {
				evs[i] = benchEvent(b, n+i, (n+i)%bigSubjects)
			}
			if big.err = big.store.WriteBatch(context.Background(), evs); big.err != nil {
				return
			}
		}
		b.Logf("built %d events in %v", bigTotal, time.Since(start).Round(time.Millisecond))
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	return big.store
}

func TestMain(m *testing.M) {
	code := m.Run()
	if big.store != nil {
		big.store.Close()
	}
	if big.dir != "" {
		os.RemoveAll(big.dir)
	}
	os.Exit(code)
}

// benchQuery runs q against the million events, varying the subject when
// q has one so that no single subject's pages stay hot, and reports
// ms/query. want is the page size every query must return.
func benchQuery(b *testing.B, q audit.Query, want int) {
	s := bigStore(b)
	vary := q.Subject != ""
	got, err := s.Query(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	if len(got) != want {
		b.Fatalf("Query(%+v) found %d events, want %d", q, len(got), want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	queries := 0
	start := time.Now()
	for b.Loop() {
		if vary {
			q.Subject = fmt.Sprintf("user%d@example.com", queries%bigSubjects)
		}
		if _, err := s.Query(context.Background(), q); err != nil {
			b.Fatal(err)
		}
		queries++
	}
	b.ReportMetric(time.Since(start).Seconds()*1000/float64(queries), "ms/query")
}

// BenchmarkQuerySubjectTimeRange queries one subject's events in a time
// window, a page of 100, out of a million events from 1,000 subjects.
// Events are a second apart, so a subject has one every 1,000 seconds: the
// window of 300,000 seconds holds 300 of them.
func BenchmarkQuerySubjectTimeRange(b *testing.B) {
	benchQuery(b, audit.Query{
		Subject: "user123@example.com",
		Since:   t0.Add(400_000 * time.Second),
		Until:   t0.Add(700_000 * time.Second),
		Limit:   100,
	}, 100)
}

// BenchmarkQuery1M measures other query shapes on the same million events,
// for the record: the ones the indexes serve and the ones they do not.
func BenchmarkQuery1M(b *testing.B) {
	no := false
	cases := []struct {
		name string
		q    audit.Query
		want int
	}{
		{"Subject", audit.Query{Subject: "user7@example.com", Limit: 100}, 100},
		{"SubjectResourcePattern", audit.Query{Subject: "user7@example.com", Resource: "articles:animals:1*", Limit: 100}, 100},
		{"StatusDenied", audit.Query{Status: audit.StatusDenied, Limit: 100}, 100},
		{"Refused", audit.Query{Allowed: &no, Limit: 100}, 100},
		{"TimeRangeNarrow", audit.Query{Since: t0.Add(500_000 * time.Second), Until: t0.Add(500_100 * time.Second), Limit: 100}, 100},
		// 300,000 events in range: SQLite sorts them by id before the
		// first row (no index gives time and id order together).
		{"TimeRangeWide", audit.Query{Since: t0.Add(400_000 * time.Second), Until: t0.Add(700_000 * time.Second), Limit: 100}, 100},
		{"ResourcePatternCommon", audit.Query{Resource: "articles:*", Limit: 100}, 100},
		// Resources are not indexed: a page that is not full means reading
		// every row, in SQL (the prefix range), never in Go.
		{"ResourceLiteralScanAll", audit.Query{Resource: "articles:animals:4999", Limit: 1000}, 200},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) { benchQuery(b, tc.q, tc.want) })
	}
}
