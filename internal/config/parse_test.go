package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

const file = "policy.toml"

type vector struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	Checks []struct {
		Rule string `json:"rule"`
	} `json:"checks"`
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	data, err := os.ReadFile("../../testdata/conformance/accesscontrol.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) == 0 {
		tb.Fatal("no conformance vectors")
	}
	return vs
}

// summary is a Source in a form that diffs readably.
type summary struct {
	Groups, Resources, Actions, Rules []string
	Strategy                          engine.Strategy
	NoMatch                           engine.Effect
	NoMatchSet                        bool
}

func summarize(src *engine.Source) summary {
	groups := func(gs []engine.Group) []string {
		var out []string
		for _, g := range gs {
			var ms []string
			for _, m := range g.Members {
				ms = append(ms, m.Name)
			}
			role := ""
			if g.Role {
				role = " (role)"
			}
			out = append(out, fmt.Sprintf("%s.%s%s = %s", g.Section, g.Name, role, strings.Join(ms, ",")))
		}
		return out
	}
	s := summary{
		Groups:     groups(src.Groups),
		Resources:  groups(src.Resources),
		Actions:    groups(src.Actions),
		Strategy:   src.Strategy,
		NoMatch:    src.NoMatch,
		NoMatchSet: src.NoMatchSet,
	}
	for _, r := range src.Rules {
		s.Rules = append(s.Rules, ruleString(r))
	}
	return s
}

func ruleString(r engine.Rule) string {
	return fmt.Sprintf("%s %s %d [%s %s %s]", r.ID, r.Effect, r.Item, r.Subject, r.Resource, r.Action)
}

func at(p diag.Pos) string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

func TestConformancePoliciesParse(t *testing.T) {
	t.Parallel()
	rbac := summary{
		Groups: []string{
			"groups.g1 = user1,user2", "groups.g2 = user2,user3", "groups.g3 = g1,user5",
			"groups.g4 = g5,g1", "groups.g5 = g4",
			"roles.admin (role) = g4,user3", "roles.reader (role) = g2,user5",
		},
		Resources: []string{"resources.res1 = part_a,part_b", "resources.res2 = part_a,part_c"},
		Rules: []string{
			"rules.r1 allow 1 [reader res1 GET]",
			"rules.r1 allow 2 [admin res1 *]",
			"rules.r2 deny 1 [reader res1 GET]",
			"rules.r2 deny 2 [reader res2 PUT]",
			"rules.r2 deny 3 [reader res2 POST]",
		},
		NoMatch:    engine.EffectAllow,
		NoMatchSet: true,
	}
	with := func(s summary, st engine.Strategy) summary { s.Strategy = st; return s }
	want := map[string]summary{
		"full-rbac-FIRST_MATCH":   with(rbac, engine.FirstMatch),
		"full-rbac-ALL_ALLOW":     with(rbac, engine.DenyOverrides),
		"full-rbac-ANY_ALLOW":     with(rbac, engine.AllowOverrides),
		"full-rbac-most-specific": with(rbac, engine.MostSpecific),
		"full-rbac-default": func() summary {
			s := rbac
			s.NoMatch, s.NoMatchSet = engine.EffectNone, false
			return s
		}(),
		"most-simple": {Rules: []string{
			"rules.1 allow 1 [user1 resource_a GET]",
			"rules.1 allow 2 [user1 resource_a PUT]",
			"rules.1 allow 3 [user1 resource_a POST]",
			"rules.1 deny 1 [user1 resource_a DELETE]",
		}},
		"acl-group-subject": {
			Groups:     []string{"groups.list = user1,user2"},
			Rules:      []string{"rules.1 allow 1 [list * *]"},
			NoMatch:    engine.EffectDeny,
			NoMatchSet: true,
		},
		"usage": {Rules: []string{
			"rules.1 allow 1 [user1 res_a GET]",
			"rules.1 deny 1 [user1 res_a POST]",
		}},
	}
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			src, diags := config.Parse(file, []byte(v.Policy))
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:\n%v", diags)
			}
			ids := map[string]bool{}
			for _, r := range src.Rules {
				ids[r.ID] = true
			}
			for _, c := range v.Checks {
				if c.Rule != "" && !ids[c.Rule] {
					t.Errorf("a check names rule %s, which the policy does not have", c.Rule)
				}
			}
			w, ok := want[v.Name]
			if !ok {
				t.Logf("no expected summary for vector %q; checked diagnostics and rule ids only", v.Name)
				return
			}
			if d := cmp.Diff(w, summarize(src)); d != "" {
				t.Errorf("source (-want +got):\n%s", d)
			}
		})
	}
}

func TestDocumentOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		want         []string
	}{
		{
			name:   "deny written before allow",
			policy: "[[rules]]\ndeny = [['u', 'r', 'DELETE']]\nallow = [['u', 'r', 'GET'], ['u', 'r', 'PUT']]\n",
			want:   []string{"rules.1 deny 1 [u r DELETE]", "rules.1 allow 1 [u r GET]", "rules.1 allow 2 [u r PUT]"},
		},
		{
			name:   "array rules are numbered from 1",
			policy: "[[rules]]\nallow = [['a', 'r', 'x']]\n[[rules]]\ndeny = [['b', 'r', 'x']]\n[[rules]]\nallow = [['c', 'r', 'x']]\n",
			want:   []string{"rules.1 allow 1 [a r x]", "rules.2 deny 1 [b r x]", "rules.3 allow 1 [c r x]"},
		},
		{
			name:   "inline array of rules",
			policy: "rules = [\n  {allow = [['a', 'r', 'x']]},\n  {deny = [['b', 'r', 'x']], allow = [['c', 'r', 'x']]},\n]\n",
			want:   []string{"rules.1 allow 1 [a r x]", "rules.2 deny 1 [b r x]", "rules.2 allow 1 [c r x]"},
		},
		{
			name:   "named rules keep the written order, not sorted",
			policy: "[rules.zeta]\nallow = [['a', 'r', 'x']]\n[rules.alpha]\ndeny = [['b', 'r', 'x']]\n[rules.m-2_x]\nallow = [['c', 'r', 'x']]\n",
			want:   []string{"rules.zeta allow 1 [a r x]", "rules.alpha deny 1 [b r x]", "rules.m-2_x allow 1 [c r x]"},
		},
		{
			name:   "dotted keys under [rules]",
			policy: "[rules]\nr2.deny = [['b', 'r', 'x']]\nr1.allow = [['a', 'r', 'x']]\nr2.allow = [['c', 'r', 'x']]\n",
			want:   []string{"rules.r2 deny 1 [b r x]", "rules.r2 allow 1 [c r x]", "rules.r1 allow 1 [a r x]"},
		},
		{
			name:   "dotted keys at the top level and quoted keys",
			policy: "rules.r1.\"allow\" = [['a', 'r', 'x']]\n'rules'.r1.deny = [['b', 'r', 'x']]\n",
			want:   []string{"rules.r1 allow 1 [a r x]", "rules.r1 deny 1 [b r x]"},
		},
		{
			name:   "named rules as an inline table",
			policy: "rules = {b = {allow = [['a', 'r', 'x']]}, a = {deny = [['b', 'r', 'x']]}}\n",
			want:   []string{"rules.b allow 1 [a r x]", "rules.a deny 1 [b r x]"},
		},
		{
			name:   "strings are copied verbatim, escapes decoded",
			policy: "[[rules]]\nallow = [[\"alice@example.com\", '/api/v1', \"G\\u0045T\"], ['users:*', 'a*b,c', 'ünïcode']]\n",
			want:   []string{"rules.1 allow 1 [alice@example.com /api/v1 GET]", "rules.1 allow 2 [users:* a*b,c ünïcode]"},
		},
		{
			name:   "empty allow list is a rule with no items",
			policy: "[[rules]]\nallow = []\n[[rules]]\ndeny = [['b', 'r', 'x']]\n",
			want:   []string{"rules.2 deny 1 [b r x]"},
		},
		{name: "empty file", policy: ""},
		{name: "only comments and blank lines", policy: "# nothing here\n\n   \n"},
		{name: "empty rules table", policy: "[rules]\n"},
		{name: "empty rules array", policy: "rules = []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, diags := config.Parse(file, []byte(tt.policy))
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:\n%v", diags)
			}
			if d := cmp.Diff(tt.want, summarize(src).Rules); d != "" {
				t.Errorf("rules (-want +got):\n%s", d)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	t.Parallel()
	const policy = `# positions
[groups]
  g1 = [ 'user1',
         "user2" ]
"quoted g" = ['u']

[actions]
write = ['PUT', 'POST']

[rules.r1]
allow = [
  # a comment with ] and [ in it
  [ 'admin',  'res1', '*' ] , ['b','c','d'],
]
deny = [['x', 'y',
         'z']]

[[other]]
`
	// [[other]] is an error; positions of what was read stay exact.
	src, diags := config.Parse(file, []byte(policy))
	if len(diags) != 1 || at(diag.At(diags[0])) != "18:3" {
		t.Fatalf("want one diagnostic at 18:3, got:\n%v", diags)
	}
	type pos struct{ What, At string }
	var got []pos
	for _, g := range append(src.Groups, src.Actions...) {
		got = append(got, pos{g.Section + "." + g.Name, at(g.Pos)})
		for _, m := range g.Members {
			got = append(got, pos{"  " + m.Name, at(m.Pos)})
		}
	}
	for _, r := range src.Rules {
		got = append(got,
			pos{fmt.Sprintf("%s %s %d", r.ID, r.Effect, r.Item), at(r.Pos)},
			pos{"  " + r.Subject, at(r.SubjectPos)},
			pos{"  " + r.Resource, at(r.ResourcePos)},
			pos{"  " + r.Action, at(r.ActionPos)},
		)
	}
	want := []pos{
		{"groups.g1", "3:3"}, {"  user1", "3:10"}, {"  user2", "4:10"},
		{"groups.quoted g", "5:1"}, {"  u", "5:15"},
		{"actions.write", "8:1"}, {"  PUT", "8:10"}, {"  POST", "8:17"},
		{"rules.r1 allow 1", "13:3"}, {"  admin", "13:5"}, {"  res1", "13:15"}, {"  *", "13:23"},
		{"rules.r1 allow 2", "13:31"}, {"  b", "13:32"}, {"  c", "13:36"}, {"  d", "13:40"},
		{"rules.r1 deny 1", "15:9"}, {"  x", "15:10"}, {"  y", "15:15"}, {"  z", "16:10"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("positions (-want +got):\n%s", d)
	}
	for _, r := range src.Rules {
		if r.Pos.File != file || r.SubjectPos.File != file {
			t.Errorf("%s: file = %q, want %q", ruleString(r), r.Pos.File, file)
		}
	}
}

func TestPositionsCRLFAndBOM(t *testing.T) {
	t.Parallel()
	policy := "\xef\xbb\xbf[[rules]]\r\nallow = [\r\n  ['a', 'b', 'c'],\r\n]\r\n"
	src, diags := config.Parse(file, []byte(policy))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	if len(src.Rules) != 1 {
		t.Fatalf("want 1 rule, got %d", len(src.Rules))
	}
	r := src.Rules[0]
	if got := []string{at(r.Pos), at(r.SubjectPos), at(r.ActionPos)}; !cmp.Equal(got, []string{"3:3", "3:4", "3:14"}) {
		t.Errorf("positions = %v, want [3:3 3:4 3:14]", got)
	}
}

func TestRulePolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy     string
		strategy   engine.Strategy
		noMatch    engine.Effect
		noMatchSet bool
	}{
		{"", engine.DenyOverrides, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'deny-overrides'", engine.DenyOverrides, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'ALL_ALLOW'", engine.DenyOverrides, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'allow-overrides'", engine.AllowOverrides, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'ANY_ALLOW'", engine.AllowOverrides, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'first-match'", engine.FirstMatch, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'FIRST_MATCH'", engine.FirstMatch, engine.EffectNone, false},
		{"[rule_policy]\nstrategy = 'most-specific'", engine.MostSpecific, engine.EffectNone, false},
		{"rule_policy = {mismatch_decision = 'deny'}", engine.DenyOverrides, engine.EffectDeny, true},
		{"rule_policy.mismatch_decision = \"allow\"", engine.DenyOverrides, engine.EffectAllow, true},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			src, diags := config.Parse(file, []byte(tt.policy))
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:\n%v", diags)
			}
			if src.Strategy != tt.strategy || src.NoMatch != tt.noMatch || src.NoMatchSet != tt.noMatchSet {
				t.Errorf("got strategy %v, no match %v (set %v); want %v, %v (set %v)",
					src.Strategy, src.NoMatch, src.NoMatchSet, tt.strategy, tt.noMatch, tt.noMatchSet)
			}
		})
	}
}

