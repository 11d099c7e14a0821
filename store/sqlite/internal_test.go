package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// TestQueryPlans pins the index each List filter reads, so a schema or
// query change that falls back to a full scan or a sort of a whole table
// shows up here rather than as a slow listing. The unfiltered listing,
// and a filter on a group of memberships mixed with grants, read a table
// in position order, its key.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cases := []struct {
		name        string
		f           store.Filter
		memberships string // "" when the filter selects no membership
		grants      string
	}{
		{"everything", store.Filter{},
			"SEARCH store_memberships USING INTEGER PRIMARY KEY (rowid>?)",
			"SEARCH store_grants USING INTEGER PRIMARY KEY (rowid>?)"},
		{"member", store.Filter{Member: "alice"},
			"SEARCH store_memberships USING COVERING INDEX store_memberships_key (kind=? AND name=?); USE TEMP B-TREE FOR ORDER BY", ""},
		{"member and group", store.Filter{Member: "alice", Group: "team"},
			"SEARCH store_memberships USING COVERING INDEX store_memberships_key (kind=? AND name=? AND grp=?)", ""},
		{"group", store.Filter{Group: "team"},
			"SEARCH store_memberships USING INDEX store_memberships_grp (grp=? AND rowid>?)", ""},
		{"resource", store.Filter{Resource: "doc:1"},
			"SEARCH store_memberships USING COVERING INDEX store_memberships_key (kind=? AND name=?); USE TEMP B-TREE FOR ORDER BY",
			"SEARCH store_grants USING COVERING INDEX store_grants_key (resource=?); USE TEMP B-TREE FOR ORDER BY"},
		{"subject", store.Filter{Subject: "bob"}, "",
			"SEARCH store_grants USING INDEX store_grants_subject (subject=? AND rowid>?)"},
		{"rule", store.Filter{Rule: "rules.shares"}, "",
			"SEARCH store_grants USING INDEX store_grants_rule (rule=? AND rowid>?)"},
		{"subject and resource", store.Filter{Subject: "bob", Resource: "doc:1"}, "",
			"SEARCH store_grants USING INDEX store_grants_subject (subject=? AND rowid>?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, half := range []struct {
				name  string
				build func(store.Filter, int64, int) (string, []any, bool)
				want  string
			}{{"memberships", membershipQuery, tc.memberships}, {"grants", grantQuery, tc.grants}} {
				q, args, ok := half.build(tc.f, 0, 101)
				if !ok {
					if half.want != "" {
						t.Errorf("%s: no query, want %s", half.name, half.want)
					}
					continue
				}
				rows, err := s.r.Query("EXPLAIN QUERY PLAN "+q, args...)
				if err != nil {
					t.Fatal(err)
				}
				var steps []string
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						t.Fatal(err)
					}
					steps = append(steps, detail)
				}
				rows.Close()
				if got := strings.Join(steps, "; "); got != half.want {
					t.Errorf("%s plan of %s\n got: %s\nwant: %s", half.name, q, got, half.want)
				}
			}
		})
	}
}

func TestPositions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rev   store.Revision
		index int
	}{{1, 0}, {1, store.MaxBatch - 1}, {maxRevision, 0}, {maxRevision, store.MaxBatch - 1}, {12345, 678}} {
		p := pos(c.rev, c.index)
		if p < 0 {
			t.Fatalf("pos(%d, %d) = %d overflows", c.rev, c.index, p)
		}
		if r, i := unpos(p); r != c.rev || i != c.index {
			t.Errorf("unpos(pos(%d, %d)) = %d, %d", c.rev, c.index, r, i)
		}
	}
	if pos(2, 0) <= pos(1, store.MaxBatch-1) {
		t.Error("positions do not order by revision first")
	}
}

// TestMigrateFromVersion1: a file the store's first schema wrote (data,
// no policy versions) is migrated in place when opened: its data and
// revision are kept, it is marked SchemaVersion, and it keeps policy
// versions from then on. Two processes opening it at once migrate it
// once.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	old, err := open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []store.Batch{
		{Writes: []store.Write{{Op: store.OpAdd, Membership: &store.Membership{Member: "alice", Group: "team"}}}},
		{Writes: []store.Write{{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: "bob", Resource: "doc:1", Action: "read"}}}},
		{},
	} {
		if _, err := old.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if v, tables := schemaOf(t, path); v != 1 || strings.Contains(tables, "store_policies") {
		t.Fatalf("the version 1 file: version %d, tables %s", v, tables)
	}

	var wg sync.WaitGroup
	stores := make([]*Store, 2)
	for i := range stores {
		wg.Go(func() {
			s, err := Open(path)
			if err != nil {
				t.Errorf("Open of a version 1 file: %v", err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		return
	}
	if v, tables := schemaOf(t, path); v != SchemaVersion || !strings.Contains(tables, "store_policies") {
		t.Fatalf("after migrating: version %d, tables %s; want %d, with store_policies", v, tables, SchemaVersion)
	}
	s := stores[0]
	if r, err := s.Revision(ctx); err != nil || r != 3 {
		t.Fatalf("Revision after migrating = %d, %v; want 3", r, err)
	}
	recs, _, err := s.List(ctx, store.Filter{})
	if err != nil || len(recs) != 2 || recs[0].Membership == nil || recs[1].Grant == nil || recs[1].Added != 2 {
		t.Fatalf("records after migrating: %+v, %v", recs, err)
	}
	if changes, through, err := s.Changes(ctx, 0, 0); err != nil || through != 3 || len(changes) != 2 {
		t.Fatalf("Changes after migrating = %v, %d, %v", changes, through, err)
	}
	if _, err := s.CurrentPolicy(ctx); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("CurrentPolicy of a migrated file: %v; want store.ErrNoPolicy", err)
	}
	v, err := s.Publish(ctx, store.PolicyVersion{Version: "sha256:1", Name: "policy.toml", Text: []byte("[rules]\n")})
	if err != nil || v.Seq != 1 {
		t.Fatalf("the first publish to a migrated file = %+v, %v", v, err)
	}
	// The other Store, opened during the migration, sees it.
	if cur, err := stores[1].CurrentPolicy(ctx); err != nil || cur.Seq != 1 || string(cur.Text) != "[rules]\n" {
		t.Fatalf("CurrentPolicy through the other Store = %+v, %v", cur, err)
	}
	// A binary that knows only version 1 refuses the migrated file.
	if s, err := open(path, 1); !errors.Is(err, ErrNewerSchema) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("opening a version %d file with version 1's code: %v; want ErrNewerSchema", SchemaVersion, err)
	}
}

// schemaOf returns the store's schema version in the file at path and
// the names of its tables.
func schemaOf(t *testing.T, path string) (int, string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT version FROM store_schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	var tables string
	if err := db.QueryRow(`SELECT group_concat(name, ' ') FROM sqlite_schema WHERE type = 'table'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	return v, tables
}
