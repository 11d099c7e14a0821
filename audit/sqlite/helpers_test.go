package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/sqlite"
)

// Interface checks: the store is a batching sink and a querier.
var (
	_ audit.BatchSink = (*sqlite.Store)(nil)
	_ audit.Querier   = (*sqlite.Store)(nil)
)

// t0 is the time of the first test event; test events are a second apart.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// dbPath returns a fresh database path in the test's own directory.
func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "audit.db")
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// open opens a store in a fresh database.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	return openAt(t, dbPath(t))
}

// newID returns a fresh UUIDv7.
func newID(t testing.TB) string {
	t.Helper()
	id, err := audit.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// event returns a plain allowed event number i.
func event(t testing.TB, i int) audit.Event {
	return audit.Event{
		ID:       newID(t),
		Time:     t0.Add(time.Duration(i) * time.Second),
		Subject:  fmt.Sprintf("user%d", i%7),
		Action:   "read",
		Resource: fmt.Sprintf("articles:%d", i),
		Allowed:  true,
		Status:   audit.StatusAllowed,
		Rule:     "r1",
		Reason:   "allowed by r1",
		Latency:  time.Duration(i) * time.Microsecond,
	}
}

// events returns n events numbered from first.
func events(t testing.TB, first, n int) []audit.Event {
	out := make([]audit.Event, n)
	for i := range out {
		out[i] = event(t, first+i)
	}
	return out
}

func write(t testing.TB, s *sqlite.Store, evs []audit.Event) {
	t.Helper()
	if err := s.WriteBatch(context.Background(), evs); err != nil {
		t.Fatalf("WriteBatch(%d events): %v", len(evs), err)
	}
}

// all reads every event of the store, page by page through the cursor.
func all(t testing.TB, s *sqlite.Store) []audit.Event {
	t.Helper()
	var out []audit.Event
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		page, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("Query(%+v): %v", q, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		q.After = page[len(page)-1].ID
	}
}

// byID sorts events as the store returns them.
func byID(evs []audit.Event) []audit.Event {
	evs = slices.Clone(evs)
	slices.SortFunc(evs, func(a, b audit.Event) int { return strings.Compare(a.ID, b.ID) })
	return evs
}

// diff compares events; times compare as instants (time.Time.Equal), since
// the store returns them in UTC. Nil and empty result lists are equal, but
// nil and empty Fields are not: the store keeps the difference.
func diff(want, got []audit.Event) string {
	if len(want) == 0 && len(got) == 0 {
		return ""
	}
	return cmp.Diff(want, got)
}

func ids(evs []audit.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}
