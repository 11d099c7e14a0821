package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/pattern"
)

// TestQueryPlans pins the indexes the common queries use, so a schema or
// query change that falls back to a full scan or a sort shows up here
// rather than as a slow audit log. It is an internal test because it needs
// the SQL that Query builds.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	since, until := time.Unix(100, 0), time.Unix(1000, 0)
	cases := []struct {
		name string
		q    audit.Query
		want string // what EXPLAIN QUERY PLAN says, steps joined by "; "
	}{
		{"everything", audit.Query{}, "SCAN events"},
		{"cursor", audit.Query{After: "x"}, "SEARCH events USING PRIMARY KEY (id>?)"},
		{"subject", audit.Query{Subject: "u"}, "SEARCH events USING INDEX events_subject_id (subject=?)"},
		{"subject and cursor", audit.Query{Subject: "u", After: "x"}, "SEARCH events USING INDEX events_subject_id (subject=? AND id>?)"},
		{"subject and time", audit.Query{Subject: "u", Since: since, Until: until}, "SEARCH events USING INDEX events_subject_id (subject=?)"},
		{"subject and pattern", audit.Query{Subject: "u", Resource: "r:*"}, "SEARCH events USING INDEX events_subject_id (subject=?)"},
		{"status", audit.Query{Status: audit.StatusDenied}, "SEARCH events USING INDEX events_status_id (status=?)"},
		// Only ids are sorted (the index covers them), then the page's rows fetched.
		{"time", audit.Query{Since: since, Until: until}, "SEARCH events USING PRIMARY KEY (id=?); LIST SUBQUERY 1; SEARCH events USING COVERING INDEX events_time (time_ns>? AND time_ns<?); USE TEMP B-TREE FOR ORDER BY"},
		{"time and cursor", audit.Query{Since: since, Until: until, After: "x"}, "SEARCH events USING PRIMARY KEY (id=?); LIST SUBQUERY 1; SEARCH events USING COVERING INDEX events_time (time_ns>? AND time_ns<?); USE TEMP B-TREE FOR ORDER BY"},
		{"time and pattern", audit.Query{Since: since, Until: until, Resource: "r:*"}, "SEARCH events USING PRIMARY KEY (id=?); LIST SUBQUERY 1; SEARCH events USING INDEX events_time (time_ns>? AND time_ns<?); USE TEMP B-TREE FOR ORDER BY"},
		// One bound: the table in id order, stopping after a page.
		{"since", audit.Query{Since: since}, "SCAN events"},
		{"until and pattern", audit.Query{Until: until, Action: "get*"}, "SCAN events"},
		{"subject and time and cursor", audit.Query{Subject: "u", Since: since, After: "x"}, "SEARCH events USING INDEX events_subject_id (subject=? AND id>?)"},
		// Resources read events_resource_id: a literal in id order, a prefix
		// range by sorting only the ids it covers.
		{"resource literal", audit.Query{Resource: "r:1"}, "SEARCH events USING INDEX events_resource_id (resource=?)"},
		{"resource prefix", audit.Query{Resource: "r:*"}, "SEARCH events USING PRIMARY KEY (id=?); LIST SUBQUERY 1; SEARCH events USING COVERING INDEX events_resource_id (resource>? AND resource<?); USE TEMP B-TREE FOR ORDER BY"},
		{"resource deep prefix", audit.Query{Resource: "articles:animals:*"}, "SEARCH events USING PRIMARY KEY (id=?); LIST SUBQUERY 1; SEARCH events USING COVERING INDEX events_resource_id (resource>? AND resource<?); USE TEMP B-TREE FOR ORDER BY"},
		{"status and resource", audit.Query{Status: audit.StatusDenied, Resource: "r:*"}, "SEARCH events USING INDEX events_status_id (status=?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			query, args, ok := buildSQL(tc.q, 100)
			if !ok {
				t.Fatal("buildSQL: no query")
			}
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var steps []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				steps = append(steps, detail)
			}
			if got := strings.Join(steps, "; "); got != tc.want {
				t.Errorf("plan of %s\n got: %s\nwant: %s", query, got, tc.want)
			}
		})
	}
}