type wantDiag struct{ at, msg string }

// malformed is every kind of bad input with the diagnostics it must produce,
// in order. FuzzParse seeds its corpus from it.
var malformed = []struct {
	name, policy string
	want         []wantDiag
}{
	{"broken TOML", "[rules\nallow = 1\n", []wantDiag{{"1:7", "invalid TOML: expected ']'"}}},
	{"unterminated string", "[groups]\ng = ['a\n", []wantDiag{{"2:8", "invalid TOML"}}},
	{"duplicate key", "[groups]\ng1 = ['a']\ng1 = ['b']\n", []wantDiag{{"3:1", "invalid TOML: groups.g1 is already defined at policy.toml:2:1"}}},
	{"table defined twice", "[groups]\n[roles]\n[groups]\n", []wantDiag{{"3:2", "invalid TOML: groups is already defined at policy.toml:1:2"}}},
	{"quoted duplicate key", "[groups]\ng1 = ['a']\n'g1' = ['b']\n", []wantDiag{{"3:1", "invalid TOML: groups.g1 is already defined at policy.toml:2:1"}}},
	{"duplicate key in an inline table", "rules = [{allow = [], allow = []}]\n", []wantDiag{{"1:23", "invalid TOML: rules[1].allow is already defined at policy.toml:1:11"}}},
	{"dotted table reopened by a header", "[rules]\nr1.allow = []\n[rules.r1]\n", []wantDiag{{"3:8", "invalid TOML: rules.r1 is already defined at policy.toml:2:1; a table made by dotted keys cannot be reopened"}}},
	{"header table extended by dotted keys", "[rules.r1]\nallow = []\n[rules]\nr1.deny = []\n", []wantDiag{{"4:1", "invalid TOML: rules.r1 is already defined at policy.toml:1:8; dotted keys cannot add"}}},
	{"inline table extended", "rules = {r1 = {allow = []}}\n[rules.r2]\n", []wantDiag{{"2:2", "invalid TOML: rules is already defined at policy.toml:1:1"}}},
	{"array of tables after a static array", "rules = []\n[[rules]]\n", []wantDiag{{"2:3", "invalid TOML: rules is already defined at policy.toml:1:1; [[rules]] needs an array of tables"}}},
	{"table header on an array of tables", "[[rules]]\nallow = []\n[rules]\n", []wantDiag{{"3:2", "add to an array of tables with [[rules]]"}}},
	// After a table defined twice the parser goes on, and so do the other
	// checks: the keys under the second header are read as if under the
	// first, where the user meant them (rules.r1 has its allow).
	{"several TOML errors, keys still checked", "[rules.r1]\n[rules.r1]\nallow = [['a', 'b', 'c']]\n[groups]\n[groups]\nbogus = 1\n", []wantDiag{
		{"2:8", "invalid TOML: rules.r1 is already defined at policy.toml:1:8"},
		{"5:2", "invalid TOML: groups is already defined at policy.toml:4:2"},
		{"6:9", "groups.bogus must be an array of member names, found an integer"},
	}},
	{"a key defined twice, other problems still reported", "[rule_policy]\nstrategy = 'first-match'\nstrategy = 'deny-wins'\nmismatch = 'allow'\n", []wantDiag{
		{"3:1", "invalid TOML: rule_policy.strategy is already defined at policy.toml:2:1"},
		{"4:1", `unknown key "rule_policy.mismatch" (did you mean "mismatch_decision"?)`},
	}},
	{"a syntax error says nothing else was checked", "[groups]\nstaff = ['alice'\n[rule_policy]\nstrategy = 'deny-wins'\n", []wantDiag{
		{"3:1", "invalid TOML: expected ',' or ']' after array value (the TOML parser stops here, so no other check ran)"},
	}},
	{"unknown top-level key", "[group]\ng1 = ['a']\n", []wantDiag{{"1:2", `unknown key "group" (did you mean "groups"?)`}}},
	{"unknown key without suggestion", "version = 2\n", []wantDiag{{"1:1", `unknown key "version"; expected one of "groups", "roles"`}}},
	{"rule_policy.mismatched", "[rule_policy]\nmismatched = 'deny'\n", []wantDiag{{"2:1", `unknown key "rule_policy.mismatched" (did you mean "mismatch_decision"?)`}}},
	{"rule_policy.mismatched as a dotted key", "rule_policy.mismatched = 'deny'\n", []wantDiag{{"1:13", `unknown key "rule_policy.mismatched" (did you mean "mismatch_decision"?)`}}},
	{"unknown strategy", "[rule_policy]\nstrategy = 'FIRST-MATCH'\n", []wantDiag{{"2:12", `unknown strategy "FIRST-MATCH" (did you mean "first-match"?); expected one of "deny-overrides", "ALL_ALLOW"`}}},
	{"unknown strategy far from any", "[rule_policy]\nstrategy = 'random'\n", []wantDiag{{"2:12", `unknown strategy "random"; expected one of`}}},
	{"strategy not a string", "[rule_policy]\nstrategy = 1\n", []wantDiag{{"2:12", "rule_policy.strategy must be a string, one of \"deny-overrides\""}}},
	{"bad mismatch_decision", "[rule_policy]\nmismatch_decision = 'Deny'\n", []wantDiag{{"2:21", `rule_policy.mismatch_decision must be "allow" or "deny", found "Deny" (did you mean "deny"?)`}}},
	{"mismatch_decision a boolean", "[rule_policy]\nmismatch_decision = false\n", []wantDiag{{"2:21", "must be the string \"allow\" or \"deny\", found a boolean"}}},
	{"rule_policy not a table", "rule_policy = 'deny'\n", []wantDiag{{"1:15", "rule_policy must be a table ([rule_policy]), found a string"}}},
	{"groups not a table", "groups = ['a', 'b']\n", []wantDiag{{"1:10", "groups must be a table of name = [members] ([groups]), found an array"}}},
	{"group not an array", "[roles]\nadmin = 'user1'\n", []wantDiag{{"2:9", "roles.admin must be an array of member names, found a string"}}},
	{"non-string members", "[resources]\nres = ['a', 2, ['b'], {c = 'd'}]\n", []wantDiag{
		{"2:13", "member 2 of resources.res must be a string (a name), found an integer"},
		{"2:16", "member 3 of resources.res must be a string (a name), found an array"},
		{"2:23", "member 4 of resources.res must be a string (a name), found a table"},
	}},
	{"member of a quoted group", "[actions]\n\"w r\" = [1.5]\n", []wantDiag{{"2:10", `member 1 of actions."w r" must be a string (a name), found a float`}}},
	{"triple of 2", "[[rules]]\nallow = [['a', 'b']]\n", []wantDiag{{"2:10", "item 1 of rules.1.allow must have 3 strings [subject, resource, action], found 2 items"}}},
	{"triple of 4", "[rules.r1]\ndeny = [['a', 'b', 'c'], ['a', 'b', 'c', 'd']]\n", []wantDiag{{"2:26", "item 2 of rules.r1.deny must have 3 strings [subject, resource, action], found 4 items"}}},
	{"empty triple", "[[rules]]\nallow = [[]]\n", []wantDiag{{"2:10", "found 0 items"}}},
	{"triple of 1", "[[rules]]\nallow = [['a']]\n", []wantDiag{{"2:10", "found 1 item"}}},
	{"non-array triple", "[[rules]]\nallow = ['a', ['b', 'c', 'd']]\n", []wantDiag{{"2:10", "item 1 of rules.1.allow must be a [subject, resource, action] triple, found a string"}}},
	{"unwrapped single triple", "[[rules]]\nallow = ['a', 'b', 'c']\n", []wantDiag{{"2:9", "rules.1.allow must be an array of [subject, resource, action] triples, found a single triple; wrap it in another array"}}},
	{"allow not an array", "[[rules]]\nallow = 'a'\n", []wantDiag{{"2:9", "rules.1.allow must be an array of [subject, resource, action] triples, found a string"}}},
	{"non-string triple element", "[[rules]]\ndeny = [['a', 1, true]]\n", []wantDiag{
		{"2:15", "the resource of item 1 of rules.1.deny must be a string, found an integer"},
		{"2:18", "the action of item 1 of rules.1.deny must be a string, found a boolean"},
	}},
	{"empty string in triple", "[[rules]]\nallow = [['', 'r', 'x']]\n", []wantDiag{{"2:11", "the subject of item 1 of rules.1.allow is empty"}}},
	{"date in triple", "[[rules]]\nallow = [['a', 'r', 1979-05-27]]\n", []wantDiag{{"2:21", "the action of item 1 of rules.1.allow must be a string, found a date or time"}}},
	{"rule with neither allow nor deny", "[[rules]]\n\n[[rules]]\nallow = []\n", []wantDiag{{"1:1", "rule rules.1 has neither allow nor deny"}}},
	{"named rule with neither", "[rules]\n  [rules.r1]\n", []wantDiag{{"2:3", "rule rules.r1 has neither allow nor deny"}}},
	{"inline rule with neither", "rules = [{}]\n", []wantDiag{{"1:10", "rule rules.1 has neither allow nor deny"}}},
	{"unknown key in a rule", "[rules.r1]\nalow = [['a', 'b', 'c']]\n", []wantDiag{
		{"1:1", "rule rules.r1 has neither allow nor deny"},
		{"2:1", `unknown key "rules.r1.alow" (did you mean "allow"?); expected one of "allow", "deny"`},
	}},
	{"rules a string", "rules = 'allow'\n", []wantDiag{{"1:9", "rules must be an array of rules ([[rules]]) or a table of named rules ([rules.NAME]), found a string"}}},
	{"rules an array of strings", "rules = ['a', 'b']\n", []wantDiag{
		{"1:10", "rule rules.1 must be a table with allow and/or deny (as in [[rules]]), found a string"},
		{"1:15", "rule rules.2 must be a table"},
	}},
	{"allow directly under [rules]", "[rules]\nallow = [['a', 'b', 'c']]\n", []wantDiag{{"2:9", "rules.allow must be a rule table ([rules.allow]) with allow and/or deny, found an array; a rule without a name is written [[rules]]"}}},
	{"rule name with a dot", "[rules.'a.b']\nallow = [['a', 'b', 'c']]\n", []wantDiag{{"1:8", `rule name "a.b" must contain only letters, digits, '_' and '-'`}}},
	{"several errors in one file", "[groups]\ng = [1]\n[rule_policy]\nstrategy = 'x'\nmismatch = 'deny'\n[[rules]]\nallow = [['a', 'b']]\ndeny = [[1, 'b', 'c']]\n[other]\n", []wantDiag{
		{"2:6", "member 1 of groups.g must be a string"},
		{"4:12", `unknown strategy "x"`},
		{"5:1", `unknown key "rule_policy.mismatch" (did you mean "mismatch_decision"?)`},
		{"7:10", "item 1 of rules.1.allow must have 3 strings"},
		{"8:10", "the subject of item 1 of rules.1.deny must be a string, found an integer"},
		{"9:2", `unknown key "other"`},
	}},
	{"deeply nested arrays", "rules = " + strings.Repeat("[", 20000), []wantDiag{{"1:10009", "nested more than the maximum"}}},
	{"deeply nested triple element", "[[rules]]\nallow = [['a', 'b', " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "]]\n", []wantDiag{{"2:21", "the action of item 1 of rules.1.allow must be a string, found an array"}}},
	{"deeply nested inline tables", "rules = " + strings.Repeat("{a=", 20000), []wantDiag{{"1:30009", "nested more than the maximum"}}},
	{"binary garbage", "\x00\xff\xfe\x01garbage", []wantDiag{{"1:1", "invalid TOML: invalid character at start of key"}}},
	{"invalid UTF-8 in a string", "[groups]\ng = ['\xff']\n", []wantDiag{{"2:7", "invalid TOML: invalid UTF-8"}}},
	{"NUL after valid text", "[groups]\ng = ['a']\x00\n", []wantDiag{{"2:10", "invalid TOML"}}},
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, diags := config.Parse(file, []byte(tt.policy))
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(diags), len(tt.want), diags)
			}
			for i, w := range tt.want {
				d := diags[i]
				if d.File != file || at(diag.At(d)) != w.at || !strings.Contains(d.Message, w.msg) {
					t.Errorf("diagnostic %d = %v\nwant %s:%s: ...%s...", i, d, file, w.at, w.msg)
				}
			}
		})
	}
}

