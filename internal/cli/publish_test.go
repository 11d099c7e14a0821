package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/cli"
	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
)

// Two versions of one policy: the editors may edit documents, then only
// review them.
const (
	editPolicy = `
[groups]
editors = ['alice']

[rules.docs]
allow = [['editors', 'doc:*', 'edit']]
`
	reviewPolicy = `
[groups]
editors = ['alice']

[rules.docs]
allow = [['editors', 'doc:*', 'review']]
`
)

// versionOf is the content hash warden gives a policy text.
func versionOf(t testing.TB, text string) string {
	t.Helper()
	p, err := warden.Parse("policy.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p.Version()
}

// currentPolicy reads the current version straight from the SQLite file.
func currentPolicy(t *testing.T, db string) (store.PolicyVersion, error) {
	t.Helper()
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return st.CurrentPolicy(context.Background())
}

// historyLine matches a line of `warden policy history`: the current
// mark, the Seq, the time, the version, the name and what it was.
var historyLine = regexp.MustCompile(`^([* ]) +(\d+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (\S+)  (.*)  (published|rolled back to version \d+)$`)

// TestPublishHistoryRollback publishes two files to a real SQLite store,
// lists the history in both forms, rolls back, and reads the store
// itself to check what each command left in it.
func TestPublishHistoryRollback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "warden.db")
	url := "sqlite:" + db
	edit, review := writeIn(t, dir, "edit.toml", editPolicy), writeIn(t, dir, "review.toml", reviewPolicy)
	v1, v2 := versionOf(t, editPolicy), versionOf(t, reviewPolicy)
	if v1 == v2 {
		t.Fatal("the two policies have one version")
	}
	type line struct{ mark, seq, version, name, what string }
	steps := []struct {
		args    []string
		out     string // the whole of stdout, when set
		history []line // what policy history lists afterwards
	}{
		{[]string{"policy", "history", "--store", url}, "", nil},
		{[]string{"publish", "--store", url, edit}, "published " + v1 + " as version 1\n",
			[]line{{"*", "1", v1, edit, "published"}}},
		{[]string{"publish", "--store", url, review}, "published " + v2 + " as version 2\n",
			[]line{{"*", "2", v2, review, "published"}, {" ", "1", v1, edit, "published"}}},
		{[]string{"policy", "rollback", "--store", url, v1}, "rolled back to " + v1 + " (version 1) as version 3\n",
			[]line{{"*", "3", v1, edit, "rolled back to version 1"}, {" ", "2", v2, review, "published"}, {" ", "1", v1, edit, "published"}}},
		// Publishing what is current again is a new version too.
		{[]string{"publish", "--store", url, edit}, "published " + v1 + " as version 4\n",
			[]line{{"*", "4", v1, edit, "published"}, {" ", "3", v1, edit, "rolled back to version 1"}, {" ", "2", v2, review, "published"}, {" ", "1", v1, edit, "published"}}},
		{[]string{"policy", "rollback", "--store", url, v2}, "rolled back to " + v2 + " (version 2) as version 5\n",
			[]line{{"*", "5", v2, review, "rolled back to version 2"}, {" ", "4", v1, edit, "published"}, {" ", "3", v1, edit, "rolled back to version 1"}, {" ", "2", v2, review, "published"}, {" ", "1", v1, edit, "published"}}},
	}
	for i, s := range steps {
		r := run(t, "", s.args...)
		if r.code != 0 || s.out != "" && r.stdout != s.out {
			t.Fatalf("step %d %q: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", i, s.args, r.code, r.stdout, r.stderr, s.out)
		}
		h := run(t, "", "policy", "history", "--store", url)
		if h.code != 0 {
			t.Fatalf("step %d: policy history: %+v", i, h)
		}
		var got []line
		for _, l := range strings.Split(strings.TrimSuffix(h.stdout, "\n"), "\n") {
			if l == "" {
				continue
			}
			m := historyLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("step %d: history line %q is not mark, seq, time, version, name and what", i, l)
			}
			got = append(got, line{m[1], m[2], m[4], m[5], m[6]})
		}
		if fmt.Sprint(got) != fmt.Sprint(s.history) {
			t.Fatalf("step %d %q: history\n%s\nwant %v", i, s.args, h.stdout, s.history)
		}
	}

	// The store holds the rolled-back text byte for byte, under its name.
	cur, err := currentPolicy(t, db)
	if err != nil || cur.Seq != 5 || cur.Version != v2 || cur.Name != review || cur.RollbackOf != 2 || string(cur.Text) != reviewPolicy {
		t.Fatalf("the store's current version = %+v, %v; want version 5, %s from %s", cur, err, v2, review)
	}

	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", "policy", "history", "--store", url, "--limit", "2")
		if lines := strings.Count(r.stdout, "\n"); r.code != 0 || lines != 2 || !strings.HasPrefix(r.stdout, "*    5  ") {
			t.Fatalf("history --limit 2: exit %d, %d lines:\n%s%s", r.code, lines, r.stdout, r.stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", "policy", "history", "--store", url, "--json")
		if r.code != 0 {
			t.Fatalf("history --json: %+v", r)
		}
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		for seq := uint64(5); seq >= 1; seq-- {
			var v store.PolicyVersion
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("history --json, entry of Seq %d: %v\n%s", seq, err, r.stdout)
			}
			if v.Seq != seq || v.Text != nil || v.Time.IsZero() || (v.Version != v1 && v.Version != v2) {
				t.Fatalf("history --json: %+v; want Seq %d, without its text", v, seq)
			}
		}
		if strings.Contains(r.stdout, `"text"`) {
			t.Errorf("history --json lists texts:\n%s", r.stdout)
		}
	})
}

