package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/postgres"
)

func TestMigrationFreshSchema(t *testing.T) {
	schema := newSchema(t)
	openSchema(t, schema)
	var v int
	if err := conn(t).QueryRow(context.Background(),
		"SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != postgres.SchemaVersion {
		t.Fatalf("schema_version is %d, want %d", v, postgres.SchemaVersion)
	}
	// Opening again leaves it alone.
	openSchema(t, schema)
	var n int
	if err := conn(t).QueryRow(context.Background(),
		"SELECT count(*) FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("schema_version has %d rows, want 1", n)
	}
}

func TestMigrationConcurrentOpens(t *testing.T) {
	schema := newSchema(t)
	d := dsn(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), d, &postgres.Options{Schema: schema})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
}

func TestMigrationNewerSchemaRefused(t *testing.T) {
	schema := newSchema(t)
	openSchema(t, schema)
	if _, err := conn(t).Exec(context.Background(),
		"UPDATE "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" SET version = $1", postgres.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(context.Background(), dsn(t), &postgres.Options{Schema: schema})
	if err == nil {
		s.Close()
		t.Fatal("Open of a schema newer than the code succeeded")
	}
	if !errors.Is(err, postgres.ErrNewerSchema) {
		t.Fatalf("Open: %v, want ErrNewerSchema", err)
	}
}

func TestConcurrentWriteBatch(t *testing.T) {
	s := open(t)
	const writers, batches, size = 8, 10, 50
	base := time.Date(2025, 6, 1, 23, 59, 0, 0, time.UTC) // batches cross midnight
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []string
	errs := make(chan error, writers)
	for w := range writers {
		var mine [][]audit.Event
		for b := range batches {
			var batch []audit.Event
			for i := range size {
				n := (w*batches+b)*size + i
				batch = append(batch, event(t, base.Add(time.Duration(n)*100*time.Millisecond), n))
			}
			mine = append(mine, batch)
		}
		wg.Go(func() {
			for _, batch := range mine {
				if err := s.WriteBatch(context.Background(), batch); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, e := range batch {
					all = append(all, e.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("WriteBatch: %v", err)
	}
	got, err := s.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, all) {
		t.Fatalf("got %d events, want %d (in id order)", len(ids), len(all))
	}
}

func TestDayPartitions(t *testing.T) {
	schema := newSchema(t)
	s := openSchema(t, schema)
	base := time.Date(2025, 12, 30, 12, 0, 0, 0, time.UTC)
	var batch []audit.Event
	for i := range 4 { // 2025-12-30 .. 2026-01-02
		batch = append(batch, event(t, base.AddDate(0, 0, i), i))
	}
	// Outside the day-partition window: the default partition.
	batch = append(batch, event(t, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), 9))
	if err := s.WriteBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Another batch on known days creates nothing new and works.
	if err := s.WriteBatch(context.Background(), []audit.Event{event(t, base.Add(time.Hour), 5)}); err != nil {
		t.Fatal(err)
	}
	c := conn(t)
	rows, err := c.Query(context.Background(), `
		SELECT p.relname, (SELECT count(*) FROM `+pgx.Identifier{schema, "events"}.Sanitize()+` e WHERE e.tableoid = p.oid)
		FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY p.relname`, pgx.Identifier{schema, "events"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var name string
		var n int
		err := r.Scan(&name, &n)
		return fmt.Sprintf("%s=%d", name, n), err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"events_default=1", "events_p20251230=2", "events_p20251231=1", "events_p20260101=1", "events_p20260102=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("partitions and their rows:\n got  %v\n want %v", got, want)
	}
	all, err := s.Query(context.Background(), audit.Query{Since: base, Until: base.AddDate(0, 0, 2), Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("query over two days: %d events, want 3", len(all))
	}
}

func TestHostileRefused(t *testing.T) {
	s := open(t)
	tm := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		set  func(e *audit.Event)
	}{
		// Only the id, the key and cursor, must be text PostgreSQL holds;
		// every other string is escaped (TestEscapedStored).
		{"nul-id", func(e *audit.Event) { e.ID += "\x00" }},
		{"invalid-utf8-id", func(e *audit.Event) { e.ID += "\xff" }},
		{"empty-id", func(e *audit.Event) { e.ID = "" }},
		// bigint holds up to MaxInt64; no store counts further.
		{"revision-over-bigint", func(e *audit.Event) { e.Revision = math.MaxInt64 + 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := event(t, tm, 1)
			c.set(&e)
			orig := e
			if err := s.Record(context.Background(), &e); !errors.Is(err, audit.ErrRefused) {
				t.Errorf("Record: %v, want an error wrapping audit.ErrRefused", err)
			}
			if err := s.WriteBatch(context.Background(), []audit.Event{event(t, tm, 2), e}); !errors.Is(err, audit.ErrRefused) {
				t.Errorf("WriteBatch: %v, want an error wrapping audit.ErrRefused", err)
			}
			if e.ID != orig.ID || e.Subject != orig.Subject || e.Reason != orig.Reason {
				t.Error("the event was altered")
			}
		})
	}
	got, err := s.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("%d events stored, want none (a refused batch stores nothing)", len(got))
	}
	// Querying by a string no stored event holds finds nothing, no error.
	if got, err := s.Query(context.Background(), audit.Query{Subject: "a\x00b", After: "\xff"}); err != nil || len(got) != 0 {
		t.Fatalf("Query(NUL subject) = %d events, %v", len(got), err)
	}
}

// TestEscapedStored: NUL, invalid UTF-8 and backslashes in any string but
// the id are stored (escaped), read back identical, and found by subject
// and by resource prefix; the error event of a subject holding a NUL is
// not dropped.
func TestEscapedStored(t *testing.T) {
	s := open(t)
	tm := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	strs := []string{"a\x00b", "doc:\xff", "\xc3(", `back\slash`, `\x00 literal`, "\\\x00", "ok"}
	var want []audit.Event
	for i, v := range strs {
		e := event(t, tm.Add(time.Duration(i)*time.Second), i)
		e.Subject, e.Action, e.Resource, e.Rule, e.Reason, e.PolicyVersion, e.Error = v, v, "doc:"+v, v, v, v, v
		e.Status = audit.StatusError
		e.Fields = map[string]any{v: v}
		want = append(want, e)
	}
	if err := s.WriteBatch(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events stored, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Subject != want[i].Subject || got[i].Resource != want[i].Resource || got[i].Error != want[i].Error || got[i].Fields[strs[i]] != strs[i] {
			t.Errorf("event %d: stored %+v, want %+v", i, got[i], want[i])
		}
		bySubject, err := s.Query(context.Background(), audit.Query{Subject: strs[i]})
		if err != nil || len(bySubject) != 1 || bySubject[0].ID != want[i].ID {
			t.Errorf("Query(Subject: %q) = %d events, %v", strs[i], len(bySubject), err)
		}
	}
	// A backslash in a prefix is escaped like the column.
	if got, err := s.Query(context.Background(), audit.Query{Resource: `doc:back\*`}); err != nil || len(got) != 1 {
		t.Errorf(`Query(Resource: doc:back\*) = %d events, %v; want 1`, len(got), err)
	}
}

func TestDuplicateRefused(t *testing.T) {
	s := open(t)
	e := event(t, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 1)
	if err := s.Record(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(context.Background(), &e); !errors.Is(err, audit.ErrRefused) {
		t.Fatalf("second Record of the same event: %v, want audit.ErrRefused", err)
	}
}

func TestNanosecondsAndUnicodePrefix(t *testing.T) {
	s := open(t)
	tm := time.Date(2025, 3, 1, 0, 0, 0, 123456789, time.UTC)
	a := event(t, tm, 0)
	a.Resource = "dóc:\U0010FFFF:1"
	b := event(t, tm.Add(1), 1)
	b.Resource = "dóc:\U0010FFFFx"
	c := event(t, tm.Add(2), 2)
	c.Resource = "dód:1"
	if err := s.WriteBatch(context.Background(), []audit.Event{a, b, c}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), audit.Query{Since: tm.Add(1), Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Time.Equal(tm.Add(1)) || got[0].ID != b.ID {
		t.Fatalf("Since with nanoseconds: got %v", got)
	}
	got, err = s.Query(context.Background(), audit.Query{Resource: "dóc:*", Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Fatalf("Resource dóc:* got %d events, want a and b", len(got))
	}
}

// Times far from now, with nanoseconds, come back as the same instant.
func TestTimeRoundTrip(t *testing.T) {
	s := open(t)
	times := []time.Time{
		{},
		time.Date(-100, 5, 6, 7, 8, 9, 987654321, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2025, 3, 1, 0, 0, 0, 1, time.FixedZone("x", 3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	var batch []audit.Event
	for i, tm := range times {
		batch = append(batch, event(t, tm, i))
	}
	if err := s.WriteBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(times) {
		t.Fatalf("got %d events, want %d", len(got), len(times))
	}
	for i := range got {
		if !got[i].Time.Equal(batch[i].Time) || got[i].Time.Location() != time.UTC {
			t.Errorf("event %d: time %v, want %v in UTC", i, got[i].Time, batch[i].Time)
		}
	}
}
