package engine_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/testgen"
)

// reference decides a request the slow, obvious way, straight from SPEC
// 3–5: compute every principal by searching the membership graph, test
// every rule in document order, then apply the strategy to the full list.
// It shares nothing with the compiled index but the single-pattern matcher.
// supplied are caller-supplied groups (SPEC 7.1).
func reference(src *engine.Source, subject, resource, action string, supplied ...string) (rule int, effect engine.Effect) {
	hs := hits(src, 0, subject, resource, action, supplied)
	h, ok := pick(src.Strategy, hs)
	if !ok {
		return -1, engine.EffectNone
	}
	return h.i, h.rule.Effect
}

// hit is one rule that matched, with its layer, its index in its layer,
// and the class of the principal it matched through.
type hit struct {
	layer, i int
	class    int
	rule     engine.Rule
}

func hits(src *engine.Source, layer int, subject, resource, action string, supplied []string) []hit {
	sp := principals(src.Groups, subject, false, supplied...)
	rp := principals(src.Resources, resource, true)
	ap := principals(src.Actions, action, true)
	var out []hit
	for i, r := range src.Rules {
		sub, res, act := pattern.MustParse(r.Subject), pattern.MustParse(r.Resource), pattern.MustParse(r.Action)
		class := -1
		for j, p := range sp {
			if !sub.Match(p) {
				continue
			}
			c := 0 // '*'
			switch {
			case sub.IsAll():
			case !sub.IsLiteral():
				c = 1
			case j == 0:
				c = 3
			default:
				c = 2
			}
			class = max(class, c)
		}
		if class < 0 || !anyMatch(res, rp) || !anyMatch(act, ap) {
			continue
		}
		out = append(out, hit{layer: layer, i: i, class: class, rule: r})
	}
	return out
}

// pick applies a strategy to every hit, given in document order.
func pick(s engine.Strategy, hits []hit) (hit, bool) {
	if len(hits) == 0 {
		return hit{}, false
	}
	first := func(e engine.Effect) (hit, bool) {
		for _, h := range hits {
			if h.rule.Effect == e {
				return h, true
			}
		}
		return hit{}, false
	}
	switch s {
	case engine.DenyOverrides:
		if h, ok := first(engine.EffectDeny); ok {
			return h, true
		}
		return first(engine.EffectAllow)
	case engine.AllowOverrides:
		if h, ok := first(engine.EffectAllow); ok {
			return h, true
		}
		return first(engine.EffectDeny)
	case engine.FirstMatch:
		return hits[0], true
	}
	best := hits[0]
	for _, h := range hits[1:] {
		a, b := h.rule, best.rule
		c := pattern.Compare(pattern.MustParse(a.Action), pattern.MustParse(b.Action))
		if c == 0 {
			c = pattern.Compare(pattern.MustParse(a.Resource), pattern.MustParse(b.Resource))
		}
		if c == 0 {
			c = h.class - best.class
		}
		if c == 0 && a.Effect != b.Effect {
			c = 1
			if a.Effect != engine.EffectDeny {
				c = -1
			}
		}
		if c > 0 {
			best = h
		}
	}
	return best, true
}

func anyMatch(p pattern.Pattern, names []string) bool {
	for _, n := range names {
		if p.Match(n) {
			return true
		}
	}
	return false
}

