package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

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

// TestMigrationAddsRevision: a schema written at an earlier version,
// before events had a revision, opens at SchemaVersion, its rows read
// back unchanged at revision 0, and new events keep theirs, the largest
// bigint included. The schema is made with the migrations that version
// shipped, which never change.
func TestMigrationAddsRevision(t *testing.T) {
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("WARDEN_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	for version := 1; version < SchemaVersion; version++ {
		t.Run(fmt.Sprintf("from version %d", version), func(t *testing.T) {
			var r [6]byte
			rand.Read(r[:])
			name := "warden_test_" + hex.EncodeToString(r[:])
			schema := pgx.Identifier{name}.Sanitize()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
					t.Errorf("dropping schema %s: %v", name, err)
				}
				conn.Close(ctx)
			})
			old := audit.Event{
				ID: "0193a000-0000-7000-8000-000000000001", Time: time.Date(2025, 3, 1, 12, 0, 0, 5000, time.UTC),
				Subject: "bob", Action: "edit", Resource: "doc:1", Allowed: true, Status: audit.StatusAllowed,
				Rule: "rules.shares", Reason: "granted", Latency: 1500, PolicyVersion: "sha256:abc",
				Fields: map[string]any{"request_id": "r-1"},
			}
			stmts := []string{
				"CREATE SCHEMA " + schema,
				"CREATE TABLE " + schema + ".schema_version (version integer NOT NULL)",
			}
			for _, m := range migrations[:version] {
				for _, stmt := range m {
					stmts = append(stmts, fmt.Sprintf(stmt, schema))
				}
			}
			stmts = append(stmts,
				fmt.Sprintf("INSERT INTO %s.schema_version (version) VALUES (%d)", schema, version),
				// The day's partition, as WriteBatch made it before the row.
				fmt.Sprintf(`CREATE TABLE %[1]s.events_p20250301 PARTITION OF %[1]s.events FOR VALUES FROM ('2025-03-01T00:00:00Z') TO ('2025-03-02T00:00:00Z')`, schema))
			for _, stmt := range stmts {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			// The insert of the versions before revision existed.
			if _, err := conn.Exec(ctx, `INSERT INTO `+schema+`.events (id, time, time_nsec, subject, action, resource, allowed, status,
				rule, reason, latency_ns, policy_version, error, fields) VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				old.ID, old.Time, old.Subject, old.Action, old.Resource, old.Allowed, string(old.Status),
				old.Rule, old.Reason, int64(old.Latency), old.PolicyVersion, old.Error, `{"request_id":"r-1"}`); err != nil {
				t.Fatal(err)
			}

			s, err := Open(ctx, dsn, &Options{Schema: name})
			if err != nil {
				t.Fatalf("Open of a version %d schema: %v", version, err)
			}
			defer s.Close()
			now, top := old, old
			now.ID, now.Revision = "0193a000-0000-7000-8000-000000000002", 4711
			top.ID, top.Revision = "0193a000-0000-7000-8000-000000000003", math.MaxInt64
			if err := s.WriteBatch(ctx, []audit.Event{now, top}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Query(ctx, audit.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]audit.Event{old, now, top}, got); d != "" {
				t.Errorf("after migrating (-want +got):\n%s", d)
			}
			var v int
			if err := conn.QueryRow(ctx, "SELECT version FROM "+schema+".schema_version").Scan(&v); err != nil || v != SchemaVersion {
				t.Errorf("schema_version = %d, %v; want %d", v, err, SchemaVersion)
			}
		})
	}
}