// A large policy must parse in time linear in its size: positions are not
// recomputed from the start of the file for every string.
func TestLargePolicy(t *testing.T) {
	t.Parallel()
	const n = 50000
	var b strings.Builder
	b.WriteString("[groups]\n")
	for i := range n {
		fmt.Fprintf(&b, "g%d = ['u%d', 'g%d']\n", i, i, i+1)
	}
	b.WriteString("[[rules]]\nallow = [\n")
	for i := range n {
		fmt.Fprintf(&b, "  ['g%d', 'r%d', 'GET'],\n", i, i)
	}
	b.WriteString("]\n")
	src, diags := config.Parse(file, []byte(b.String()))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags[:min(len(diags), 5)])
	}
	if len(src.Groups) != n || len(src.Rules) != n {
		t.Fatalf("got %d groups and %d rules, want %d each", len(src.Groups), len(src.Rules), n)
	}
	last := src.Rules[n-1]
	if last.Item != n || at(last.Pos) != fmt.Sprintf("%d:3", 2*n+3) {
		t.Errorf("last rule = item %d at %s, want item %d at %d:3", last.Item, at(last.Pos), n, 2*n+3)
	}
}

// Hostile shapes of input must parse, with the right diagnostics. Their cost
// being linear is a benchmark's to measure (BenchmarkLoad), not a clock's
// here: a quadratic shape would run past the test timeout.
func TestHostileScale(t *testing.T) {
	t.Parallel()
	const n = 100000
	tests := []struct {
		name, policy string
		diags        int
	}{
		{"long dotted key", "rules." + strings.Repeat("a.", n) + "b = 1\n", 2},
		{"long header", "[rules." + strings.Repeat("a.", n) + "b]\n", 2},
		// 99 redefinitions, and the two problems of "long header".
		{"long header redefined", strings.Repeat("[rules."+strings.Repeat("a.", 1000)+"b]\n", 100), 101},
		{"many unknown keys", func() string {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "k%d = 1\n", i)
			}
			return b.String()
		}(), n},
		{"long string", "[rule_policy]\nstrategy = '" + strings.Repeat("x", 10*n) + "'\n", 1},
		{"wide array", "[groups]\ng = [" + strings.Repeat("1,", n) + "]\n", n},
		{"many inline rules", "rules = [" + strings.Repeat("{allow = [['a', 'b', 'c']]},", n) + "]\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, diags := config.Parse(file, []byte(tt.policy))
			if len(diags) != tt.diags {
				t.Errorf("got %d diagnostics, want %d; first: %.200v", len(diags), tt.diags, diags[:min(len(diags), 1)])
			}
		})
	}
}
