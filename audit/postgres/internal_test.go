package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/internal/sqlfilter"
)

// TestResourcePrefixIndex: a resource pattern with a literal prefix reads
// the (resource, id) index, not every row.
func TestResourcePrefixIndex(t *testing.T) {
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("WARDEN_TEST_POSTGRES is not set")
	}
	var r [6]byte
	rand.Read(r[:])
	schema := "warden_test_" + hex.EncodeToString(r[:])
	s, err := Open(context.Background(), dsn, &Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.pool.Exec(context.Background(), "DROP SCHEMA "+s.schema+" CASCADE")
		s.Close()
	}()
	for _, src := range []string{"doc:*", "articles:animals:*", "doc:1"} {
		b, ok := s.build(audit.Query{Resource: src})
		if !ok {
			t.Fatal("no query")
		}
		ctx := context.Background()
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Without statistics an empty table is scanned whatever its
		// indexes; forbid sequential scans to ask whether the index serves.
		tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
		rows, err := tx.Query(ctx, sqlfilter.Numbered("EXPLAIN SELECT id FROM "+s.schema+".events"+b.Clause()+" ORDER BY id"), b.Args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan = append(plan, line)
		}
		rows.Close()
		tx.Rollback(ctx)
		if p := strings.Join(plan, "\n"); !strings.Contains(p, "events_resource_id") && !strings.Contains(p, "resource_id_idx") {
			t.Errorf("%s: the plan uses no resource index:\n%s", src, p)
		}
	}
}
