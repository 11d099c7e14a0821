package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/cli"
	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/store"
)

const dataPolicy = `
[groups]
editors = []

[roles]
admin = []

[rules.edit]
allow = [['editors', 'doc:*', 'edit']]

[rules.shares]
dynamic = true
`

// TestDataRoundTrip writes, lists, reads the changes of and removes
// records in a real SQLite store, and checks each write's revision.
func TestDataRoundTrip(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "data.db")
	policy := writeFile(t, dataPolicy)
	steps := []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"", []string{"data", "add", "--store", url, "member", "alice", "editors"}, 0, "revision 1\n"},
		{"", []string{"data", "add", "--store", url, "--config", policy, "grant", "rules.shares", "allow", "bob", "doc:7", "edit"}, 0, "revision 2\n"},
		{`{"membership":{"resource":"doc:7","group":"folder:1"}}` + "\n" + `{"grant":{"rule":"rules.shares","effect":"deny","subject":"eve","resource":"doc:7","action":"edit"}}` + "\n",
			[]string{"data", "add", "--store", url, "--batch"}, 0, "revision 3\n"},
		{"", []string{"data", "add", "--store", url, "--if-revision", "2", "member", "carol", "editors"}, 2, ""},
		{"", []string{"data", "add", "--store", url, "--if-revision", "3", "member", "carol", "editors"}, 0, "revision 4\n"},
		{"", []string{"data", "remove", "--store", url, "member", "alice", "editors"}, 0, "revision 5\n"},
		{"", []string{"data", "list", "--store", url, "--kind", "grants"}, 0,
			"grant     [rules.shares] allow \"bob\" \"doc:7\" \"edit\"\ngrant     [rules.shares] deny \"eve\" \"doc:7\" \"edit\"\n"},
		{"", []string{"data", "list", "--store", url, "--resource", "doc:7", "--kind", "memberships"}, 0, "resource  \"doc:7\" in \"folder:1\"\n"},
		{"", []string{"changes", "--store", url, "--after", "3"}, 0, "4  add    member    \"carol\" in \"editors\"\n5  remove member    \"alice\" in \"editors\"\n"},
	}
	for i, s := range steps {
		r := run(t, s.stdin, s.args...)
		if r.code != s.code || s.out != "" && r.stdout != s.out {
			t.Fatalf("step %d %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", i, s.args, r.code, r.stdout, r.stderr, s.code, s.out)
		}
	}
}

// TestDataRefusesBadWrites: hostile records are usage errors that name
// what is wrong, and write nothing.
func TestDataRefusesBadWrites(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "data.db")
	policy := writeFile(t, dataPolicy)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"pattern member", "", []string{"member", "ali*", "editors"}, "pattern character"},
		{"alternatives", "", []string{"member", "a,b", "editors"}, "pattern character"},
		{"empty group", "", []string{"member", "alice", ""}, "invalid"},
		{"unknown record", "", []string{"user", "alice", "editors"}, "unknown record"},
		{"too few arguments", "", []string{"grant", "rules.shares", "allow", "bob"}, "grant takes"},
		{"bad effect", "", []string{"grant", "rules.shares", "permit", "bob", "doc:1", "edit"}, "want allow or deny"},
		{"static block", "", []string{"--config", policy, "grant", "rules.edit", "allow", "bob", "doc:1", "edit"}, "not dynamic"},
		{"role in a group", "", []string{"--config", policy, "member", "admin", "editors"}, "conflict"},
		{"batch: unknown field", `{"membership":{"member":"a","group":"g"},"x":1}` + "\n", []string{"--batch"}, "line 1"},
		{"batch: both kinds", `{"membership":{"member":"a","group":"g"},"grant":{"rule":"r","effect":"allow","subject":"s","resource":"r","action":"a"}}` + "\n", []string{"--batch"}, "exactly one"},
		{"batch: other op", `{"op":"remove","membership":{"member":"a","group":"g"}}` + "\n", []string{"--batch"}, "in a add batch"},
		{"batch: empty", "\n\n", []string{"--batch"}, "no records"},
		{"batch with arguments", "", []string{"--batch", "member", "a", "g"}, "give no arguments"},
		{"no store", "", []string{"--store", "", "member", "a", "g"}, "no data store"},
		{"unknown scheme", "", []string{"--store", "redis://x", "member", "a", "g"}, "unknown scheme"},
		{"negative if-revision", "", []string{"--if-revision", "-1", "member", "a", "g"}, "want a revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"data", "add", "--store", url}, tc.args...)
			r := run(t, tc.stdin, args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q", r.code, r.stderr, tc.want)
			}
		})
	}
	if r := run(t, "", "changes", "--store", url); r.code != 0 || r.stdout != "" {
		t.Errorf("the refused writes changed the store: %+v", r)
	}
}

