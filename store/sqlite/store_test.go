package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	auditsqlite "github.com/warden-authz/warden/audit/sqlite"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
)

func member(op store.Op, m, g string) store.Write {
	return store.Write{Op: op, Membership: &store.Membership{Member: m, Group: g}}
}

func write(t testing.TB, s store.Store, ws ...store.Write) store.Revision {
	t.Helper()
	r, err := s.Write(context.Background(), store.Batch{Writes: ws})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return r
}

// members returns "member@group" for every membership, in List order.
func members(t testing.TB, s store.Store) []string {
	t.Helper()
	var out []string
	f := store.Filter{Kind: store.Memberships, Limit: store.MaxLimit}
	for {
		page, next, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			out = append(out, r.Membership.Member+"@"+r.Membership.Group)
		}
		if next == "" {
			return out
		}
		f.After = next
	}
}

// TestReopenKeepsData: data and policy versions survive closing the file.
func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, member(store.OpAdd, "alice", "team"), member(store.OpAdd, "bob", "team"))
	write(t, s, member(store.OpRemove, "alice", "team"))
	published, err := s.Publish(context.Background(), store.PolicyVersion{Version: "sha256:1", Name: "policy.toml", Text: []byte("[rules]\n\x00\xff")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if cur, err := s.CurrentPolicy(context.Background()); err != nil || cur.Seq != 1 || !cur.Time.Equal(published.Time) || string(cur.Text) != "[rules]\n\x00\xff" {
		t.Fatalf("CurrentPolicy after reopening = %+v, %v; want %+v", cur, err, published)
	}
	if r, err := s.Revision(context.Background()); err != nil || r != 2 {
		t.Fatalf("Revision after reopening = %d, %v; want 2", r, err)
	}
	if got := strings.Join(members(t, s), " "); got != "bob@team" {
		t.Fatalf("memberships after reopening: %s", got)
	}
	if r := write(t, s, member(store.OpAdd, "carol", "team")); r != 3 {
		t.Fatalf("the first write after reopening got revision %d, want 3", r)
	}
	changes, through, err := s.Changes(context.Background(), 0, 0)
	if err != nil || through != 3 || len(changes) != 4 {
		t.Fatalf("Changes after reopening = %v, %d, %v; want 4 changes through 3", changes, through, err)
	}
}

// TestSharedWithAuditLog: the store and the audit log live in one file,
// whichever creates it, and write to it at the same time.
func TestSharedWithAuditLog(t *testing.T) {
	t.Parallel()
	for _, first := range []string{"store", "audit"} {
		t.Run(first+"-first", func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "warden.db")
			var (
				st  *sqlite.Store
				log *auditsqlite.Store
				err error
			)
			openAudit := func() {
				if log, err = auditsqlite.Open(path); err != nil {
					t.Fatalf("audit/sqlite.Open on the shared file: %v", err)
				}
			}
			if first == "audit" {
				openAudit()
				st = openAt(t, path)
			} else {
				st = openAt(t, path)
				openAudit()
			}
			defer log.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			wg.Go(func() {
				for i := range 50 {
					if _, err := st.Write(context.Background(), store.Batch{Writes: []store.Write{member(store.OpAdd, fmt.Sprintf("u%d", i), "team")}}); err != nil {
						errs <- err
					}
				}
			})
			wg.Go(func() {
				for i := range 50 {
					id, _ := audit.NewID()
					e := audit.Event{ID: id, Time: time.Now().UTC(), Subject: fmt.Sprintf("u%d", i), Action: "read", Status: audit.StatusAllowed}
					if err := log.Record(context.Background(), &e); err != nil {
						errs <- err
					}
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if err := log.Close(); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			// Both reopen, each with its data.
			st = openAt(t, path)
			openAudit()
			events, err := log.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
			if err != nil || len(events) != 50 {
				t.Fatalf("audit events after reopening: %d, %v; want 50", len(events), err)
			}
			if r, err := st.Revision(context.Background()); err != nil || r != 50 {
				t.Fatalf("store revision after reopening: %d, %v; want 50", r, err)
			}
			if n := len(members(t, st)); n != 50 {
				t.Fatalf("%d memberships after reopening, want 50", n)
			}
		})
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

func execSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db := rawDB(t, path)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
}

var errAny = errors.New("any error")

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    error
	}{
		{"another program's tables", func(t *testing.T, path string) { execSQL(t, path, "CREATE TABLE unrelated (x)") }, sqlite.ErrNotWardenDB},
		{"another program's user_version", func(t *testing.T, path string) { execSQL(t, path, "PRAGMA user_version = 3") }, sqlite.ErrNotWardenDB},
		{"another application's file", func(t *testing.T, path string) { execSQL(t, path, "PRAGMA application_id = 305419896") }, sqlite.ErrNotWardenDB},
		{"a newer store schema", func(t *testing.T, path string) {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			execSQL(t, path, fmt.Sprintf("UPDATE store_schema_version SET version = %d", sqlite.SchemaVersion+1))
		}, sqlite.ErrNewerSchema},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database file\n", 20)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, errAny},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, errAny},
		{"under a file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, errAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "data.db")
			tc.prepare(t, path)
			if tc.name == "under a file" {
				path = filepath.Join(path, "data.db")
			}
			s, err := sqlite.Open(path)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			if s != nil {
				t.Errorf("Open returned a store with its error")
			}
			if tc.want != errAny && !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "store/sqlite") {
				t.Errorf("error %q does not say which store", err)
			}
		})
	}
	t.Run("empty path", func(t *testing.T) {
		t.Parallel()
		if _, err := sqlite.Open(""); err == nil {
			t.Fatal("Open(\"\") succeeded")
		}
	})
	t.Run("refused file is left untouched", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "data.db")
		execSQL(t, path, "CREATE TABLE unrelated (x)", "INSERT INTO unrelated VALUES (1)")
		if _, err := sqlite.Open(path); !errors.Is(err, sqlite.ErrNotWardenDB) {
			t.Fatal(err)
		}
		var n int
		if err := rawDB(t, path).QueryRow("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'store_%'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d store tables in the refused file, %v", n, err)
		}
	})
}

func TestPathWithURICharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "odd ?name#with%20chars.db")
	s := openAt(t, path)
	write(t, s, member(store.OpAdd, "alice", "team"))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file is not at the literal path: %v", err)
	}
}

// TestWaitSeesOtherWriters: a commit made through another Store on the
// same file (as another process would) wakes Wait, by polling.
func TestWaitSeesOtherWriters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.db")
	a, b := openAt(t, path), openAt(t, path)
	done := make(chan error, 1)
	go func() {
		r, err := b.Wait(context.Background(), 0)
		if err == nil && r != 1 {
			err = fmt.Errorf("Wait returned %d, want 1", r)
		}
		done <- err
	}()
	write(t, a, member(store.OpAdd, "alice", "team"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait on another Store did not see the commit within 30 s")
	}
}

// TestTwoStoresOneFile: two Stores on one file, as two processes, write
// at once; SQLite's write lock keeps revisions gapless.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.db")
	stores := []*sqlite.Store{openAt(t, path), openAt(t, path)}
	var mu sync.Mutex
	seen := map[store.Revision]bool{}
	var wg sync.WaitGroup
	for i, s := range stores {
		for g := range 3 {
			wg.Go(func() {
				for k := range 20 {
					r, err := s.Write(context.Background(), store.Batch{Writes: []store.Write{member(store.OpAdd, fmt.Sprintf("s%d-g%d-%d", i, g, k), "team")}})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[r] {
						t.Errorf("revision %d given twice", r)
					}
					seen[r] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for r := store.Revision(1); r <= 120; r++ {
		if !seen[r] {
			t.Fatalf("revision %d missing", r)
		}
	}
}

// TestWaitPolicySeesOtherPublishers: a publish or a rollback through
// another Store on the same file (as `warden publish` in another process
// makes) wakes WaitPolicy by polling, and the waiter reads the version.
func TestWaitPolicySeesOtherPublishers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	follower, publisher := openAt(t, path), openAt(t, path)
	for seq, change := range []func() error{
		func() error {
			_, err := publisher.Publish(ctx, store.PolicyVersion{Version: "sha256:1", Name: "one.toml", Text: []byte("one")})
			return err
		},
		func() error {
			_, err := publisher.Publish(ctx, store.PolicyVersion{Version: "sha256:2", Name: "two.toml", Text: []byte("two")})
			return err
		},
		func() error { _, err := publisher.Rollback(ctx, "sha256:1"); return err },
	} {
		done := make(chan error, 1)
		go func() {
			got, err := follower.WaitPolicy(ctx, uint64(seq))
			if err == nil && got != uint64(seq+1) {
				err = fmt.Errorf("WaitPolicy(%d) returned %d", seq, got)
			}
			done <- err
		}()
		if err := change(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("WaitPolicy(%d) on another Store did not see the change within 30 s", seq)
		}
	}
	cur, err := follower.CurrentPolicy(ctx)
	if err != nil || cur.Seq != 3 || cur.RollbackOf != 1 || string(cur.Text) != "one" {
		t.Fatalf("CurrentPolicy through the follower = %+v, %v; want the rollback to one", cur, err)
	}
}
