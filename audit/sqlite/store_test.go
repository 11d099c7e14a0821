package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/sqlite"
)

func TestRoundTripEveryField(t *testing.T) {
	t.Parallel()
	full := audit.Event{
		ID:            newID(t),
		Time:          time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		Subject:       "alice",
		Action:        "write",
		Resource:      "articles:animals:42",
		Allowed:       false,
		Status:        audit.StatusDenied,
		Rule:          "deny-animals",
		Reason:        "denied by rule deny-animals",
		Latency:       1234567 * time.Nanosecond,
		PolicyVersion: "sha256:abc",
		Revision:      math.MaxInt64, // the largest INTEGER: no store counts further
		Error:         "",
		Fields: map[string]any{
			"request_id": "r-1",
			"int":        42,
			"big":        int64(math.MaxInt64),
			"float":      1.5,
			"bool":       true,
			"null":       nil,
			"list":       []any{1, "two", false},
			"object":     map[string]any{"k": "v", "n": -7},
			"html":       "<a href='x'>&</a>",
		},
	}
	// Fields come back as encoding/json decodes them, numbers as
	// json.Number so that none loses precision (MaxInt64 would as float64).
	fullBack := full
	fullBack.Fields = map[string]any{
		"request_id": "r-1",
		"int":        json.Number("42"),
		"big":        json.Number("9223372036854775807"),
		"float":      json.Number("1.5"),
		"bool":       true,
		"null":       nil,
		"list":       []any{json.Number("1"), "two", false},
		"object":     map[string]any{"k": "v", "n": json.Number("-7")},
		"html":       "<a href='x'>&</a>",
	}

	errorEvent := audit.Event{
		ID: newID(t), Time: t0, Subject: "bob", Action: "read", Resource: "",
		Status: audit.StatusError, Reason: "no actor", Error: "audit: no actor in context",
		Latency: -1, // stored as is, even if nonsense
	}
	emptyFields := event(t, 1)
	emptyFields.Fields = map[string]any{} // empty, not nil: stays empty
	minimal := audit.Event{ID: newID(t), Time: time.Unix(0, 0)}
	extremes := audit.Event{ID: newID(t), Time: time.Unix(0, math.MaxInt64), Latency: math.MinInt64}
	earliest := audit.Event{ID: newID(t), Time: time.Unix(0, math.MinInt64), Latency: math.MaxInt64}

	cases := []struct {
		name string
		in   audit.Event
		want audit.Event
	}{
		{"every field", full, fullBack},
		{"error event, empty resource", errorEvent, errorEvent},
		{"empty fields map", emptyFields, emptyFields},
		{"nil fields", event(t, 2), event(t, 2)},
		{"zero values but id and time", minimal, minimal},
		{"latest time", extremes, extremes},
		{"earliest time", earliest, earliest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			tc.want.ID = tc.in.ID
			if err := s.Record(context.Background(), &tc.in); err != nil {
				t.Fatalf("Record: %v", err)
			}
			got := all(t, s)
			if len(got) != 1 {
				t.Fatalf("stored %d events, want 1", len(got))
			}
			if d := cmp.Diff(tc.want, got[0]); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
			if got[0].Time.Location() != time.UTC {
				t.Errorf("time comes back in %v, want UTC", got[0].Time.Location())
			}
			if (tc.in.Fields == nil) != (got[0].Fields == nil) {
				t.Errorf("Fields nil = %v, want %v", got[0].Fields == nil, tc.in.Fields == nil)
			}
		})
	}
}

