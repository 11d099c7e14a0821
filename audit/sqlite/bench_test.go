package sqlite_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
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
func BenchmarkWriteBatch(b *testing.B) {
	for _, dist := range []struct {
		name    string
		subject func(i int) int
	}{
		{"distinct", func(i int) int { return i % 1000 }},
		{"zipf", func() func(int) int {
			z := rand.NewZipf(rand.New(rand.NewSource(1)), 1.2, 1, 99_999)
			return func(int) int { return int(z.Uint64()) }
		}()},
	} {
		b.Run(dist.name, func(b *testing.B) {
			s := open(b)
			const size = 1000
			n := 0
			batch := make([]audit.Event, size)
			var elapsed, cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				// Building events is the caller's work, not the store's.
				b.StopTimer()
				for i := range batch {
					batch[i] = benchEvent(b, n, dist.subject(n))
					n++
				}
				start, cpu0 := time.Now(), processCPU(b)
				b.StartTimer()
				if err := s.WriteBatch(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				cpu += processCPU(b) - cpu0
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			// CPU time per event is what a shared machine's noise does
			// not move: it bounds events/s at 1e9/cpu-ns on one core,
			// since SQLite writes from one connection.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
		})
	}
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
