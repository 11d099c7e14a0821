package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/lint"
	"github.com/warden-authz/warden/internal/workload"
)

// load reads and compiles a policy file; lint runs only on policies that
// compile.
func load(t testing.TB, path string) *engine.Source {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, filepath.Base(path), string(data))
}

func parse(t testing.TB, name, text string) *engine.Source {
	t.Helper()
	src, errs := config.Parse(name, []byte(text))
	if _, cerrs := engine.Compile(src); len(errs)+len(cerrs) > 0 {
		t.Fatalf("%s does not compile: %v %v", name, errs, cerrs)
	}
	return src
}

// brief renders a finding as the fixtures state it: severity, code and
// line:col.
func brief(f lint.Finding) string {
	return fmt.Sprintf("%v %s %d:%d", f.Severity, f.Code, f.Pos.Line, f.Pos.Col)
}

func briefs(fs []lint.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = brief(f)
	}
	return out
}

// TestFixtures runs every file in testdata: each states, in "# want"
// lines, exactly the findings it must produce, and is named after the code
// it proves (a suffix after the code names a variant: no-schema-strict).
func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	covered := make(map[string]bool)
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".toml")
		code := ""
		for _, c := range lint.Codes {
			if (name == c || strings.HasPrefix(name, c+"-")) && len(c) > len(code) {
				code = c
			}
		}
		if code == "" {
			t.Errorf("%s: fixture is not named after a finding code", path)
			continue
		}
		covered[code] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for line := range strings.Lines(string(data)) {
				if w, ok := strings.CutPrefix(strings.TrimSpace(line), "# want "); ok {
					want = append(want, w)
				}
			}
			got := lint.Run(parse(t, filepath.Base(path), string(data)), nil, nil)
			if !slices.Equal(briefs(got), want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(briefs(got), "\n"), strings.Join(want, "\n"))
			}
			if !slices.ContainsFunc(got, func(f lint.Finding) bool { return f.Code == code }) {
				t.Errorf("no %s finding", code)
			}
			for _, f := range got {
				if f.Message == "" || f.Hint == "" || f.Pos.File != filepath.Base(path) {
					t.Errorf("finding without message, hint or file: %+v", f)
				}
			}
		})
	}
	for _, c := range lint.Codes {
		if !covered[c] {
			t.Errorf("code %s has no fixture in testdata", c)
		}
	}
}

// TestExamples keeps the bundled examples honest. All but one must lint
// clean, without even an info. full-rbac.toml is AccessControl's own
// example ported unchanged on purpose (examples/accesscontrol/README.md):
// it keeps FIRST_MATCH with a deny that the allow before it shadows,
// mismatch_decision = 'allow', and the g4/g5 cycle that SPEC 3.2 uses as
// its example, so lint must report exactly those three.
func TestExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"accesscontrol/acl.toml", nil},
		{"accesscontrol/most-simple.toml", nil},
		{"accesscontrol/usage.toml", nil},
		{"publishing/policy.toml", nil},
		// staff is a group that runtime data makes; lint sees it with
		// --store, and without the store says so as an info.
		{"docsharing/policy.toml", []string{"info undeclared-name 29:11"}},
		{"accesscontrol/full-rbac.toml", []string{"info cycle 11:1", "warning conflict 34:5", "warning fail-open 41:21"}},
	}
	files, _ := filepath.Glob("../../examples/*/*.toml")
	// Files named *_test.toml hold expected decisions, not policies.
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.toml") })
	if len(files) != len(tests) {
		t.Errorf("%d example policies, %d in this table: add the new one", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got := lint.Run(load(t, filepath.Join("../../examples", tt.file)), nil, nil)
			if !slices.Equal(briefs(got), tt.want) {
				t.Errorf("findings:\n%v\nwant %q", got, tt.want)
			}
		})
	}
}

