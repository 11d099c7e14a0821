package auditurl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/auditurl"
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
	cases := []struct {
		name, url, want string
	}{
		{"empty", "", "want one of"},
		{"no scheme", "audit.db", "want one of"},
		{"scheme only", "sqlite:", "want one of"},
		{"unknown scheme", "mysql://root@localhost/db", `unknown scheme "mysql"`},
		{"scheme case matters", "SQLITE:x.db", `unknown scheme "SQLITE"`},
		{"http is not a store", "https://example.com/audit", `unknown scheme "https"`},
		{"jsonl under a file", "jsonl:" + filepath.Join(notDir, "a.jsonl"), "not a directory"},
		{"sqlite under a file", "sqlite:" + filepath.Join(notDir, "a.db"), "audit store"},
		{"jsonl is a directory", "jsonl:" + dir, "audit store"},
		{"postgres bad port", "postgres://u:s3cret@127.0.0.1:notaport/db", "postgres URL"},
		{"postgres bad escape", "postgres://u:s3cret%zz@127.0.0.1/db", "postgres URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := auditurl.Open(tc.url)
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

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:s3cret@db:5432/x?schema=a", "postgres://u:xxxxx@db:5432/x?schema=a"},
		{"postgres://u@db/x", "postgres://u@db/x"},
		{"postgres://db/x", "postgres://db/x"},
		{"sqlite:./audit.db", "sqlite:./audit.db"},
		{"jsonl:/var/log/a@b.jsonl", "jsonl:/var/log/a@b.jsonl"},
		{"postgres://u:s3cret%zz@db/x", "xxxxx@db/x"},
	} {
		if got := auditurl.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