// TestToolsSeeStoreData: who, can, explain, lint and diff read the
// store's data with --store (SPEC 10.7), and without it see the file
// alone.
func TestToolsSeeStoreData(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "data.db")
	policy := writeFile(t, dataPolicy)
	for _, args := range [][]string{
		{"member", "alice", "editors"},
		{"grant", "rules.shares", "allow", "bob", "doc:7", "edit"},
		{"member", "edtiors", "editors"}, // a data group one letter from a file group
	} {
		if r := run(t, "", append([]string{"data", "add", "--store", url}, args...)...); r.code != 0 {
			t.Fatalf("data add %q: %+v", args, r)
		}
	}
	for _, tc := range []struct {
		args      []string
		code      int
		with, not string
	}{
		{[]string{"who", "--config", policy, "--store", url, "doc:7", "edit"}, 0, "bob", ""},
		{[]string{"who", "--config", policy, "--store", url, "doc:1", "edit"}, 0, "alice", "bob"},
		{[]string{"who", "--config", policy, "doc:1", "edit"}, 0, "", "alice"},
		{[]string{"can", "--config", policy, "--store", url, "bob"}, 0, "doc:7", ""},
		{[]string{"explain", "--config", policy, "--store", url, "bob", "doc:7", "edit"}, 0, "rules.shares", ""},
		{[]string{"explain", "--config", policy, "bob", "doc:7", "edit"}, 1, "no rule matched", ""},
		{[]string{"diff", "--store", url, policy, policy}, 0, "", "bob"},
	} {
		r := run(t, "", tc.args...)
		if r.code != tc.code || tc.with != "" && !strings.Contains(r.stdout, tc.with) || tc.not != "" && strings.Contains(r.stdout, tc.not) {
			t.Errorf("%q: exit %d, stdout:\n%s\nstderr: %s\nwant exit %d, with %q, without %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.with, tc.not)
		}
	}
}

// TestDataThroughServer: the data commands work through a running server
// with its admin token, which checks each write against its policy.
func TestDataThroughServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.toml")
	tokenFile, checkFile := filepath.Join(dir, "admin-token"), filepath.Join(dir, "check-token")
	for path, text := range map[string]string{policy: dataPolicy, tokenFile: "admin-secret\n", checkFile: "check-secret\n"} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := store.NewMemory()
	s, err := server.New(server.Config{PolicyPath: policy, Store: st, Token: "check-secret", AdminToken: "admin-secret", StorePoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if resp, err := http.Get(srv.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not load its store")
		}
	}
	at := []string{"--server", srv.URL, "--token-file", tokenFile}
	// cmd puts the server's flags after the command's name: one word for
	// changes, two for data.
	cmd := func(args ...string) []string {
		n := 2
		if args[0] == "changes" {
			n = 1
		}
		return append(append(append([]string{}, args[:n]...), at...), args[n:]...)
	}
	steps := []struct {
		stdin  string
		args   []string
		code   int
		out    string
		stderr string
	}{
		{"", cmd("data", "add", "member", "alice", "editors"), 0, "revision 1\n", ""},
		{`{"membership":{"resource":"doc:7","group":"folder:1"}}` + "\n" + `{"grant":{"rule":"rules.shares","effect":"allow","subject":"bob","resource":"doc:7","action":"edit"}}` + "\n",
			cmd("data", "add", "--batch"), 0, "revision 2\n", ""},
		// The server checks writes against its policy with no --config.
		{"", cmd("data", "add", "member", "admin", "editors"), 2, "", "conflict"},
		{"", cmd("data", "add", "grant", "rules.edit", "allow", "bob", "doc:1", "edit"), 2, "", "not dynamic"},
		{"", cmd("data", "add", "--if-revision", "1", "member", "carol", "editors"), 2, "", "revision_conflict"},
		{"", cmd("data", "remove", "--if-revision", "2", "member", "alice", "editors"), 0, "revision 3\n", ""},
		{"", cmd("data", "list", "--kind", "grants"), 0, "grant     [rules.shares] allow \"bob\" \"doc:7\" \"edit\"\n", ""},
		{"", cmd("data", "list", "--limit", "1"), 0, "resource  \"doc:7\" in \"folder:1\"\n", "more: --after 2.0"},
		{"", cmd("changes", "--after", "1"), 0, "2  add    resource  \"doc:7\" in \"folder:1\"\n2  add    grant     [rules.shares] allow \"bob\" \"doc:7\" \"edit\"\n3  remove member    \"alice\" in \"editors\"\n", ""},
		// Refusals: where the data is must be said once, with the admin token.
		{"", []string{"data", "list", "--server", srv.URL, "--token-file", checkFile}, 2, "", "unauthorized"},
		{"", []string{"data", "list", "--server", srv.URL}, 2, "", "--token-file"},
		{"", []string{"data", "list", "--server", srv.URL, "--store", "memory:", "--token-file", tokenFile}, 2, "", "give one"},
		{"", []string{"data", "list", "--store", "memory:", "--token-file", tokenFile}, 2, "", "give --server too"},
		{"", []string{"data", "list", "--server", "ftp://x", "--token-file", tokenFile}, 2, "", "scheme"},
		// A memory store would vanish with the command: refused, not obeyed.
		{"", []string{"data", "add", "--store", "memory:", "member", "alice", "editors"}, 2, "", "a memory store lives only as long as one process"},
		{"", []string{"data", "list", "--store", "memory:"}, 2, "", "a memory store"},
		{"", []string{"changes", "--store", "memory:"}, 2, "", "a memory store"},
		{"", []string{"publish", "--store", "memory:", policy}, 2, "", "a memory store"},
		{"", []string{"policy", "history", "--store", "memory:"}, 2, "", "a memory store"},
		{"", []string{"data", "list", "--server", srv.URL, "--token-file", filepath.Join(dir, "nope")}, 2, "", "no such file"},
	}
	for i, s := range steps {
		r := run(t, s.stdin, s.args...)
		if r.code != s.code || s.out != "" && r.stdout != s.out || !strings.Contains(r.stderr, s.stderr) {
			t.Fatalf("step %d %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", i, s.args, r.code, r.stdout, r.stderr, s.code, s.out, s.stderr)
		}
	}
	if rev, err := st.Revision(context.Background()); err != nil || rev != 3 {
		t.Errorf("the store is at revision %d (%v); want 3", rev, err)
	}
}
