package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden/internal/workload"
)

const diffBase = `
[groups]
g1 = ['alice', 'bob']
[resources]
res2 = ['part_a', 'part_c']
[rules.r1]
allow = [['g1', 'res2', 'GET']]
`

// TestDiff pins warden diff's exit codes (0 unchanged, 1 changed, 2 error)
// and its "grants bob DELETE on res2" lines.
func TestDiff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := write(t, dir, "old.toml", diffBase)
	same := write(t, dir, "same.toml", "# reordered\n[rules.r1]\nallow = [['g1', 'res2', 'GET']]\n[resources]\nres2 = ['part_c', 'part_a']\n[groups]\ng1 = ['bob', 'alice']\n")
	grant := write(t, dir, "grant.toml", diffBase+"[rules.r2]\nallow = [['bob', 'res2', 'DELETE']]\n")
	revoke := write(t, dir, "revoke.toml", strings.Replace(diffBase, "g1 = ['alice', 'bob']", "g1 = ['alice']", 1))
	broken := write(t, dir, "broken.toml", "[rules.r1]\nallow = [['g1', 'res2', 'GET']]\nstrategy = 'x'\n")
	tests := []cmdCase{
		{"identical", []string{old, old}, 0, []string{"no decision changes from " + old + " to " + old}, ""},
		{"reordered", []string{old, same}, 0, []string{"no decision changes"}, ""},
		{"grant", []string{old, grant}, 1, []string{
			`grants  "bob" "DELETE" on "res2"` + "\n" +
				`    old: DENIED   no rule matched; the default mismatch decision is "deny"` + "\n" +
				`    new: ALLOWED  [rules.r2] "bob" is allowed to do "DELETE" on "res2"` + "\n",
			`grants  "bob" "DELETE" on "part_a"`,
			`grants  "bob" "DELETE" on "part_c"`,
			"3 decision(s) change from",
		}, ""},
		{"membership", []string{old, revoke}, 1, []string{
			`revokes "bob" "GET" on "part_a"`,
			`    old: ALLOWED  [rules.r1] "g1" is allowed to do "GET" on "res2"`,
			"3 decision(s) change",
		}, ""},
		{"reverse", []string{grant, old}, 1, []string{`revokes "bob" "DELETE" on "res2"`}, ""},
		{"broken new", []string{old, broken}, 2, nil, "broken.toml:3:1: unknown key \"rules.r1.strategy\""},
		{"missing old", []string{filepath.Join(dir, "nope.toml"), old}, 2, nil, "no such file"},
		{"one arg", []string{old}, 2, nil, "accepts 2 arg(s)"},
	}
	runCases(t, newDiff, tests)
}

// TestDiffJSON: --json gives both versions, whether anything changed, and
// each change with its old and new rule items; representatives say what
// they stand for.
func TestDiffJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := write(t, dir, "old.toml", diffBase)
	nw := write(t, dir, "new.toml", diffBase+"[rules.r2]\ndeny = [['*', 'part_a', '*']]\n")
	r := runCmd(t, newDiff(), "--json", old, nw)
	if r.code != 1 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Old     string `json:"old_policy_version"`
		New     string `json:"new_policy_version"`
		Changed bool
		Changes []struct {
			Subject, Resource, Action string
			SubjectStandsFor          string `json:"subject_stands_for"`
			Old, New                  struct {
				Allowed      bool
				Effect, Rule string
				Item         int
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if !out.Changed || out.Old == out.New || len(out.Changes) != 3 {
		t.Fatalf("%+v", out)
	}
	for i, who := range []string{"alice", "bob", "g1"} {
		c := out.Changes[i]
		if c.Subject != who || c.Resource != "part_a" || c.Action != "GET" || c.SubjectStandsFor != "" ||
			!c.Old.Allowed || c.Old.Rule != "rules.r1" || c.Old.Effect != "allow" ||
			c.New.Allowed || c.New.Rule != "rules.r2" || c.New.Effect != "deny" || c.New.Item != 1 {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	r = runCmd(t, newDiff(), "--json", old, old)
	if r.code != 0 || !strings.Contains(r.stdout, `"changed":false,"changes":[]`) {
		t.Errorf("exit %d: %s", r.code, r.stdout)
	}
}

// BenchmarkLargeCommands runs who, can and diff on the 110,000-rule RBAC
// policy from its file, as a user would, loading included (target: each
// within 2 s on RBAC large). Each iteration also checks the answer, so a
// fast wrong answer cannot pass for a fast right one.
//
//	go test ./internal/cli/ -run '^$' -bench BenchmarkLargeCommands -benchtime 3x
func BenchmarkLargeCommands(b *testing.B) {
	dir := b.TempDir()
	src := workload.RBAC("rbac-large", 100000, 10000).Source
	text := workload.TOML(src)
	old := write(b, dir, "old.toml", text)
	changed := strings.Replace(text, "[rules.p_5001]\nallow = [['group5000', 'data500', 'read']]", "[rules.p_5001]\nallow = [['group5000', 'data500', 'read,write']]", 1)
	if changed == text {
		b.Fatal("the edit did not apply")
	}
	nw := write(b, dir, "new.toml", changed)
	for _, c := range []struct {
		name string
		cmd  func() *cobra.Command
		args []string
		code int
		want string
	}{
		{"who", newWho, []string{"-c", old, "data500", "read"}, 0, "110 subject(s)"},
		{"can", newCan, []string{"-c", old, "user50001"}, 0, "rules.p_5001 allow[1] via group5000"},
		{"diff", newDiff, []string{old, nw}, 1, "11 decision(s) change"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := runCmd(b, c.cmd(), c.args...)
				if r.code != c.code || !strings.Contains(r.stdout, c.want) {
					b.Fatalf("exit %d, stdout %.300s, stderr %s", r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}
