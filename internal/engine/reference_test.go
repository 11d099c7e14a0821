package engine_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// reference decides a request the slow, obvious way, straight from SPEC
// 3–5: compute every principal by searching the membership graph, test
// every rule in document order, then apply the strategy to the full list.
// It shares nothing with the compiled index but the single-pattern matcher.
func reference(src *engine.Source, subject, resource, action string) (rule int, effect engine.Effect) {
	sp := principals(src.Groups, subject, false)
	rp := principals(src.Resources, resource, true)
	ap := principals(src.Actions, action, true)
	type hit struct {
		i     int
		class int
	}
	var hits []hit
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
		hits = append(hits, hit{i, class})
	}
	if len(hits) == 0 {
		return -1, engine.EffectNone
	}
	eff := func(h hit) engine.Effect { return src.Rules[h.i].Effect }
	first := func(e engine.Effect) int {
		for _, h := range hits {
			if eff(h) == e {
				return h.i
			}
		}
		return -1
	}
	var pick int
	switch src.Strategy {
	case engine.DenyOverrides:
		if pick = first(engine.EffectDeny); pick < 0 {
			pick = first(engine.EffectAllow)
		}
	case engine.AllowOverrides:
		if pick = first(engine.EffectAllow); pick < 0 {
			pick = first(engine.EffectDeny)
		}
	case engine.FirstMatch:
		pick = hits[0].i
	case engine.MostSpecific:
		best := hits[0]
		for _, h := range hits[1:] {
			a, b := src.Rules[h.i], src.Rules[best.i]
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
		pick = best.i
	}
	return pick, src.Rules[pick].Effect
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
func principals(groups []engine.Group, name string, patterns bool) []string {
	out := []string{name}
	if name == "" {
		return out
	}
	in := map[string]bool{}
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
	for _, g := range groups {
		if in[g.Name] && g.Name != name {
			out = append(out, g.Name)
		}
	}
	return out
}

// Small alphabets make matches, shared names and cycles frequent.
var (
	segs     = []string{"a", "b", "ab"}
	segPats  = []string{"a", "b", "ab", "*", "a*", "*b", "a,b", "a*,b"}
	userPool = []string{"u1", "u2", "u3", "a", "a:b"}
)

func genName(t *rapid.T, label string) string {
	n := rapid.IntRange(1, 3).Draw(t, label+"-len")
	var s string
	for i := range n {
		if i > 0 {
			s += ":"
		}
		s += rapid.SampledFrom(segs).Draw(t, label+"-seg")
	}
	return s
}

func genPattern(t *rapid.T, label string) string {
	if rapid.IntRange(0, 6).Draw(t, label+"-all") == 0 {
		return "*"
	}
	n := rapid.IntRange(1, 3).Draw(t, label+"-len")
	var s string
	for i := range n {
		if i > 0 {
			s += ":"
		}
		s += rapid.SampledFrom(segPats).Draw(t, label+"-seg")
	}
	return s
}

func genGroups(t *rapid.T, label string, names []string, patterns bool, pool []string) []engine.Group {
	var out []engine.Group
	for i, n := range names {
		g := engine.Group{Name: n, Section: label}
		if label == "groups" {
			g.Role = rapid.Bool().Draw(t, "role")
			if g.Role {
				g.Section = "roles"
			}
		}
		k := rapid.IntRange(0, 3).Draw(t, "members")
		for range k {
			var m string
			switch rapid.IntRange(0, 2).Draw(t, "member-kind") {
			case 0: // another group, cycles welcome
				m = names[rapid.IntRange(0, len(names)-1).Draw(t, "member-group")]
			case 1:
				m = rapid.SampledFrom(pool).Draw(t, "member-name")
			default:
				if patterns {
					m = genPattern(t, "member-pattern")
					if m == "*" {
						m = "a:*"
					}
				} else {
					m = rapid.SampledFrom(pool).Draw(t, "member-name")
				}
			}
			g.Members = append(g.Members, engine.Member{Name: m})
		}
		_ = i
		out = append(out, g)
	}
	return out
}

func genSource(t *rapid.T) *engine.Source {
	src := &engine.Source{
		Strategy: rapid.SampledFrom([]engine.Strategy{engine.DenyOverrides, engine.AllowOverrides, engine.FirstMatch, engine.MostSpecific}).Draw(t, "strategy"),
	}
	src.Groups = genGroups(t, "groups", []string{"g1", "g2", "g3", "ab"}, false, userPool)
	// A group may not list a role (SPEC 3.2): drop such members so every
	// generated source compiles.
	roles := map[string]bool{}
	for _, g := range src.Groups {
		if g.Role {
			roles[g.Name] = true
		}
	}
	for i := range src.Groups {
		g := &src.Groups[i]
		if !g.Role {
			g.Members = slices.DeleteFunc(g.Members, func(m engine.Member) bool { return roles[m.Name] })
		}
	}
	src.Resources = genGroups(t, "resources", []string{"r1", "r2", "b"}, true, []string{"a", "b", "a:b", "ab:a"})
	src.Actions = genGroups(t, "actions", []string{"x1", "x2"}, true, []string{"a", "b", "ab"})
	subjects := append([]string{"*", "g1", "g2", "g3", "ab", "u1", "u*", "a:*"}, userPool...)
	resources := []string{"r1", "r2", "b"}
	actions := []string{"x1", "x2"}
	// Up to 40 rules, sometimes over few subjects, so buckets outgrow the
	// flat list and get split by action and resource.
	n := rapid.IntRange(0, 40).Draw(t, "rules")
	if rapid.Bool().Draw(t, "few-subjects") {
		subjects = subjects[:3]
	}
	items := map[string]int{}
	for i := range n {
		eff := rapid.SampledFrom([]engine.Effect{engine.EffectAllow, engine.EffectDeny}).Draw(t, "effect")
		id := fmt.Sprintf("rules.%d", i/3+1)
		items[id+eff.String()]++
		r := engine.Rule{ID: id, Item: items[id+eff.String()], Effect: eff}
		r.Subject = rapid.SampledFrom(subjects).Draw(t, "subject")
		if rapid.Bool().Draw(t, "resource-group") {
			r.Resource = rapid.SampledFrom(resources).Draw(t, "resource")
		} else {
			r.Resource = genPattern(t, "resource")
		}
		if rapid.Bool().Draw(t, "action-group") {
			r.Action = rapid.SampledFrom(actions).Draw(t, "action")
		} else {
			r.Action = genPattern(t, "action")
		}
		src.Rules = append(src.Rules, r)
	}
	if rapid.Bool().Draw(t, "nomatch-allow") {
		src.NoMatch, src.NoMatchSet = engine.EffectAllow, true
	}
	return src
}

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
				resource = genName(t, "req-resource")
				if rapid.IntRange(0, 4).Draw(t, "group-as-resource") == 0 {
					resource = rapid.SampledFrom([]string{"r1", "r2", "b"}).Draw(t, "group-resource")
				}
			}
			action := genName(t, "req-action")
			d, err := p.Decide(subject, resource, action)
			if err != nil {
				t.Fatalf("Decide(%q, %q, %q): %v", subject, resource, action, err)
			}
			wantRule, wantEffect := reference(src, subject, resource, action)
			wantAllowed := wantEffect == engine.EffectAllow || (wantEffect == engine.EffectNone && src.NoMatch == engine.EffectAllow)
			if d.Effect != wantEffect || d.Allowed != wantAllowed {
				t.Fatalf("Decide(%q, %q, %q) = %v allowed=%v (%s), reference says %v allowed=%v (rule %d)",
					subject, resource, action, d.Effect, d.Allowed, d.Reason, wantEffect, wantAllowed, wantRule)
			}
			if wantRule >= 0 {
				want := src.Rules[wantRule]
				if d.Rule != want.ID || d.Item != want.Item {
					t.Fatalf("Decide(%q, %q, %q) decided by %s %v[%d], reference by %s %v[%d]",
						subject, resource, action, d.Rule, d.Effect, d.Item, want.ID, want.Effect, want.Item)
				}
			}
			e, err := p.Explain(subject, resource, action)
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