// principals is name followed by every group it reaches, found by
// repeated passes until nothing changes (a fixpoint, so cycles end).
// Patterns in members match only the request name itself (SPEC 4.1).
// Supplied names are principals from the start, and reach what their
// members would; those the groups do not declare come last.
func principals(groups []engine.Group, name string, patterns bool, supplied ...string) []string {
	out := []string{name}
	if name == "" {
		return out
	}
	in := map[string]bool{}
	for _, s := range supplied {
		in[s] = true
	}
	for changed := true; changed; {
		changed = false
		for _, g := range groups {
			if in[g.Name] {
				continue
			}
			for _, m := range g.Members {
				hit := m.Name == name || in[m.Name]
				if patterns && !hit && m.Name != name {
					if p, err := pattern.Parse(m.Name); err == nil && !p.IsLiteral() {
						hit = p.Match(name)
					}
				}
				if hit {
					in[g.Name] = true
					changed = true
					break
				}
			}
		}
	}
	declared := map[string]bool{}
	for _, g := range groups {
		declared[g.Name] = true
		if in[g.Name] && g.Name != name {
			out = append(out, g.Name)
		}
	}
	for _, s := range supplied {
		if !declared[s] && s != name && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

var (
	userPool = []string{"u1", "u2", "u3", "a", "a:b"}
	// Supplied groups: declared groups and roles, names that are members
	// of groups, names rules mention, and names nothing mentions.
	suppliedPool = []string{"g1", "g2", "g3", "ab", "u1", "a:b", "zz", "u9"}
	// shape has up to 40 rules, sometimes over few subjects, so buckets
	// outgrow the flat list and get split by action and resource.
	shape = testgen.Shape{
		Groups: []string{"g1", "g2", "g3", "ab"}, Users: userPool,
		Resources: []string{"r1", "r2", "b"}, ResourceNames: []string{"a", "b", "a:b", "ab:a"},
		Actions: []string{"x1", "x2"}, ActionNames: []string{"a", "b", "ab"},
		Subjects: append([]string{"*", "g1", "g2", "g3", "ab", "u1", "u*", "a:*"}, userPool...),
		MaxRules: 40, FewSubjects: true,
	}
)

func genSource(t *rapid.T) *engine.Source { return testgen.Source(t, shape) }

// TestCompiledMatchesReference is the property the rule index lives by: it
// may never miss a matching rule nor invent one, under every strategy,
// with nested and cyclic groups and pattern members (SPEC 3–5).
func TestCompiledMatchesReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := genSource(t)
		p, errs := engine.Compile(src)
		if len(errs) > 0 {
			t.Fatalf("generated source does not compile: %v", errs)
		}
		for range 20 {
			subject := rapid.SampledFrom(append([]string{"g1", "g2", "ab", "r1"}, userPool...)).Draw(t, "req-subject")
			resource := ""
			if rapid.IntRange(0, 5).Draw(t, "empty-resource") > 0 {
				resource = testgen.Name(t, "req-resource")
				if rapid.IntRange(0, 4).Draw(t, "group-as-resource") == 0 {
					resource = rapid.SampledFrom([]string{"r1", "r2", "b"}).Draw(t, "group-resource")
				}
			}
			action := testgen.Name(t, "req-action")
			var supplied []string
			if rapid.IntRange(0, 2).Draw(t, "supply") == 0 {
				supplied = rapid.SliceOfN(rapid.SampledFrom(suppliedPool), 1, 3).Draw(t, "supplied")
			}
			d, err := p.Decide(&engine.Query{Subject: subject, Resource: resource, Action: action, Groups: supplied})
			if err != nil {
				t.Fatalf("Decide(%q, %q, %q): %v", subject, resource, action, err)
			}
			wantRule, wantEffect := reference(src, subject, resource, action, supplied...)
			wantAllowed := wantEffect == engine.EffectAllow || (wantEffect == engine.EffectNone && src.NoMatch == engine.EffectAllow)
			if d.Effect != wantEffect || d.Allowed != wantAllowed {
				t.Fatalf("Decide(%q, %q, %q, groups %q) = %v allowed=%v (%s), reference says %v allowed=%v (rule %d)",
					subject, resource, action, supplied, d.Effect, d.Allowed, d.Reason, wantEffect, wantAllowed, wantRule)
			}
			if wantRule >= 0 {
				want := src.Rules[wantRule]
				if d.Rule != want.ID || d.Item != want.Item {
					t.Fatalf("Decide(%q, %q, %q) decided by %s %v[%d], reference by %s %v[%d]",
						subject, resource, action, d.Rule, d.Effect, d.Item, want.ID, want.Effect, want.Item)
				}
			}
			e, err := p.Explain(&engine.Query{Subject: subject, Resource: resource, Action: action, Groups: supplied})
			if err != nil {
				t.Fatal(err)
			}
			if e.Decision.Rule != d.Rule || e.Decision.Item != d.Item || e.Decision.Allowed != d.Allowed {
				t.Fatalf("Explain disagrees with Decide: %+v vs %+v", e.Decision, d)
			}
			if wantRule >= 0 && !slices.ContainsFunc(e.Matches, func(m engine.Match) bool { return m.Decided }) {
				t.Fatalf("Explain marks no decided match")
			}
		}
	})
}

