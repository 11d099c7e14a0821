//go:build cgo && sqlitedriver

package sqlitedriver

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" (cgo)
	_ "modernc.org/sqlite"          // registers "sqlite" (pure Go)

	"github.com/warden-authz/warden/audit"
	wsqlite "github.com/warden-authz/warden/audit/sqlite"
)

// insertSQL is audit/sqlite's insert statement.
const insertSQL = `INSERT INTO events (
	id, time_ns, subject, action, resource, allowed, status,
	rule, reason, latency_ns, policy_version, revision, error, fields
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// drivers open a store's file with the store's writer settings, each in
// its driver's own DSN syntax.
var drivers = []struct {
	name string
	open func(path string) (*sql.DB, error)
}{
	{"modernc", func(path string) (*sql.DB, error) {
		return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate&_journal_mode=WAL"+
			"&_pragma=synchronous(FULL)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(10000)&_pragma=journal_size_limit(67108864)")
	}},
	{"mattn-cgo", func(path string) (*sql.DB, error) {
		db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_txlock=immediate&_journal_mode=WAL&_synchronous=FULL&_cache_size=-65536")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		for _, p := range []string{"PRAGMA wal_autocheckpoint=10000", "PRAGMA journal_size_limit=67108864"} {
			if _, err := db.Exec(p); err != nil {
				db.Close()
				return nil, err
			}
		}
		return db, nil
	}},
}

// newFile creates an audit database with warden's own store, so the
// schema, indexes and file settings are exactly the store's.
func newFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "audit.db")
	s, err := wsqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// row is one event as the insert's arguments, like serve's events: a
// 71-character policy version, a store revision, a reason of about 50
// bytes, no fields.
func row(i, subjects int) []any {
	id, err := audit.NewID()
	if err != nil {
		panic(err)
	}
	return []any{id, time.Now().UnixNano(), fmt.Sprintf("user%d", i%subjects), "read", fmt.Sprintf("doc:%d", i%1024),
		int64(1), "allowed", "read:allow:0", "allowed: alice is in staff, doc:1 matches docs", int64(3000),
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", int64(4711), "", nil}
}

// insert writes rows in one transaction, as the store does a batch.
func insert(db *sql.DB, stmt *sql.Stmt, rows [][]any) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st := tx.Stmt(stmt)
	for _, r := range rows {
		if _, err := st.Exec(r...); err != nil {
			tx.Rollback() //nolint:errcheck // the insert error is the one to report
			return err
		}
	}
	return tx.Commit()
}

// TestSameSchema checks that rows each driver writes are events warden's
// store reads back, so the benchmark measures the store's real work.
func TestSameSchema(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			path := newFile(t)
			db, err := d.open(path)
			if err != nil {
				t.Fatal(err)
			}
			stmt, err := db.Prepare(insertSQL)
			if err != nil {
				t.Fatal(err)
			}
			rows := make([][]any, 10)
			for i := range rows {
				rows[i] = row(i, 3)
			}
			if err := insert(db, stmt, rows); err != nil {
				t.Fatal(err)
			}
			stmt.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := wsqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Query(context.Background(), audit.Query{Subject: "user1", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[0].Resource != "doc:1" || got[0].Status != audit.StatusAllowed {
				t.Fatalf("the store reads back %+v, want the 3 events of user1", got)
			}
		})
	}
}

// BenchmarkInsert writes batches of 1,000 events, one committed and
// fsynced transaction each, and reports CPU time per event: with 3
// subjects (as in the serve load benchmark) and with 1,000 (every event of
// a batch its own subject, the worst case for the subject index).
func BenchmarkInsert(b *testing.B) {
	for _, d := range drivers {
		for _, subjects := range []int{3, 1000} {
			b.Run(fmt.Sprintf("%s/subjects=%d", d.name, subjects), func(b *testing.B) {
				db, err := d.open(newFile(b))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				stmt, err := db.Prepare(insertSQL)
				if err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
				const size = 1000
				rows := make([][]any, size)
				n := 0
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					for i := range rows {
						rows[i] = row(n+i, subjects)
					}
					n += size
					c0 := processCPU(b)
					b.StartTimer()
					if err := insert(db, stmt, rows); err != nil {
						b.Fatal(err)
					}
					cpu += processCPU(b) - c0
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
			})
		}
	}
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
