package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/sqlite"
)

// corpus builds a store and, as the reference, an audit.Memory holding the
// same events: Memory.Query is the specification's filter applied to every
// event, so the store must return exactly what it returns.
func corpus(t *testing.T) (*sqlite.Store, *audit.Memory, []audit.Event) {
	t.Helper()
	subjects := []string{"alice", "bob", "carol", "group:admins"}
	actions := []string{"read", "write", "delete", "setKeywords", "getAll", "listAll", "GET"}
	resources := []string{
		"articles:1", "articles:2", "articles:animals:42", "articles:animals:cats:7",
		"articles;x", // sorts right after the "articles:" range
		"articles",   // a prefix of the range, but not in it
		"users", "users:g1:42", "users:g2",
		"test:set:name", "test:get:name", "test:set:other",
		"", // no particular resource
		"docs:é", "docs:è", "docs:e", "docs:éa",
		"r:\x00nul", "r:quote'", "r:100%",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var evs []audit.Event
	for i := range 600 {
		e := event(t, i)
		e.Subject = subjects[rng.IntN(len(subjects))]
		e.Action = actions[rng.IntN(len(actions))]
		e.Resource = resources[rng.IntN(len(resources))]
		switch rng.IntN(3) {
		case 0:
			e.Allowed, e.Status = true, audit.StatusAllowed
		case 1:
			e.Allowed, e.Status = false, audit.StatusDenied
		case 2:
			e.Allowed, e.Status = false, audit.StatusError
		}
		evs = append(evs, e)
	}
	s := open(t)
	mem := &audit.Memory{}
	// Several batches, not in id order: the store must sort.
	for i := 0; i < len(evs); i += 100 {
		batch := evs[i:min(i+100, len(evs))]
		rng.Shuffle(len(batch), func(a, b int) { batch[a], batch[b] = batch[b], batch[a] })
		write(t, s, batch)
		for j := range batch {
			mem.Record(context.Background(), &batch[j])
		}
	}
	return s, mem, evs
}

func TestQueryMatchesReference(t *testing.T) {
	t.Parallel()
	s, mem, evs := corpus(t)
	yes, no := true, false
	mid := byID(evs)[300].ID
	cases := []struct {
		name string
		q    audit.Query
		min  int // the reference must find at least this many, so the case tests something
	}{
		{"everything", audit.Query{Limit: audit.MaxLimit}, 600},
		{"default limit", audit.Query{}, 100},
		{"limit 1", audit.Query{Limit: 1}, 1},
		// Each filter alone.
		{"subject", audit.Query{Subject: "alice", Limit: 1000}, 100},
		{"subject with colon", audit.Query{Subject: "group:admins", Limit: 1000}, 100},
		{"unknown subject", audit.Query{Subject: "zed"}, 0},
		{"status allowed", audit.Query{Status: audit.StatusAllowed, Limit: 1000}, 100},
		{"status denied", audit.Query{Status: audit.StatusDenied, Limit: 1000}, 100},
		{"status error", audit.Query{Status: audit.StatusError, Limit: 1000}, 100},
		{"allowed", audit.Query{Allowed: &yes, Limit: 1000}, 100},
		{"refused", audit.Query{Allowed: &no, Limit: 1000}, 300},
		{"since", audit.Query{Since: t0.Add(500 * time.Second), Limit: 1000}, 100},
		{"since inclusive", audit.Query{Since: t0.Add(599 * time.Second)}, 1},
		{"until", audit.Query{Until: t0.Add(100 * time.Second), Limit: 1000}, 100},
		{"until exclusive", audit.Query{Until: t0.Add(time.Second)}, 1},
		{"since and until", audit.Query{Since: t0.Add(100 * time.Second), Until: t0.Add(200 * time.Second), Limit: 1000}, 100},
		{"one nanosecond window", audit.Query{Since: t0.Add(7 * time.Second), Until: t0.Add(7*time.Second + 1)}, 1},
		{"empty window", audit.Query{Since: t0.Add(7 * time.Second), Until: t0.Add(7 * time.Second)}, 0},
		{"since in another zone", audit.Query{Since: t0.Add(590 * time.Second).In(time.FixedZone("X", -7*3600))}, 10},
		{"since before 1678", audit.Query{Since: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000}, 600},
		{"until after 2262", audit.Query{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000}, 600},
		{"since after 2262", audit.Query{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		{"until before 1678", audit.Query{Until: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		{"after", audit.Query{After: mid, Limit: 1000}, 299},
		{"after everything", audit.Query{After: "~"}, 0},
		// Action patterns.
		{"action literal", audit.Query{Action: "read", Limit: 1000}, 50},
		{"action alternatives", audit.Query{Action: "read,write", Limit: 1000}, 100},
		{"action glob", audit.Query{Action: "set*", Limit: 1000}, 50},
		{"action suffix glob", audit.Query{Action: "*All", Limit: 1000}, 100},
		{"action glob alternatives", audit.Query{Action: "get*,list*", Limit: 1000}, 100},
		{"action alternatives with common prefix", audit.Query{Action: "getAll,GET", Limit: 1000}, 100},
		{"action repeated alternative", audit.Query{Action: "read,read", Limit: 1000}, 50},
		{"action case matters", audit.Query{Action: "get", Limit: 1000}, 0},
		{"action match-all", audit.Query{Action: "*", Limit: 1000}, 600},
		// Resource patterns.
		{"resource match-all includes empty", audit.Query{Resource: "*", Limit: 1000}, 600},
		{"resource literal", audit.Query{Resource: "articles:1", Limit: 1000}, 20},
		{"resource literal no segments", audit.Query{Resource: "users", Limit: 1000}, 20},
		{"resource trailing star", audit.Query{Resource: "articles:*", Limit: 1000}, 100},
		{"resource trailing star deep", audit.Query{Resource: "articles:animals:*", Limit: 1000}, 40},
		{"resource trailing star needs a segment", audit.Query{Resource: "users:*", Limit: 1000}, 40},
		{"resource middle star", audit.Query{Resource: "test:*:name", Limit: 1000}, 40},
		{"resource leading star", audit.Query{Resource: "*:animals:*", Limit: 1000}, 40},
		{"resource glob segment", audit.Query{Resource: "test:s*t:*", Limit: 1000}, 40},
		{"resource alternatives", audit.Query{Resource: "articles:1,2", Limit: 1000}, 40},
		{"resource alternatives first segment", audit.Query{Resource: "articles,users:*", Limit: 1000}, 100},
		{"resource unicode literal", audit.Query{Resource: "docs:é", Limit: 1000}, 20},
		{"resource unicode glob", audit.Query{Resource: "docs:é*", Limit: 1000}, 40},
		{"resource alternatives split a rune", audit.Query{Resource: "docs:é*,è", Limit: 1000}, 60},
		{"resource no match", audit.Query{Resource: "nothing:*"}, 0},
		// Combined.
		{"subject and status", audit.Query{Subject: "bob", Status: audit.StatusDenied, Limit: 1000}, 20},
		{"subject and time", audit.Query{Subject: "bob", Since: t0.Add(100 * time.Second), Until: t0.Add(400 * time.Second), Limit: 1000}, 40},
		{"subject, action, resource", audit.Query{Subject: "carol", Action: "read,write", Resource: "articles:*", Limit: 1000}, 5},
		{"everything at once", audit.Query{
			Subject: "alice", Action: "*", Resource: "articles:*", Status: audit.StatusAllowed, Allowed: &yes,
			Since: t0.Add(10 * time.Second), Until: t0.Add(590 * time.Second), After: byID(evs)[5].ID, Limit: 1000,
		}, 5},
		{"time and pattern", audit.Query{Since: t0.Add(100 * time.Second), Until: t0.Add(400 * time.Second), Resource: "articles:*", Limit: 1000}, 50},
		{"time, pattern, cursor, small page", audit.Query{Since: t0.Add(100 * time.Second), Until: t0.Add(400 * time.Second), Resource: "test:*:name", After: mid, Limit: 5}, 5},
		{"time, refused, small page", audit.Query{Since: t0.Add(100 * time.Second), Until: t0.Add(400 * time.Second), Allowed: &no, Limit: 7}, 7},
		{"contradiction", audit.Query{Status: audit.StatusAllowed, Allowed: &no}, 0},
		{"pattern with small limit", audit.Query{Resource: "test:*:name", Limit: 3}, 3},
		{"pattern and cursor", audit.Query{Resource: "articles:*", After: mid, Limit: 7}, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := mem.Query(context.Background(), tc.q)
			if err != nil {
				t.Fatalf("reference Query: %v", err)
			}
			if len(want) < tc.min {
				t.Fatalf("the reference finds %d events, the case expects at least %d: the corpus changed", len(want), tc.min)
			}
			got, err := s.Query(context.Background(), tc.q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("Query(%+v) (-reference +store):\n%s", tc.q, d)
			}
		})
	}
}

func TestQueryPatternSemantics(t *testing.T) {
	t.Parallel()
	// Hand-written expectations, independent of the reference: the names
	// each pattern selects out of a fixed set.
	names := []string{
		"articles", "articles:1", "articles:animals:42", "articles;x", "articlesX",
		"users", "users:a", "users:g:sg:1", "test:set:name", "test:setX:name", "test:set:x:name",
		"docs:é", "docs:è", "docs:e",
	}
	s := open(t)
	var evs []audit.Event
	for i, n := range names {
		e := event(t, i)
		e.Resource, e.Action = n, n
		evs = append(evs, e)
	}
	write(t, s, evs)
	cases := []struct {
		pattern string
		want    []string
	}{
		{"articles:*", []string{"articles:1", "articles:animals:42"}},
		{"articles", []string{"articles"}},
		{"articles*", []string{"articles", "articles;x", "articlesX"}}, // ";" is no separator
		{"users:*", []string{"users:a", "users:g:sg:1"}},
		{"test:*:name", []string{"test:set:name", "test:setX:name"}},
		{"test:set*:name", []string{"test:set:name", "test:setX:name"}},
		{"*:*:name", []string{"test:set:name", "test:setX:name"}},
		{"docs:é,è", []string{"docs:é", "docs:è"}},
		{"docs:*", []string{"docs:é", "docs:è", "docs:e"}},
		{"*", names},
	}
	for _, tc := range cases {
		for _, field := range []string{"resource", "action"} {
			t.Run(field+" "+tc.pattern, func(t *testing.T) {
				t.Parallel()
				q := audit.Query{Resource: tc.pattern}
				if field == "action" {
					q = audit.Query{Action: tc.pattern}
				}
				got, err := s.Query(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				var gotNames []string
				for _, e := range got {
					gotNames = append(gotNames, e.Resource)
				}
				if strings.Join(gotNames, "|") != strings.Join(tc.want, "|") {
					t.Errorf("%s %q selects %q, want %q", field, tc.pattern, gotNames, tc.want)
				}
			})
		}
	}
}

func TestQueryPagesThroughEverything(t *testing.T) {
	t.Parallel()
	s := open(t)
	var want []audit.Event
	for b := range 5 {
		evs := events(t, b*500, 500)
		write(t, s, evs)
		want = append(want, evs...)
	}
	want = byID(want)

	cases := []struct {
		name  string
		q     audit.Query
		pages []int
	}{
		{"no filter", audit.Query{Limit: 1000}, []int{1000, 1000, 500}},
		// The pattern cannot be decided in SQL, so pages stream.
		{"pattern", audit.Query{Resource: "articles:*", Limit: 1000}, []int{1000, 1000, 500}},
		{"glob without prefix", audit.Query{Resource: "*:*", Limit: 1000}, []int{1000, 1000, 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []audit.Event
			var sizes []int
			q := tc.q
			for {
				page, err := s.Query(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				sizes = append(sizes, len(page))
				got = append(got, page...)
				q.After = page[len(page)-1].ID
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.pages) {
				t.Errorf("page sizes %v, want %v", sizes, tc.pages)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("paging (-want +got):\n%s", d)
			}
		})
	}
}

func TestQuerySelectivePatternFillsPage(t *testing.T) {
	t.Parallel()
	s := open(t)
	var evs []audit.Event
	for i := range 5000 {
		e := event(t, i)
		e.Resource = fmt.Sprintf("doc:%d:v", i)
		evs = append(evs, e)
	}
	write(t, s, evs)
	cases := []struct {
		name, pattern string
		matches       func(i int) bool
	}{
		// A prefix narrows SQL only to "doc:", nearly everything.
		{"glob after a prefix", "doc:*77:v", func(i int) bool { return strings.HasSuffix(fmt.Sprint(i), "77") }},
		// No literal prefix at all: SQL reads every row.
		{"no prefix", "*:*77:*", func(i int) bool { return strings.HasSuffix(fmt.Sprint(i), "77") }},
		{"rare match", "*:4999:*", func(i int) bool { return i == 4999 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []audit.Event
			for i, e := range evs {
				if tc.matches(i) {
					want = append(want, e)
				}
			}
			want = byID(want)
			const limit = 20
			got, err := s.Query(context.Background(), audit.Query{Resource: tc.pattern, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(want[:min(limit, len(want))], got); d != "" {
				t.Errorf("Query(Resource: %q) (-want +got):\n%s", tc.pattern, d)
			}
		})
	}
}

func TestQueryInvalid(t *testing.T) {
	t.Parallel()
	s := open(t)
	write(t, s, events(t, 0, 3))
	cases := []struct {
		name string
		q    audit.Query
	}{
		{"limit -1", audit.Query{Limit: -1}},
		{"limit over max", audit.Query{Limit: audit.MaxLimit + 1}},
		{"empty segment", audit.Query{Resource: "a::b"}},
		{"trailing colon", audit.Query{Action: "a:"}},
		{"empty alternative", audit.Query{Resource: "a,"}},
		{"whitespace", audit.Query{Resource: "a b"}},
		{"braces", audit.Query{Action: "{a,b}"}},
		{"unknown status", audit.Query{Status: "maybe"}},
		{"sql in a pattern", audit.Query{Resource: "x' OR '1'='1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := s.Query(context.Background(), tc.q); err == nil {
				t.Errorf("Query(%+v) = %d events, want an error", tc.q, len(got))
			}
		})
	}
	t.Run("limit 0 means the default", func(t *testing.T) {
		t.Parallel()
		// audit.Query documents Limit 0 as DefaultLimit, so it is valid.
		if _, err := s.Query(context.Background(), audit.Query{Limit: 0}); err != nil {
			t.Errorf("Query(Limit: 0) = %v", err)
		}
	})
}

func TestQueryCanceled(t *testing.T) {
	t.Parallel()
	s := open(t)
	write(t, s, events(t, 0, 10))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Query(ctx, audit.Query{}); err == nil {
		t.Error("Query with a canceled context succeeded")
	}
}