func TestRecordDoesNotKeepEvent(t *testing.T) {
	t.Parallel()
	s := open(t)
	e := event(t, 1)
	e.Fields = map[string]any{"k": "before"}
	if err := s.Record(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	e.Fields["k"] = "after"
	e.Subject = "mallory"
	got := all(t, s)
	if got[0].Subject != "user1" || got[0].Fields["k"] != "before" {
		t.Errorf("stored event changed with the caller's copy: %+v", got[0])
	}
}

func TestHostileStrings(t *testing.T) {
	t.Parallel()
	mb := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	values := []struct{ name, v string }{
		{"empty", ""},
		{"single quote", "O'Brien"},
		{"sql injection", "x'); DROP TABLE events; --"},
		{"double quotes", `"quoted" ""`},
		{"backslashes", `C:\path\to\%s`},
		{"like metacharacters", "100%_off\\%"},
		{"glob metacharacters", "a*b?c[d]"},
		{"newlines", "line1\nline2\r\nline3\r"},
		{"tab and controls", "a\tb\x01\x1b[31m"},
		{"nul inside", "before\x00after"},
		{"only nul", "\x00"},
		{"trailing nul", "abc\x00"},
		{"unicode", "日本語 ünïcödé 🙂 \u202e"},
		{"invalid utf8", "\xff\xfe\xc3"},
		{"replacement character", "\uFFFD"},
		{"escape-like text", `\ufffd \\ufffd \u0000`},
		{"line separators", "a\u2028b\u2029c"},
		{"html", "<script>&amp;</script>"},
		{"json", `{"a":[1,2,{"b":null}]}`},
		{"1 MiB", mb},
	}
	for i, tc := range values {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			v := tc.v
			e := audit.Event{
				ID:            fmt.Sprintf("%02d-%s", i, v), // ids are opaque strings
				Time:          t0,
				Subject:       v,
				Action:        v,
				Resource:      v,
				Allowed:       true,
				Status:        audit.Status(v),
				Rule:          v,
				Reason:        v,
				PolicyVersion: v,
				Error:         v,
				Fields:        map[string]any{"value": v, v: "as key", "list": []any{v}},
			}
			// Invalid UTF-8 is kept everywhere: the columns keep any
			// bytes, and Fields escape them reversibly (\udcXX).
			want := e
			if err := s.Record(context.Background(), &e); err != nil {
				t.Fatalf("Record: %v", err)
			}
			got := all(t, s)
			if len(got) != 1 {
				t.Fatalf("stored %d events, want 1", len(got))
			}
			if d := cmp.Diff(want, got[0]); d != "" {
				if len(d) > 2000 {
					d = d[:2000] + "..."
				}
				t.Errorf("round trip (-want +got):\n%s", d)
			}
			// The value also works as a bound query parameter.
			byValue, err := s.Query(context.Background(), audit.Query{Subject: v, After: ""})
			if err != nil {
				t.Fatalf("Query(Subject: value): %v", err)
			}
			if v != "" && len(byValue) != 1 {
				t.Errorf("Query(Subject: value) found %d events, want 1", len(byValue))
			}
			if v != "" && len(byValue) == 1 && byValue[0].Subject != v {
				t.Errorf("Query(Subject: value) found subject of %d bytes, want %d", len(byValue[0].Subject), len(v))
			}
			// And as a cursor: nothing sorts after the only id.
			after, err := s.Query(context.Background(), audit.Query{After: e.ID})
			if err != nil || len(after) != 0 {
				t.Errorf("Query(After: id) = %d events, %v; want none", len(after), err)
			}
		})
	}
}