// TestPublishRefuses: a file that does not load, or that no store would
// keep, is refused with exit 2 and its problem named, and nothing is
// published.
func TestPublishRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		file func(dir string) string // the file to publish; the store is dir/warden.db
		args []string                // instead of --store URL FILE
		want string
	}{
		{"broken pattern", func(dir string) string {
			return writeIn(t, dir, "policy.toml", "[rules.x]\nallow = [['a::b', 'c', 'd']]\n")
		}, nil, `policy.toml:2:11: rules.x allow[1]: subject pattern: "a::b": empty segment`},
		{"syntax error", func(dir string) string { return writeIn(t, dir, "policy.toml", "[rules\n") }, nil, "policy.toml:1:"},
		{"unknown key", func(dir string) string {
			return writeIn(t, dir, "policy.toml", "[rules.x]\nalow = [['a', 'b', 'c']]\n")
		}, nil, "policy.toml:2:1"},
		{"empty file", func(dir string) string { return writeIn(t, dir, "policy.toml", "") }, nil, "no text"},
		{"over the limit", func(dir string) string {
			return writeIn(t, dir, "policy.toml", "#"+strings.Repeat(" ", store.MaxPolicyBytes)+"\n")
		}, nil, "over 16777216 bytes"},
		{"newline in the file name", func(dir string) string {
			return writeIn(t, dir, "policy\n.toml", editPolicy)
		}, nil, "control character U+000A"},
		{"missing file", func(dir string) string { return filepath.Join(dir, "missing.toml") }, nil, "no such file"},
		{"a directory", func(dir string) string { return dir }, nil, "is a directory"},
		{"no store", nil, []string{"publish", "--store", "", "../../examples/accesscontrol/full-rbac.toml"}, "no data store"},
		{"unknown scheme", nil, []string{"publish", "--store", "redis://x", "../../examples/accesscontrol/full-rbac.toml"}, "unknown scheme"},
		{"no file", nil, []string{"publish", "--store", "sqlite:x.db"}, "accepts 1 arg"},
		{"two files", nil, []string{"publish", "--store", "sqlite:x.db", "a.toml", "b.toml"}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "warden.db")
			args := tc.args
			if tc.file != nil {
				args = []string{"publish", "--store", "sqlite:" + db, tc.file(dir)}
			}
			r := run(t, "", args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", r.code, r.stdout, pShort(r.stderr), tc.want)
			}
			if tc.file == nil {
				return
			}
			if v, err := currentPolicy(t, db); !errors.Is(err, store.ErrNoPolicy) {
				t.Fatalf("after a refused publish the store holds %+v, %v; want nothing published", v, err)
			}
		})
	}
}

