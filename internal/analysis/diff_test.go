package analysis_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
)

func load(t testing.TB, text string) *analysis.Model {
	t.Helper()
	src, errs := config.Parse("policy.toml", []byte(text))
	if len(errs) > 0 {
		t.Fatalf("policy does not parse: %v", errs)
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		t.Fatalf("policy does not compile: %v", errs)
	}
	return analysis.NewModel(src, p)
}

func item(o analysis.Outcome) string {
	if o.Rule == "" {
		return "none"
	}
	return fmt.Sprintf("%s %s[%d]", o.Rule, o.Effect, o.Item)
}

// render writes a change as one line: grants or revokes, the request, and
// the items responsible before and after. Representatives are marked '~'.
func render(c analysis.Change) string {
	verb := "revokes"
	if c.New.Allowed {
		verb = "grants"
	}
	name := func(n, stands string) string {
		if n == "" {
			return `""`
		}
		if stands != "" {
			return "~" + n
		}
		return n
	}
	return fmt.Sprintf("%s %s %s %s (%s → %s)", verb, name(c.Subject, c.SubjectStandsFor), name(c.Action, c.ActionStandsFor),
		name(c.Resource, c.ResourceStandsFor), item(c.Old), item(c.New))
}

const base = `
[groups]
g1 = ['alice', 'bob']
g2 = ['carol']

[roles]
reader = ['g1']
admin = ['g2']

[resources]
res1 = ['part_a', 'part_b']
res2 = ['part_a', 'part_c']

[rules.r1]
allow = [['reader', 'res1', 'GET']]

[rules.r2]
allow = [['admin', '*', '*']]
deny = [['bob', 'part_b', 'GET']]
`

// TestDiffHandWritten pins what diff reports for the edits a pull request
// typically makes.
func TestDiffHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{
			name: "grant added",
			old:  base,
			new:  base + "\n[rules.r3]\nallow = [['bob', 'res2', 'DELETE']]\n",
			want: []string{
				"grants bob DELETE part_a (none → rules.r3 allow[1])",
				"grants bob DELETE part_c (none → rules.r3 allow[1])",
				"grants bob DELETE res2 (none → rules.r3 allow[1])",
			},
		},
		{
			name: "deny added",
			old:  base,
			new:  base + "\n[rules.r3]\ndeny = [['alice', 'part_a', 'GET']]\n",
			want: []string{"revokes alice GET part_a (rules.r1 allow[1] → rules.r3 deny[1])"},
		},
		{
			name: "group membership change",
			old:  base,
			new:  strings.Replace(base, "g2 = ['carol']", "g2 = ['carol', 'dave']", 1),
			want: []string{
				// The groups of resources and actions are unchanged, so
				// the requests of the rule that now reaches dave are
				// listed over every declared resource.
				`grants dave GET "" (none → rules.r2 allow[1])`,
				`grants dave ~_ "" (none → rules.r2 allow[1])`,
				"grants dave GET ~_ (none → rules.r2 allow[1])",
				"grants dave ~_ ~_ (none → rules.r2 allow[1])",
				"grants dave GET part_a (none → rules.r2 allow[1])",
				"grants dave ~_ part_a (none → rules.r2 allow[1])",
				"grants dave GET part_b (none → rules.r2 allow[1])",
				"grants dave ~_ part_b (none → rules.r2 allow[1])",
				"grants dave GET part_c (none → rules.r2 allow[1])",
				"grants dave ~_ part_c (none → rules.r2 allow[1])",
				"grants dave GET res1 (none → rules.r2 allow[1])",
				"grants dave ~_ res1 (none → rules.r2 allow[1])",
				"grants dave GET res2 (none → rules.r2 allow[1])",
				"grants dave ~_ res2 (none → rules.r2 allow[1])",
			},
		},
		{
			name: "strategy change",
			old:  base + "\n[rules.r4]\ndeny = [['g2', 'part_c', 'GET']]\n",
			new:  base + "\n[rules.r4]\ndeny = [['g2', 'part_c', 'GET']]\n[rule_policy]\nstrategy = 'allow-overrides'\n",
			want: []string{
				// bob's own deny no longer overrides his role's allow.
				"grants bob GET part_b (rules.r2 deny[1] → rules.r1 allow[1])",
				"grants carol GET part_c (rules.r4 deny[1] → rules.r2 allow[1])",
				"grants g2 GET part_c (rules.r4 deny[1] → rules.r2 allow[1])",
			},
		},
		{
			name: "mismatch decision change",
			old:  "[rules.r1]\nallow = [['alice', 'doc', 'read']]\n",
			new:  "[rules.r1]\nallow = [['alice', 'doc', 'read']]\n[rule_policy]\nmismatch_decision = 'allow'\n",
			want: []string{
				// Subjects other than alice: no rule tells resources or
				// actions apart.
				`grants ~_ ~_ "" (none → none)`,
				"grants ~_ ~_ ~_ (none → none)",
				// alice: every request but the one her rule decides.
				`grants alice ~_ "" (none → none)`,
				`grants alice read "" (none → none)`,
				"grants alice ~_ ~_ (none → none)",
				"grants alice read ~_ (none → none)",
				"grants alice ~_ doc (none → none)",
			},
		},
		{
			name: "reordered declarations change nothing",
			old:  base,
			new: `
[rules.r2]
deny = [['bob', 'part_b', 'GET']]
allow = [['admin', '*', '*']]

[resources]
res2 = ['part_c', 'part_a']
res1 = ['part_b', 'part_a']

[roles]
admin = ['g2']
reader = ['g1']

[groups]
g2 = ['carol']
g1 = ['bob', 'alice']

[rules.r1]
allow = [['reader', 'res1', 'GET']]
`,
			want: nil,
		},
		{
			name: "pattern member added to a resource group",
			old:  base,
			new:  strings.Replace(base, "res1 = ['part_a', 'part_b']", "res1 = ['part_a', 'part_b', 'extra:*']", 1),
			want: []string{
				"grants alice GET ~extra:_ (none → rules.r1 allow[1])",
				"grants bob GET ~extra:_ (none → rules.r1 allow[1])",
				"grants g1 GET ~extra:_ (none → rules.r1 allow[1])",
				"grants reader GET ~extra:_ (none → rules.r1 allow[1])",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changes, err := analysis.Diff(load(t, tt.old), load(t, tt.new))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				got = append(got, render(c))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