func TestNULsAreDistinct(t *testing.T) {
	t.Parallel()
	// Strings that differ only after a NUL must stay different both as
	// keys and in comparisons: SQLite must not cut them at the NUL.
	s := open(t)
	a, b := event(t, 1), event(t, 2)
	a.ID, b.ID = "id\x00a", "id\x00b"
	a.Subject, b.Subject = "s\x00a", "s\x00b"
	write(t, s, []audit.Event{a, b})
	got, err := s.Query(context.Background(), audit.Query{Subject: "s\x00b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "id\x00b" {
		t.Errorf("Query(Subject: %q) = %q, want [%q]", "s\x00b", ids(got), "id\x00b")
	}
	got, err = s.Query(context.Background(), audit.Query{Subject: "s"})
	if err != nil || len(got) != 0 {
		t.Errorf("Query(Subject: %q) = %q, %v; want nothing", "s", ids(got), err)
	}
	got, err = s.Query(context.Background(), audit.Query{After: "id\x00a"})
	if err != nil || len(got) != 1 || got[0].ID != "id\x00b" {
		t.Errorf("Query(After: %q) = %q, %v; want [id\\x00b]", "id\x00a", ids(got), err)
	}
}

func TestInvalidEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*audit.Event)
	}{
		{"empty id", func(e *audit.Event) { e.ID = "" }},
		{"zero time", func(e *audit.Event) { e.Time = time.Time{} }},
		{"time before 1678", func(e *audit.Event) { e.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time after 2262", func(e *audit.Event) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"unencodable field", func(e *audit.Event) { e.Fields = map[string]any{"ch": make(chan int)} }},
		{"NaN field", func(e *audit.Event) { e.Fields = map[string]any{"x": math.NaN()} }},
		{"revision over MaxInt64", func(e *audit.Event) { e.Revision = math.MaxInt64 + 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			e := event(t, 1)
			tc.change(&e)
			err := s.Record(context.Background(), &e)
			if !errors.Is(err, sqlite.ErrInvalidEvent) || !errors.Is(err, audit.ErrRefused) {
				t.Errorf("Record = %v, want ErrInvalidEvent, which is audit.ErrRefused", err)
			}
			if n := len(all(t, s)); n != 0 {
				t.Errorf("%d events stored after a refused one", n)
			}
		})
	}
	t.Run("nil event", func(t *testing.T) {
		t.Parallel()
		if err := open(t).Record(context.Background(), nil); !errors.Is(err, sqlite.ErrInvalidEvent) {
			t.Errorf("Record(nil) = %v, want ErrInvalidEvent", err)
		}
	})
}

func TestBatchAtomicity(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		// refused: the error says retrying cannot help (audit.ErrRefused).
		refused bool
		// batch builds the failing batch; stored are the events already in
		// the store.
		batch func(t *testing.T, stored []audit.Event) []audit.Event
	}{
		{"duplicate id within the batch", context.Background(), true, func(t *testing.T, _ []audit.Event) []audit.Event {
			b := events(t, 100, 50)
			b[40].ID = b[10].ID
			return b
		}},
		{"id already stored", context.Background(), true, func(t *testing.T, stored []audit.Event) []audit.Event {
			b := events(t, 100, 50)
			b[49].ID = stored[0].ID // the last insert fails
			return b
		}},
		{"invalid event last", context.Background(), true, func(t *testing.T, _ []audit.Event) []audit.Event {
			b := events(t, 100, 50)
			b[49].ID = ""
			return b
		}},
		{"unencodable fields", context.Background(), true, func(t *testing.T, _ []audit.Event) []audit.Event {
			b := events(t, 100, 50)
			b[25].Fields = map[string]any{"f": func() {}}
			return b
		}},
		{"canceled context", canceled, false, func(t *testing.T, _ []audit.Event) []audit.Event {
			return events(t, 100, 50)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			stored := events(t, 0, 10)
			write(t, s, stored)
			err := s.WriteBatch(tc.ctx, tc.batch(t, stored))
			if err == nil {
				t.Fatal("WriteBatch succeeded, want an error")
			}
			if got := errors.Is(err, audit.ErrRefused); got != tc.refused {
				t.Errorf("WriteBatch = %v; is audit.ErrRefused: %v, want %v", err, got, tc.refused)
			}
			if d := diff(stored, all(t, s)); d != "" {
				t.Errorf("a failed batch changed the store (-want +got):\n%s", d)
			}
			// The store still works after the failure.
			more := events(t, 200, 5)
			write(t, s, more)
			if got := len(all(t, s)); got != 15 {
				t.Errorf("after a good batch: %d events, want 15", got)
			}
		})
	}
}

func TestEmptyBatch(t *testing.T) {
	t.Parallel()
	s := open(t)
	for _, b := range [][]audit.Event{nil, {}} {
		if err := s.WriteBatch(context.Background(), b); err != nil {
			t.Errorf("WriteBatch(%v) = %v", b, err)
		}
	}
}

