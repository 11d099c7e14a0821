package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCheckAudit: check and check --batch record every decision, errors
// included, in the store --audit names, and audit query reads them back.
func TestCheckAudit(t *testing.T) {
	t.Parallel()
	schemes := []string{"jsonl", "sqlite"}
	if os.Getenv("WARDEN_TEST_POSTGRES") != "" {
		schemes = append(schemes, "postgres")
	}
	for _, scheme := range schemes {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			url := scheme + ":" + filepath.Join(t.TempDir(), "audit."+scheme)
			if scheme == "postgres" {
				url = pgURL(t)
			}
			if r := run(t, "", "check", "-c", fullRBAC, "--audit", url, "user1", "part_b", "GET"); r.code != 0 {
				t.Fatalf("check: %d %s", r.code, r.stderr)
			}
			in := `{"subject":"user5","resource":"part_c","action":"POST"}` + "\n" + `{"subject":"a*","action":"x"}` + "\n" + `not json` + "\n"
			if r := run(t, in, "check", "--batch", "-c", fullRBAC, "--audit", url); r.code != 0 {
				t.Fatalf("batch: %d %s", r.code, r.stderr)
			}
			r := run(t, "", "audit", "query", "--audit", url, "--json")
			if r.code != 0 {
				t.Fatalf("query: %d %s", r.code, r.stderr)
			}
			var statuses []string
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var e struct{ Subject, Status, ID string }
				if err := json.Unmarshal([]byte(line), &e); err != nil || e.ID == "" {
					t.Fatalf("event %q: %v", line, err)
				}
				statuses = append(statuses, e.Subject+"/"+e.Status)
			}
			// A line that is not JSON names no request, so it has no event.
			if got, want := strings.Join(statuses, " "), "user1/allowed user5/denied a*/error"; got != want {
				t.Errorf("events %q, want %q", got, want)
			}
			if r := run(t, "", "audit", "query", "--audit", url, "--status", "denied", "--resource", "part_*"); !strings.Contains(r.stdout, "user5") || strings.Contains(r.stdout, "user1") {
				t.Errorf("filtered query:\n%s", r.stdout)
			}
		})
	}
}

func TestAuditQueryErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"audit", "query"}, "--audit"},
		{[]string{"audit", "query", "--audit", "nope:/x"}, "unknown scheme"},
		{[]string{"audit", "query", "--audit", "sqlite:/tmp/x.db", "--since", "yesterday"}, "RFC 3339"},
		{[]string{"audit", "query", "--audit", "sqlite:/tmp/x.db", "--resource", "a::b"}, "resource"},
		{[]string{"audit", "query", "--audit", "sqlite:/tmp/x.db", "--limit", "-3"}, "limit"},
		{[]string{"audit", "query", "--audit", "sqlite:/tmp/x.db", "--status", "maybe"}, "status"},
		{[]string{"check", "-c", fullRBAC, "--audit", "nope:/x", "a", "b", "c"}, "unknown scheme"},
	} {
		r := run(t, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.err)
		}
	}
}

