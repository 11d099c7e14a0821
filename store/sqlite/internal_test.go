package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/store"
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