// TestLayersMatchReference holds FindLayers to the reference: two
// policies decided together behave as one whose rules are the first's,
// then the second's, each matching names through its own groups, under
// every strategy (SPEC 7.1: an actor's own rules, then its roles').
func TestLayersMatchReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		a, b := genSource(t), genSource(t)
		b.Strategy = a.Strategy
		for i := range b.Rules {
			b.Rules[i].ID = "second." + b.Rules[i].ID
		}
		pa, errs := engine.Compile(a)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		pb, errs := engine.Compile(b)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for range 20 {
			q := engine.Query{
				Subject:  rapid.SampledFrom(append([]string{"g1", "g2", "ab"}, userPool...)).Draw(t, "req-subject"),
				Resource: testgen.Name(t, "req-resource"),
				Action:   testgen.Name(t, "req-action"),
			}
			if rapid.Bool().Draw(t, "supply") {
				q.Groups = rapid.SliceOfN(rapid.SampledFrom(suppliedPool), 1, 3).Draw(t, "supplied")
			}
			d, err := engine.FindLayers(a.Strategy, "v1", &q, pa, nil, pb)
			if err != nil {
				t.Fatal(err)
			}
			all := append(hits(a, 0, q.Subject, q.Resource, q.Action, q.Groups), hits(b, 1, q.Subject, q.Resource, q.Action, q.Groups)...)
			want, ok := pick(a.Strategy, all)
			if !ok {
				// The last layer's mismatch decision applies.
				if d.Effect != engine.EffectNone || d.Allowed != (b.NoMatch == engine.EffectAllow) {
					t.Fatalf("FindLayers(%+v) = %+v, want no match with %v", q, d, b.NoMatch)
				}
			} else if d.Rule != want.rule.ID || d.Item != want.rule.Item || d.Effect != want.rule.Effect {
				t.Fatalf("FindLayers(%+v, %v) decided by %s %v[%d], reference by %s %v[%d]",
					q, a.Strategy, d.Rule, d.Effect, d.Item, want.rule.ID, want.rule.Effect, want.rule.Item)
			}
			if d.PolicyVersion != "v1" {
				t.Fatalf("version %q, want v1", d.PolicyVersion)
			}
		}
	})
}

// TestSuppliedGroups pins caller-supplied memberships on a small policy:
// a declared role brings its closure, an undeclared name matches rules
// that name it, a hostile name is an error and never a match, and the
// explanation's chain shows the supplied step.
func TestSuppliedGroups(t *testing.T) {
	t.Parallel()
	src := &engine.Source{
		Groups: []engine.Group{
			{Name: "viewer", Section: "roles", Role: true},
			{Name: "editor", Section: "roles", Role: true},
			{Name: "admin", Section: "roles", Role: true, Members: []engine.Member{{Name: "editor"}}},
		},
		Rules: []engine.Rule{
			{ID: "rules.1", Item: 1, Effect: engine.EffectAllow, Subject: "admin", Resource: "*", Action: "delete"},
			{ID: "rules.2", Item: 1, Effect: engine.EffectAllow, Subject: "team:blue", Resource: "doc:*", Action: "read"},
			{ID: "rules.3", Item: 1, Effect: engine.EffectAllow, Subject: "team:*", Resource: "doc:*", Action: "list"},
		},
	}
	p, errs := engine.Compile(src)
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name    string
		q       engine.Query
		allowed bool
		rule    string
		path    []string
		err     bool
	}{
		{"no groups", engine.Query{Subject: "ann", Resource: "doc:1", Action: "delete"}, false, "", nil, false},
		{"role closure", engine.Query{Subject: "ann", Resource: "doc:1", Action: "delete", Groups: []string{"editor"}}, true, "rules.1", []string{"ann", "editor", "admin"}, false},
		{"undeclared name", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: []string{"team:blue"}}, true, "rules.2", []string{"ann", "team:blue"}, false},
		{"pattern over a supplied name", engine.Query{Subject: "ann", Resource: "doc:1", Action: "list", Groups: []string{"team:red"}}, true, "rules.3", []string{"ann", "team:red"}, false},
		{"unrelated name", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: []string{"team:red"}}, false, "", nil, false},
		{"pattern as a group", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: []string{"team:*"}}, false, "", nil, true},
		{"alternatives as a group", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: []string{"team:blue,red"}}, false, "", nil, true},
		{"empty group", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: []string{""}}, false, "", nil, true},
		{"too many groups", engine.Query{Subject: "ann", Resource: "doc:1", Action: "read", Groups: make([]string, engine.MaxGroups+1)}, false, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := p.Decide(&tt.q)
			if (err != nil) != tt.err {
				t.Fatalf("Decide: err = %v, want error %v", err, tt.err)
			}
			if d.Allowed != tt.allowed || d.Rule != tt.rule {
				t.Fatalf("Decide = allowed %v by %q (%s), want %v by %q", d.Allowed, d.Rule, d.Reason, tt.allowed, tt.rule)
			}
			e, err := p.Explain(&tt.q)
			if (err != nil) != tt.err {
				t.Fatalf("Explain: err = %v", err)
			}
			if !slices.Equal(e.Decision.SubjectPath, tt.path) {
				t.Fatalf("subject path %q, want %q", e.Decision.SubjectPath, tt.path)
			}
		})
	}
	if !p.MemberOf("ann", "admin", []string{"editor"}) || p.MemberOf("ann", "admin", []string{"viewer"}) || !p.MemberOf("ann", "team:x", []string{"team:x"}) {
		t.Error("MemberOf does not follow supplied groups")
	}
}