func TestLiteralPrefix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src, prefix string
		literal     bool
	}{
		{"articles", "articles", true},
		{"articles:42", "articles:42", true},
		{"a,a:b", "a:b", true},
		{"articles:*", "articles:", false},
		{"articles:set*", "articles:set", false},
		{"test:*:name", "test:", false},
		{"doc:read,rename", "doc:re", false},
		{"get*,list*", "", false},
		{"*:x", "", false},
		{"docs:é*,è", "docs:\xc3", false}, // ends inside a rune: fine for a byte range
	}
	for _, tc := range cases {
		prefix, literal := literalPrefix(tc.src)
		if prefix != tc.prefix || literal != tc.literal {
			t.Errorf("literalPrefix(%q) = %q, %v; want %q, %v", tc.src, prefix, literal, tc.prefix, tc.literal)
		}
	}
}

func TestSuccessor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"articles:", "articles;", true},
		{"a", "b", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xc3", "\xc4", true},
		{"\xff", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, ok := successor(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzLiteralPrefix checks the SQL narrowing against the pattern package:
// every name a pattern matches starts with its prefix and lies in the
// range [prefix, successor(prefix)), and a literal matches exactly its
// prefix.
func FuzzLiteralPrefix(f *testing.F) {
	for _, seed := range [][2]string{
		{"articles:*", "articles:1"}, {"articles:set*", "articles:setX"}, {"test:*:name", "test:a:name"},
		{"doc:read,rename", "doc:rename"}, {"get*,list*", "listAll"}, {"a,a:b", "a:b"}, {"*", ""},
		{"docs:é*,è", "docs:è"}, {"x:*y*z", "x:ayz"}, {"a*", "a"}, {"日本:*", "日本:語"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, src, name string) {
		p, err := pattern.Parse(src)
		if err != nil || src == "*" {
			return
		}
		prefix, literal := literalPrefix(src)
		if literal && (!p.IsLiteral() || p.Literal() != prefix) {
			t.Fatalf("literalPrefix(%q) = %q, literal; the pattern package says IsLiteral=%v Literal=%q", src, prefix, p.IsLiteral(), p.Literal())
		}
		if !p.Match(name) {
			return
		}
		if literal && name != prefix {
			t.Fatalf("literal %q matches %q", prefix, name)
		}
		if !strings.HasPrefix(name, prefix) {
			t.Fatalf("%q matches %q, which does not start with the prefix %q", src, name, prefix)
		}
		if hi, ok := successor(prefix); ok && !(name >= prefix && name < hi) {
			t.Fatalf("%q matches %q, outside [%q, %q)", src, name, prefix, hi)
		}
	})
}

// TestMigrationAddsRevision: a file written at an earlier schema version,
// before events had a revision, opens at SchemaVersion, its rows read back
// unchanged at revision 0, and new events keep theirs. The file is made
// with the migrations that version shipped, which never change.
func TestMigrationAddsRevision(t *testing.T) {
	t.Parallel()
	for version := 1; version < SchemaVersion; version++ {
		t.Run(fmt.Sprintf("from version %d", version), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.db")
			old := audit.Event{
				ID: "0193a000-0000-7000-8000-000000000001", Time: time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC),
				Subject: "bob", Action: "edit", Resource: "doc:1", Allowed: true, Status: audit.StatusAllowed,
				Rule: "rules.shares", Reason: "granted", Latency: 1500, PolicyVersion: "sha256:abc",
				Fields: map[string]any{"request_id": "r-1"},
			}
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmts := range migrations[:version] {
				for _, stmt := range stmts {
					if _, err := db.Exec(stmt); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, stmt := range []string{
				fmt.Sprintf("PRAGMA user_version = %d", version),
				fmt.Sprintf("PRAGMA application_id = %d", applicationID),
			} {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			// The insert of the versions before revision existed.
			if _, err := db.Exec(`INSERT INTO events (id, time_ns, subject, action, resource, allowed, status,
				rule, reason, latency_ns, policy_version, error, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				old.ID, old.Time.UnixNano(), old.Subject, old.Action, old.Resource, old.Allowed, string(old.Status),
				old.Rule, old.Reason, int64(old.Latency), old.PolicyVersion, old.Error, `{"request_id":"r-1"}`); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s, err := Open(path)
			if err != nil {
				t.Fatalf("Open of a version %d file: %v", version, err)
			}
			t.Cleanup(func() { s.Close() })
			now := old
			now.ID, now.Revision = "0193a000-0000-7000-8000-000000000002", 4711
			if err := s.Record(t.Context(), &now); err != nil {
				t.Fatal(err)
			}
			got, err := s.Query(t.Context(), audit.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]audit.Event{old, now}, got); d != "" {
				t.Errorf("after migrating (-want +got):\n%s", d)
			}
			var v int
			if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
				t.Errorf("user_version = %d, %v; want %d", v, err, SchemaVersion)
			}
		})
	}
}