// TestFindings pins the behaviour each check must have, including where it
// must stay silent.
func TestFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		want         []string // "code line:col"
	}{
		{"typo of a resource group", "[resources]\narticles = ['a:1']\n[[rules]]\nallow = [['u', 'aritcles', 'read']]", []string{"typo 4:16"}},
		{"typo of an action group, case only", "[actions]\nwrite = ['PUT']\n[[rules]]\nallow = [['u', 'r', 'Write']]", []string{"typo 4:21"}},
		{"typo of a member", "[groups]\ng = ['alice']\n[[rules]]\nallow = [['alcie', 'r', 'read']]", []string{"typo 4:11"}},
		{"numbered names are no typos", "[groups]\ng = ['user2']\n[[rules]]\nallow = [['g', 'r', 'read'], ['user1', 'r', 'read']]", []string{"undeclared-name 4:31"}},
		{"member one edit from a role", "[roles]\nadmins = ['alice']\n[groups]\nstaff = ['admns']\n[[rules]]\nallow = [['admins', 'r', 'read'], ['staff', 'r', 'read']]", []string{"member-typo 4:10"}},
		{"member two edits away is silent", "[groups]\nstaff = ['alice']\n[roles]\nadmin = ['sta']\neditor = ['stiffy']\n[[rules]]\nallow = [['admin', 'r', 'read'], ['editor', 'r', 'read'], ['staff', 'r', 'read']]", nil},
		{"member one edit from its own group is silent", "[groups]\nadmins = ['admin', 'bob']\nstaff = ['carol']\n[[rules]]\nallow = [['admins', 'r', 'read'], ['staff', 'r', 'read']]", nil},
		{"member the near group lists too is silent", "[groups]\nadmins = ['admin']\nstaff = ['admin']\n[[rules]]\nallow = [['admins', 'r', 'read'], ['staff', 'r', 'read']]", nil},
		{"numbered members are silent", "[groups]\nusers = ['user1', 'user2']\nops = ['users2', 'carol']\n[[rules]]\nallow = [['users', 'r', 'read'], ['ops', 'r', 'read']]", nil},
		{"member naming a group is silent", "[groups]\nstaff = ['alice']\n[roles]\nadmin = ['staff']\n[[rules]]\nallow = [['admin', 'r', 'read']]", nil},
		{"resource group members are not judged", "[resources]\narticles = ['article', 'articels']\ndocs = ['doc:1']\n[[rules]]\nallow = [['u', 'articles', 'read'], ['u', 'docs', 'read']]", nil},
		{"undeclared without groups is silent", "[[rules]]\nallow = [['bob', 'r', 'read']]", nil},
		{"pattern member declares names", "[resources]\nanimals = ['articles:animals:*']\n[[rules]]\nallow = [['u', 'articles:animals:1', 'read']]", nil},
		{"self-listing group", "[groups]\ng = ['g', 'a']\n[[rules]]\nallow = [['g', 'r', 'read']]", []string{"cycle 2:1"}},
		{"resource cycle", "[resources]\na = ['b']\nb = ['a', 'x']\n[[rules]]\nallow = [['u', 'a', 'read']]", []string{"cycle 2:1"}},
		{"first-match: covered by a group", "[roles]\nr = ['u']\n[[rules]]\nallow = [['r', '*', 'read'], ['u', 'doc', 'read']]\n[rule_policy]\nstrategy = 'first-match'", []string{"shadowed 4:30"}},
		{"first-match: later broader rule is fine", "[[rules]]\nallow = [['u', 'doc', 'read'], ['u', '*', 'read']]\n[rule_policy]\nstrategy = 'first-match'", nil},
		{"first-match: glob covers glob", "[[rules]]\nallow = [['u', 'a:*', 'set*'], ['u', 'a:b:c', 'setName*']]\n[rule_policy]\nstrategy = 'first-match'", []string{"shadowed 2:32"}},
		{"first-match: alternatives covered", "[[rules]]\ndeny = [['u', 'a:*:c', 'read,write,delete'], ['u', 'a:b:c', 'read,write']]\n[rule_policy]\nstrategy = 'FIRST_MATCH'", []string{"shadowed 2:46"}},
		{"first-match: partial overlap is fine", "[[rules]]\ndeny = [['u', 'a:*', 'read'], ['u', 'a:*', 'read,write']]\n[rule_policy]\nstrategy = 'first-match'", nil},
		{"rest does not cover a shorter name", "[[rules]]\nallow = [['u', 'a:b:*', 'read'], ['u', 'a:b', 'read']]\n[rule_policy]\nstrategy = 'first-match'", nil},
		{"action group covers a member", "[actions]\nw = ['PUT', 'POST']\n[[rules]]\nallow = [['u', 'r', 'w'], ['u', 'r', 'PUT']]", []string{"redundant 4:27"}},
		{"equal rules: only the later is redundant", "[[rules]]\nallow = [['u', 'r', 'a,a'], ['u', 'r', 'a']]", []string{"redundant 2:29"}},
		{"allow-overrides: allow wins", "[[rules]]\nallow = [['*', 'r', 'read']]\ndeny = [['u', 'r', 'read']]\n[rule_policy]\nstrategy = 'allow-overrides'", []string{"unreachable 3:9"}},
		{"deny-overrides: deny covered by allow is reachable", "[[rules]]\nallow = [['*', 'r', 'read']]\ndeny = [['u', 'r', 'read']]", nil},
		{"most-specific: only duplicates", "[[rules]]\nallow = [['*', '*', 'read'], ['u', 'r', 'read'], ['u', 'r', 'read']]\n[rule_policy]\nstrategy = 'most-specific'", []string{"redundant 2:50"}},
		{"most-specific conflict: deny wins ties", "[[rules]]\nallow = [['u', 'r', 'read']]\ndeny = [['u', 'r', 'read']]\n[rule_policy]\nstrategy = 'most-specific'", []string{"conflict 3:9"}},
		{"broad deny is fine", "[[rules]]\ndeny = [['*', '*', '*']]", nil},
		{"broad grant on everything", "[[rules]]\nallow = [['*', '*', '*']]", []string{"broad-grant 2:10"}},
		{"alternatives in one segment are fine", "[[rules]]\nallow = [['u', 'users:a,b:c', 'articles:read,publish']]", nil},
		{"alternatives span in a resource group", "[resources]\nx = ['articles:animals:*,articles:plants:*']\n[[rules]]\nallow = [['u', 'x', 'read']]", []string{"alternatives-span 2:6"}},
		{"schemas of one depth do not collapse", "[schemas]\na = 'users:{id}'\nb = 'users:admins'\n[[rules]]\nallow = [['u', 'users:1', 'read']]", nil},
		{"schemas with distinct literals do not collapse", "[schemas]\na = 'users:by_id:{id}'\nb = 'users:by_group:{group}:{id}'\n[[rules]]\nallow = [['u', 'users:by_group:*', 'read']]", nil},
		{"placeholder prefix collapses", "[schemas]\na = '{tenant}:users:{id}'\nb = 't1:users:{g}:{id}'\n[[rules]]\nallow = [['u', '*', 'read']]", []string{"schema-collapse 3:5"}},
		{"resource group name is judged by its members", "[schemas]\na = 'doc:{id}'\n[resources]\nd = ['doc:1']\n[[rules]]\nallow = [['u', 'd', 'read'], ['u', 'doc:*:*', 'read']]", []string{"no-schema 6:36"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range lint.Run(parse(t, "p.toml", tt.policy), nil, nil) {
				got = append(got, fmt.Sprintf("%s %d:%d", f.Code, f.Pos.Line, f.Pos.Col))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHostileSources runs lint on sources no file could produce, and on
// shapes that would be slow if a check compared everything pairwise. It
// must neither panic nor report anything that compiling would reject.
func TestHostileSources(t *testing.T) {
	t.Parallel()
	chain := &engine.Source{}
	for i := range 20000 {
		chain.Groups = append(chain.Groups, engine.Group{Name: fmt.Sprintf("g%d", i), Members: []engine.Member{{Name: fmt.Sprintf("g%d", i+1)}}})
	}
	chain.Groups[19999].Members = []engine.Member{{Name: "g0"}} // one cycle of 20,000
	sameSubject := &engine.Source{Strategy: engine.FirstMatch}
	for i := range 20000 {
		sameSubject.Rules = append(sameSubject.Rules, engine.Rule{ID: "rules.1", Item: i + 1, Effect: engine.EffectAllow,
			Subject: "*", Resource: fmt.Sprintf("r:%d:*", i), Action: "*,x"})
	}
	tests := []struct {
		name string
		src  *engine.Source
		want []string // codes, in order
	}{
		{"nil", nil, nil},
		{"empty", &engine.Source{}, nil},
		{"invalid patterns are skipped", &engine.Source{Rules: []engine.Rule{{Effect: engine.EffectAllow, Subject: "a::b", Resource: "*", Action: "*"}}}, nil},
		{"unknown effect is skipped", &engine.Source{Rules: []engine.Rule{{Effect: 7, Subject: "*", Resource: "*", Action: "*"}}}, nil},
		{"invalid schema is skipped", &engine.Source{Schemas: []engine.Schema{{Name: "a", Template: "{x"}}, Rules: []engine.Rule{{Effect: engine.EffectDeny, Subject: "a", Resource: "b", Action: "c"}}}, nil},
		{"long undeclared name", &engine.Source{Groups: []engine.Group{{Name: "g", Members: []engine.Member{{Name: "u"}}}},
			Rules: []engine.Rule{{Effect: engine.EffectDeny, Subject: strings.Repeat("é", 500), Resource: "b", Action: "c"}}}, []string{lint.CodeUndeclared}},
		{"long cycle", chain, []string{lint.CodeCycle}},
		{"20,000 wild rules, first-match", sameSubject, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range lint.Run(tt.src, nil, &lint.Options{Budget: 256}) {
				got = append(got, f.Code)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBudget shows that a small budget makes lint report less, never
// something different.
func TestBudget(t *testing.T) {
	t.Parallel()
	src := &engine.Source{Strategy: engine.FirstMatch}
	for i := range 50 {
		src.Rules = append(src.Rules, engine.Rule{ID: "rules.1", Item: i + 1, Effect: engine.EffectAllow, Subject: "*", Resource: fmt.Sprintf("r%d:*", i), Action: "read"})
	}
	src.Rules = append(src.Rules, engine.Rule{ID: "rules.1", Item: 51, Effect: engine.EffectAllow, Subject: "u", Resource: "r0:x", Action: "read"})
	full := briefs(lint.Run(src, nil, nil))
	if !slices.Equal(full, []string{"warning shadowed 0:0"}) {
		t.Fatalf("full budget: %q", full)
	}
	for _, b := range []int{1, 2, 10, 100} {
		got := briefs(lint.Run(src, nil, &lint.Options{Budget: b}))
		for _, f := range got {
			if !slices.Contains(full, f) {
				t.Errorf("budget %d: %q is not among %q", b, f, full)
			}
		}
	}
}

// TestRBACLargeIsClean lints the 110,000-rule benchmark policy, which has
// nothing wrong with it.
func TestRBACLargeIsClean(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a 110,000-rule policy")
	}
	w := workload.RBAC("large", 100000, 10000)
	if fs := lint.Run(w.Source, nil, nil); len(fs) > 0 {
		t.Errorf("%d findings, first %v", len(fs), fs[0])
	}
}

func TestFindingString(t *testing.T) {
	t.Parallel()
	f := lint.Finding{Severity: lint.Warning, Code: lint.CodeTypo, Pos: diag.Pos{File: "p.toml", Line: 3, Col: 4}, Message: "m", Hint: "h"}
	if got, want := f.String(), "p.toml:3:4: warning: m [typo]\n  fix: h"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for s, want := range map[lint.Severity]string{lint.Info: "info", lint.Warning: "warning", lint.Error: "error", 9: "Severity(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}

func TestSeverityText(t *testing.T) {
	t.Parallel()
	for _, s := range []lint.Severity{lint.Info, lint.Warning, lint.Error} {
		text, _ := s.MarshalText()
		var back lint.Severity
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("%v: round trip gives %v, %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "Info", "WARNING", "fatal", "error ", "\x00", "Severity(9)"} {
		var s lint.Severity = lint.Error
		if err := s.UnmarshalText([]byte(bad)); err == nil || s != lint.Error {
			t.Errorf("%q: accepted as %v", bad, s)
		}
	}
}

// TestRunPolicyArgument: Run lints through the policy it is given when that
// can be the source's, compiles the source itself when the policy is nil
// or plainly another's, and reports nothing for a source that does not
// compile or for no source at all.
func TestRunPolicyArgument(t *testing.T) {
	t.Parallel()
	cyclic := parse(t, "p.toml", "[groups]\na = ['b']\nb = ['a', 'u']\n[[rules]]\nallow = [['a', 'doc', 'read']]\n")
	other, errs := engine.Compile(&engine.Source{Rules: []engine.Rule{{ID: "rules.x", Item: 1, Effect: engine.EffectAllow, Subject: "s", Resource: "r", Action: "a"}}})
	if errs != nil {
		t.Fatal(errs)
	}
	own, errs := engine.Compile(cyclic)
	if errs != nil {
		t.Fatal(errs)
	}
	broken := &engine.Source{Groups: []engine.Group{{Name: "a*"}}}
	tests := []struct {
		name string
		src  *engine.Source
		p    *engine.Policy
		want []string
	}{
		{"its own policy", cyclic, own, []string{"info cycle 2:1"}},
		{"nil policy", cyclic, nil, []string{"info cycle 2:1"}},
		{"another policy", cyclic, other, []string{"info cycle 2:1"}},
		{"does not compile", broken, nil, nil},
		{"no source", nil, own, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := briefs(lint.Run(tt.src, tt.p, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
		})
	}
}