// TestPolicyCommandsRefuse: rollbacks to versions the history does not
// hold, and limits out of range, are exit 2 and change nothing.
func TestPolicyCommandsRefuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "warden.db")
	url := "sqlite:" + db
	empty := "sqlite:" + filepath.Join(dir, "empty.db")
	if r := run(t, "", "publish", "--store", url, writeIn(t, dir, "policy.toml", editPolicy)); r.code != 0 {
		t.Fatalf("publish: %+v", r)
	}
	v1 := versionOf(t, editPolicy)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown version", []string{"policy", "rollback", "--store", url, "sha256:0000000000000000"}, "no version sha256:0000000000000000 in the history"},
		{"prefix of a version", []string{"policy", "rollback", "--store", url, v1[:len(v1)-1]}, "no policy published"},
		{"nothing published", []string{"policy", "rollback", "--store", empty, v1}, "no policy published"},
		{"NUL in the version", []string{"policy", "rollback", "--store", url, v1 + "\x00"}, "not printable ASCII"},
		{"empty version", []string{"policy", "rollback", "--store", url, ""}, "no version"},
		{"no version", []string{"policy", "rollback", "--store", url}, "accepts 1 arg"},
		{"two versions", []string{"policy", "rollback", "--store", url, v1, v1}, "accepts 1 arg"},
		{"rollback without a store", []string{"policy", "rollback", "--store", "", v1}, "no data store"},
		{"negative limit", []string{"policy", "history", "--store", url, "--limit", "-1"}, "limit -1 is outside 0 to 10000"},
		{"limit over the maximum", []string{"policy", "history", "--store", url, "--limit", "10001"}, "limit 10001 is outside 0 to 10000"},
		{"history without a store", []string{"policy", "history", "--store", ""}, "no data store"},
		{"history with an argument", []string{"policy", "history", "--store", url, "x"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "", tc.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
	cur, err := currentPolicy(t, db)
	if err != nil || cur.Seq != 1 || cur.Version != v1 || !bytes.Equal(cur.Text, []byte(editPolicy)) {
		t.Fatalf("after the refused commands the store's current version = %+v, %v; want Seq 1, as published", cur, err)
	}
}

// writeIn writes text to the file name in dir and returns its path.
func writeIn(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pShort(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestCLIHelperProcess is not a test: it is the `warden` process
// TestPublishedPolicyFollowed starts, selected by WARDEN_CLI_HELPER, with
// the arguments in WARDEN_CLI_ARGS, split at \x1f.
func TestCLIHelperProcess(t *testing.T) {
	if os.Getenv("WARDEN_CLI_HELPER") != "1" {
		t.Skip("run by TestPublishedPolicyFollowed")
	}
	os.Exit(cli.Run(strings.Split(os.Getenv("WARDEN_CLI_ARGS"), "\x1f"), os.Stdin, os.Stdout, os.Stderr))
}

// wardenProcess runs `warden args...` as a process of its own, and
// returns its outcome and when it was seen to exit.
func wardenProcess(t *testing.T, args ...string) (result, time.Time) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), "WARDEN_CLI_HELPER=1", "WARDEN_CLI_ARGS="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	exited := time.Now()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("warden %q: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}, exited
}

// pgStoreURL returns a store URL on the PostgreSQL database dsn, in a
// schema of its own, dropped when t ends.
func pgStoreURL(t *testing.T, dsn string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "warden_publish_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "schema=" + schema
}

// TestPublishedPolicyFollowed is SPEC 11.3 end to end: `warden publish`,
// a process of its own, stores a file; engines following the store
// (three, each with a Store of its own, as three instances of a fleet
// have) serve it, and each serves the next version published, and the
// one rolled back to, within a second of the command returning. On
// SQLite the engines learn of it by polling the file every 250 ms, on
// PostgreSQL by notification.
func TestPublishedPolicyFollowed(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	stores := []struct{ name, url string }{{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "warden.db")}}
	if dsn := os.Getenv("WARDEN_TEST_POSTGRES"); dsn != "" {
		stores = append(stores, struct{ name, url string }{"postgres", pgStoreURL(t, dsn)})
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			edit, review := writeIn(t, dir, "edit.toml", editPolicy), writeIn(t, dir, "review.toml", reviewPolicy)
			v1, v2 := versionOf(t, editPolicy), versionOf(t, reviewPolicy)
			if r, _ := wardenProcess(t, "publish", "--store", sc.url, edit); r.code != 0 || r.stdout != "published "+v1+" as version 1\n" {
				t.Fatalf("warden publish: %+v", r)
			}
			var engines []*warden.Engine
			for range 3 {
				st, err := storeurl.Open(ctx, sc.url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				eng, err := warden.NewEngine(ctx, nil, st, &warden.EngineOptions{FollowPolicy: true})
				if err != nil {
					t.Fatalf("an engine following the store: %v", err)
				}
				t.Cleanup(func() { eng.Close() })
				engines = append(engines, eng)
			}
			req := warden.Request{Subject: "alice", Resource: "doc:1", Action: "edit"}
			for i, eng := range engines {
				if d, err := eng.Decide(ctx, req); err != nil || d.PolicyVersion != v1 || !d.Allowed {
					t.Fatalf("engine %d on start: %+v, %v; want %s, allowed", i, d, err, v1)
				}
			}
			// switchTo makes a change, which returns when it returned,
			// and waits for every engine to serve version want, under
			// which alice may edit or not.
			switchTo := func(what, want string, mayEdit bool, change func() time.Time) {
				t.Helper()
				returned := change()
				for i, eng := range engines {
					for {
						d, err := eng.Decide(ctx, req)
						if err != nil {
							t.Fatal(err)
						}
						if d.PolicyVersion == want {
							if d.Allowed != mayEdit {
								t.Fatalf("engine %d under %s: %+v", i, want, d)
							}
							break
						}
						if since := time.Since(returned); since > time.Second {
							t.Fatalf("engine %d still serves %s %v after %s returned; SPEC 11.3: every instance within a second", i, d.PolicyVersion, since, what)
						}
						time.Sleep(time.Millisecond)
					}
				}
				t.Logf("%s: all three engines served %s within %v of its return", what, want, time.Since(returned))
			}
			command := func(args ...string) func() time.Time {
				return func() time.Time {
					r, exited := wardenProcess(t, args...)
					if r.code != 0 {
						t.Fatalf("warden %q: %+v", args, r)
					}
					return exited
				}
			}
			switchTo("`warden publish`", v2, false, command("publish", "--store", sc.url, review))
			switchTo("`warden policy rollback`", v1, true, command("policy", "rollback", "--store", sc.url, v1))
			// A process's exit can come long after its commit (under the
			// race detector, most of a second), when every engine has long
			// switched: the time from a commit made in this process, on a
			// Store of its own as another instance's, is the engines' own.
			other, err := storeurl.Open(ctx, sc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			for i, v := range []struct {
				text, version string
				mayEdit       bool
			}{{reviewPolicy, v2, false}, {editPolicy, v1, true}, {reviewPolicy, v2, false}} {
				switchTo(fmt.Sprintf("warden.Publish #%d", i+1), v.version, v.mayEdit, func() time.Time {
					if _, err := warden.Publish(ctx, other, "policy.toml", []byte(v.text)); err != nil {
						t.Fatal(err)
					}
					return time.Now()
				})
			}
		})
	}
}