func TestConcurrentWriteBatch(t *testing.T) {
	t.Parallel()
	s := open(t)
	const writers, batches, size = 8, 10, 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want []audit.Event
	)
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				evs := events(t, (w*batches+b)*size, size)
				if err := s.WriteBatch(context.Background(), evs); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				want = append(want, evs...)
				mu.Unlock()
			}
		})
	}
	// Readers run alongside: WAL lets them, and each sees whole batches.
	done := make(chan struct{})
	var rg sync.WaitGroup
	for range 2 {
		rg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := s.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
				if err != nil {
					errs <- err
					return
				}
				if len(got)%size != 0 {
					errs <- fmt.Errorf("a reader saw %d events, not whole batches of %d", len(got), size)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d := diff(byID(want), all(t, s)); d != "" {
		t.Errorf("stored events (-want +got):\n%s", d)
	}
	if len(want) != writers*batches*size {
		t.Errorf("%d events acknowledged, want %d", len(want), writers*batches*size)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := dbPath(t)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first := events(t, 0, 100)
	write(t, s, first)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.WriteBatch(context.Background(), events(t, 100, 1)); err == nil {
		t.Error("WriteBatch after Close succeeded")
	}

	s = openAt(t, path)
	if d := diff(first, all(t, s)); d != "" {
		t.Fatalf("after reopening (-want +got):\n%s", d)
	}
	second := events(t, 100, 100)
	write(t, s, second)
	if d := diff(append(first, second...), all(t, s)); d != "" {
		t.Errorf("writing after reopening (-want +got):\n%s", d)
	}
}

func TestPathWithURICharacters(t *testing.T) {
	t.Parallel()
	// '?', '#' and '%' would end or escape the path in an SQLite URI.
	path := t.TempDir() + "/odd ?name#with%20chars.db"
	s := openAt(t, path)
	write(t, s, events(t, 0, 3))
	if n := len(all(t, s)); n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	if v := pragma(t, path, "user_version"); v != sqlite.SchemaVersion {
		t.Errorf("the file at the literal path has user_version %d, want %d", v, sqlite.SchemaVersion)
	}
}

// rawDB opens path with the driver directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragma(t *testing.T, path, name string) int {
	t.Helper()
	db := rawDB(t, path)
	var v int
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	db.Close()
	return v
}

func setPragma(t *testing.T, path, name string, v int) {
	t.Helper()
	db := rawDB(t, path)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA %s = %d", name, v)); err != nil {
		t.Fatalf("PRAGMA %s = %d: %v", name, v, err)
	}
	db.Close()
}

// errAny stands for "some error" in tables of expected errors.
var errAny = errors.New("any error")

func TestMigrations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string) // before Open
		wantErr error
	}{
		{"fresh database", func(*testing.T, string) {}, nil},
		{"empty existing file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"another program's tables", func(t *testing.T, path string) {
			db := rawDB(t, path)
			if _, err := db.Exec("CREATE TABLE unrelated (x)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, sqlite.ErrNotAuditDB},
		{"another program's user_version", func(t *testing.T, path string) {
			setPragma(t, path, "user_version", 1)
		}, sqlite.ErrNotAuditDB},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("this is a text file, long enough to look like a header...............................................\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, errAny},
		{"current version", func(t *testing.T, path string) {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			write(t, s, events(t, 0, 3))
			s.Close()
		}, nil},
		{"newer version", func(t *testing.T, path string) {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			setPragma(t, path, "user_version", sqlite.SchemaVersion+1)
		}, sqlite.ErrNewerSchema},
		{"another application's file", func(t *testing.T, path string) {
			setPragma(t, path, "application_id", 0x12345678)
		}, sqlite.ErrNotAuditDB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := dbPath(t)
			tc.prepare(t, path)
			s, err := sqlite.Open(path)
			if tc.wantErr != nil {
				if err == nil {
					s.Close()
				}
				if tc.wantErr == errAny && err != nil {
					return
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			write(t, s, events(t, 10, 2))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if v := pragma(t, path, "user_version"); v != sqlite.SchemaVersion {
				t.Errorf("user_version = %d, want %d", v, sqlite.SchemaVersion)
			}
			var mode string
			if err := rawDB(t, path).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("journal_mode = %q, %v; want wal", mode, err)
			}
		})
	}
	t.Run("newer version is left untouched", func(t *testing.T) {
		t.Parallel()
		path := dbPath(t)
		s := openAt(t, path)
		write(t, s, events(t, 0, 3))
		s.Close()
		setPragma(t, path, "user_version", 99)
		if _, err := sqlite.Open(path); !errors.Is(err, sqlite.ErrNewerSchema) {
			t.Fatalf("Open = %v, want ErrNewerSchema", err)
		}
		if v := pragma(t, path, "user_version"); v != 99 {
			t.Errorf("user_version = %d after a refused Open, want 99", v)
		}
	})
}
