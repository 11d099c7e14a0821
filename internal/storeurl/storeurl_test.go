package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/postgres"
	"github.com/warden-authz/warden/store/sqlite"
)

// Every URL Open cannot use is an error that says what is wrong, and no
// error ever shows a password.
func TestOpenHostile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	if err := os.WriteFile(foreign, []byte(strings.Repeat("not sqlite ", 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, url, want string
	}{
		{"empty", "", "want one of"},
		{"no scheme", "data.db", "want one of"},
		{"unknown scheme", "mysql://root:s3cret@localhost/db", `unknown scheme "mysql"`},
		{"scheme case matters", "SQLITE:x.db", `unknown scheme "SQLITE"`},
		{"http is not a store", "https://example.com/data", `unknown scheme "https"`},
		{"jsonl is only for audit", "jsonl:data.jsonl", `unknown scheme "jsonl"`},
		{"memory with a path", "memory:/tmp/x", "takes nothing"},
		{"memory with slashes", "memory://", "takes nothing"},
		{"sqlite without a path", "sqlite:", "needs a file path"},
		{"sqlite with slashes only", "sqlite://", "needs a file path"},
		{"sqlite under a file", "sqlite:" + filepath.Join(notDir, "a.db"), "store/sqlite"},
		{"sqlite a directory", "sqlite:" + dir, "store/sqlite"},
		{"sqlite not a database", "sqlite:" + foreign, "store/sqlite"},
		{"postgres bad port", "postgres://u:s3cret@127.0.0.1:notaport/db", "postgres URL"},
		{"postgres bad escape", "postgres://u:s3cret%zz@127.0.0.1/db", "postgres URL"},
		{"postgres nothing listening", "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=5", "unavailable"},
		{"postgresql bad option", "postgresql://u:s3cret@127.0.0.1/db?sslmode=bogus", "store/postgres"},
		{"nul", "sqlite:\x00", "store/sqlite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := storeurl.Open(context.Background(), tc.url)
			if err == nil {
				st.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if st != nil {
				t.Errorf("Open(%q) returned a store with its error", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%q) error shows the password: %v", tc.url, err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	urls := []struct {
		url  string
		kind any
	}{
		{"memory:", &store.Memory{}},
		{"memory", nil}, // no colon: not a URL
		{"sqlite:" + filepath.Join(dir, "a.db"), &sqlite.Store{}},
		{"sqlite://" + filepath.Join(dir, "b.db"), &sqlite.Store{}},
	}
	if d := os.Getenv("WARDEN_TEST_POSTGRES"); d != "" {
		sep := "?"
		if strings.Contains(d, "?") {
			sep = "&"
		}
		schema := randomSchema("warden_url_")
		t.Cleanup(func() { dropSchema(t, d, schema) })
		urls = append(urls, struct {
			url  string
			kind any
		}{d + sep + "schema=" + schema, &postgres.Store{}})
	}
	for _, u := range urls {
		st, err := storeurl.Open(context.Background(), u.url)
		if u.kind == nil {
			if err == nil {
				st.Close()
				t.Errorf("Open(%q) succeeded", u.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", u.url, err)
			continue
		}
		if fmt.Sprintf("%T", st) != fmt.Sprintf("%T", u.kind) {
			t.Errorf("Open(%q) = %T, want %T", u.url, st, u.kind)
		}
		r, err := st.Write(context.Background(), store.Batch{Writes: []store.Write{{Op: store.OpAdd, Membership: &store.Membership{Member: "alice", Group: "team"}}}})
		if err != nil || r != 1 {
			t.Errorf("Write through %q = %d, %v", u.url, r, err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("Close %q: %v", u.url, err)
		}
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	_, err := storeurl.Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=5")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of an unreachable database = %v; want store.ErrUnavailable", err)
	}
}