// TestAuditStatsAndTail: stats counts what check recorded; tail shows the
// newest events.
func TestAuditStatsAndTail(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
	in := strings.Repeat(`{"subject":"user1","resource":"part_b","action":"GET"}`+"\n", 3) +
		strings.Repeat(`{"subject":"user5","resource":"part_c","action":"POST"}`+"\n", 2)
	if r := run(t, in, "check", "--batch", "-c", fullRBAC, "--audit", url); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := run(t, "", "audit", "stats", "--audit", url, "--json")
	var s struct {
		Total     int
		ByStatus  map[string]int `json:"by_status"`
		BySubject map[string]int `json:"by_subject"`
		ByTime    map[string]int `json:"by_time"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	if s.Total != 5 || s.ByStatus["allowed"] != 3 || s.ByStatus["denied"] != 2 || s.BySubject["user5"] != 2 || len(s.ByTime) == 0 {
		t.Errorf("stats %+v", s)
	}
	if r := run(t, "", "audit", "stats", "--audit", url); !strings.Contains(r.stdout, "5 events") || !strings.Contains(r.stdout, "user1") {
		t.Errorf("stats table:\n%s", r.stdout)
	}
	if r := run(t, "", "audit", "tail", "--audit", url, "--subject", "user5"); strings.Count(r.stdout, "user5") != 2 || strings.Contains(r.stdout, "user1") {
		t.Errorf("tail:\n%s", r.stdout)
	}
}

// pgURL returns the test server's URL naming a schema of the test's own,
// dropped afterwards, so runs never share events.
func pgURL(t *testing.T) string {
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	schema := fmt.Sprintf("warden_cli_%d", time.Now().UnixNano())
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return dsn + sep + "schema=" + schema
}

// TestCheckAuditRevision: a decision made on a store's data records the
// revision it saw, in every audit store; query and tail show it, as JSON
// and in the table's REVISION column, and leave it out for a decision
// made on the file alone.
func TestCheckAuditRevision(t *testing.T) {
	t.Parallel()
	policy := writeFile(t, dataPolicy)
	data := "sqlite:" + filepath.Join(t.TempDir(), "data.db")
	for _, args := range [][]string{{"member", "alice", "editors"}, {"member", "carol", "editors"}} {
		if r := run(t, "", append([]string{"data", "add", "--store", data}, args...)...); r.code != 0 {
			t.Fatalf("data add %q: %d %s", args, r.code, r.stderr)
		}
	}
	schemes := []string{"jsonl", "sqlite"}
	if os.Getenv("WARDEN_TEST_POSTGRES") != "" {
		schemes = append(schemes, "postgres")
	}
	for _, scheme := range schemes {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			url := scheme + ":" + filepath.Join(t.TempDir(), "audit."+scheme)
			if scheme == "postgres" {
				url = pgURL(t)
			}
			if r := run(t, "", "check", "-c", policy, "--store", data, "--audit", url, "alice", "doc:1", "edit"); r.code != 0 {
				t.Fatalf("check: %d %s %s", r.code, r.stdout, r.stderr)
			}
			in := `{"subject":"carol","resource":"doc:2","action":"edit"}` + "\n"
			if r := run(t, in, "check", "--batch", "-c", policy, "--store", data, "--audit", url); r.code != 0 {
				t.Fatalf("batch: %d %s", r.code, r.stderr)
			}
			// On the file alone alice is in no group: denied, at no revision.
			if r := run(t, "", "check", "-c", policy, "--store", "", "--audit", url, "alice", "doc:3", "edit"); r.code != 1 {
				t.Fatalf("check without the store: %d %s %s", r.code, r.stdout, r.stderr)
			}

			r := run(t, "", "audit", "query", "--audit", url, "--json")
			if r.code != 0 {
				t.Fatalf("query: %d %s", r.code, r.stderr)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var e struct {
					Resource string
					Revision *uint64
				}
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("event %q: %v", line, err)
				}
				rev := "none"
				if e.Revision != nil {
					rev = fmt.Sprint(*e.Revision)
				}
				got = append(got, e.Resource+"@"+rev)
			}
			if got, want := strings.Join(got, " "), "doc:1@2 doc:2@2 doc:3@none"; got != want {
				t.Errorf("events %q, want %q", got, want)
			}

			for _, cmd := range []string{"query", "tail"} {
				r := run(t, "", "audit", cmd, "--audit", url)
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if r.code != 0 || len(lines) != 4 {
					t.Fatalf("%s: %d, %d lines:\n%s%s", cmd, r.code, len(lines), r.stdout, r.stderr)
				}
				if h := strings.Fields(lines[0]); strings.Join(h, " ") != "TIME ID SUBJECT ACTION RESOURCE STATUS REVISION RULE" {
					t.Errorf("%s: header %q", cmd, lines[0])
				}
				col := strings.Index(lines[0], "REVISION")
				for i, want := range []string{"2", "2", ""} {
					row := lines[i+1]
					cell := ""
					if len(row) > col {
						cell = strings.TrimSpace(row[col:min(len(row), col+len("REVISION"))])
					}
					if cell != want {
						t.Errorf("%s: row %d has %q under REVISION, want %q:\n%s", cmd, i+1, cell, want, r.stdout)
					}
				}
			}
		})
	}
}
