package analysis_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/engine"
)

func loadFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestWhoPublishing pins Who on the bundled example: members are decided
// one by one, so erin, an intern, is missing from publishers although her
// desk may publish, and '*' rules give an entry for any other subject.
func TestWhoPublishing(t *testing.T) {
	t.Parallel()
	m := load(t, loadFile(t, "../../examples/publishing/policy.toml"))
	tests := []struct {
		resource, action string
		want             []string // subject kind via rule
	}{
		{"articles:plants:3", "articles:publish", []string{
			"admin role - rules.admin allow[1]",
			"bob user desk_plants rules.desks allow[4]",
			"carol user editor rules.editing allow[3]",
			"chief role admin rules.admin allow[1]",
			"dave user editor rules.editing allow[3]",
			"desk_plants group - rules.desks allow[4]",
			"editor role - rules.editing allow[3]",
			"editors group editor rules.editing allow[3]",
			"grace user admin rules.admin allow[1]",
			"heidi user admin rules.admin allow[1]",
			"ops role admin rules.admin allow[1]",
		}},
		{"articles:animals:1001", "articles:read", nil}, // the embargo binds everyone
		{"", "site:settings:update", []string{
			"admin role - rules.admin allow[1]",
			"chief role admin rules.admin allow[1]",
			"grace user admin rules.admin allow[1]",
			"heidi user admin rules.admin allow[1]",
			"ops role admin rules.admin allow[1]",
		}},
	}
	for _, tt := range tests {
		grants, err := m.Who(tt.resource, tt.action)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range grants {
			via := g.Via
			if via == "" {
				via = "-"
			}
			got = append(got, fmt.Sprintf("%s %s %s %s", g.Subject, g.Kind, via, item(grantOut(g))))
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("Who(%q, %q):\n%s\nwant:\n%s", tt.resource, tt.action, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	grants, err := m.Who("articles:plants:3", "articles:read")
	if err != nil {
		t.Fatal(err)
	}
	last := grants[len(grants)-1]
	if last.Kind != "other" || last.StandsFor != "any other subject" || item(grantOut(last)) != "rules.public allow[1]" {
		t.Errorf("readers end with %+v, want any other subject by rules.public", last)
	}
}

// TestWhoOtherSubjects: undeclared subjects matching a subject pattern get
// an entry of their own, named for the pattern; under an allowing mismatch
// decision, so does every other subject.
func TestWhoOtherSubjects(t *testing.T) {
	t.Parallel()
	m := load(t, `
[roles]
staff = ['user:alice']
[[rules]]
allow = [['user:*', 'doc', 'read']]
deny = [['user:mallory', 'doc', 'read']]
[rule_policy]
strategy = 'most-specific'
mismatch_decision = 'allow'
`)
	grants, err := m.Who("doc", "read")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range grants {
		got = append(got, fmt.Sprintf("%s %s %q %s", g.Subject, g.Kind, g.StandsFor, item(grantOut(g))))
	}
	want := []string{
		`staff role "" none`,
		`user:alice user "" rules.1 allow[1]`,
		`_ other "any other subject" none`,
		`user:_ other "any other subject matching user:*" rules.1 allow[1]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Who:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCanPublishing pins Can for an intern, whose desk may publish but
// whose group may not, and for a subject the policy never names.
func TestCanPublishing(t *testing.T) {
	t.Parallel()
	m := load(t, loadFile(t, "../../examples/publishing/policy.toml"))
	tests := []struct {
		subject string
		want    []string
	}{
		{"erin", []string{
			"allow articles:* read rules.public allow[1] via= partial",
			"allow plants write rules.desks allow[2] via=desk_plants",
			"allow articles:* article:meta:setKeywords,setTitle rules.desks allow[5] via=writer",
			"deny * articles:publish,delete rules.editing deny[1] via=interns",
			"deny embargoed articles:read,publish rules.embargo deny[1] via= partial",
			"none * * none via= partial",
		}},
		{"someone", []string{
			"allow articles:* read rules.public allow[1] via= partial",
			"deny embargoed articles:read,publish rules.embargo deny[1] via=",
			"none * * none via= partial",
		}},
	}
	for _, tt := range tests {
		perms, err := m.Can(tt.subject)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range perms {
			s := fmt.Sprintf("%s %s %s %s via=%s", p.Effect, p.Resource, p.Action, item(permOut(p)), p.Via)
			if p.Partial {
				s += " partial"
			}
			got = append(got, s)
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("Can(%q):\n%s\nwant:\n%s", tt.subject, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// TestQueryHostileInput: malformed names are request errors, never an
// answer.
func TestQueryHostileInput(t *testing.T) {
	t.Parallel()
	m := load(t, loadFile(t, "../../examples/publishing/policy.toml"))
	bad := []string{"", "a*", "a,b", "a b", "a::b", ":a", "a:", strings.Repeat("a", 1025), strings.Repeat("a:", 64) + "a",
		"a\x00b", "\xff", "cafe\u0301", "a\u200bb", "{id}"}
	for _, name := range bad {
		if _, err := m.Can(name); !errors.Is(err, engine.ErrInvalidRequest) {
			t.Errorf("Can(%q): err = %v, want ErrInvalidRequest", name, err)
		}
		if name == "" {
			continue // the empty resource is "no particular resource"
		}
		if _, err := m.Who(name, "read"); !errors.Is(err, engine.ErrInvalidRequest) {
			t.Errorf("Who(%q, read): err = %v, want ErrInvalidRequest", name, err)
		}
		if _, err := m.Who("doc", name); !errors.Is(err, engine.ErrInvalidRequest) {
			t.Errorf("Who(doc, %q): err = %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, err := m.Who("doc", ""); !errors.Is(err, engine.ErrInvalidRequest) {
		t.Errorf("Who with no action: err = %v", err)
	}
}

// TestViaIsTheExplainedChain: when a subject pattern matches several of a
// subject's groups, Can and Who name the one the explanation's chain goes
// through, the nearest, not the one declared first.
func TestViaIsTheExplainedChain(t *testing.T) {
	t.Parallel()
	m := load(t, `
[groups]
team_far = ['mid']
mid = ['ann']
team_near = ['ann']
[rules.r1]
allow = [['team_*', 'doc', 'read']]
`)
	e, err := m.P.Explain(&engine.Query{Subject: "ann", Resource: "doc", Action: "read"})
	if err != nil {
		t.Fatal(err)
	}
	path := e.Decision.SubjectPath
	if len(path) != 2 || path[1] != "team_near" {
		t.Fatalf("the explanation's chain is %q; the test expects [ann team_near]", path)
	}
	perms, err := m.Can("ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) == 0 || perms[0].Via != "team_near" {
		t.Errorf("Can(ann) = %+v, want the first via team_near", perms)
	}
	grants, err := m.Who("doc", "read")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if g.Subject == "ann" && g.Via != "team_near" {
			t.Errorf("Who lists ann via %q, want team_near", g.Via)
		}
	}
}

// TestModelWithoutPolicy: a zero Model, a nil one and one built without a
// policy answer every question with ErrNoPolicy, never a panic and never
// an empty answer that looks like "nobody".
func TestModelWithoutPolicy(t *testing.T) {
	t.Parallel()
	good := load(t, "[[rules]]\nallow = [['u', 'doc', 'read']]\n")
	var nilModel *analysis.Model
	for name, m := range map[string]*analysis.Model{
		"zero":      {},
		"nil":       nilModel,
		"no policy": analysis.NewModel(nil, nil),
	} {
		if _, err := m.Who("doc", "read"); !errors.Is(err, engine.ErrNoPolicy) {
			t.Errorf("%s: Who: err = %v", name, err)
		}
		if _, err := m.Can("u"); !errors.Is(err, engine.ErrNoPolicy) {
			t.Errorf("%s: Can: err = %v", name, err)
		}
		if _, err := analysis.Diff(m, good); !errors.Is(err, engine.ErrNoPolicy) {
			t.Errorf("%s: Diff from it: err = %v", name, err)
		}
		if _, err := analysis.Diff(good, m); !errors.Is(err, engine.ErrNoPolicy) {
			t.Errorf("%s: Diff to it: err = %v", name, err)
		}
	}
}
