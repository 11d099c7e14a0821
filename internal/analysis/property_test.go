package analysis_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/testgen"
)

var (
	userPool = []string{"u1", "u2", "u3", "a", "a:b", "ab"}
	shape    = testgen.Shape{
		Groups: []string{"g1", "g2", "ab"}, Users: userPool,
		Resources: []string{"r1", "r2", "b"}, ResourceNames: []string{"a", "b", "a:b", "ab:a"},
		Actions: []string{"x1", "x2"}, ActionNames: []string{"a", "b", "ab"},
		Subjects: []string{"*", "g1", "g2", "ab", "u1", "u*", "a:*", "*1", "a", "zz"},
		MaxRules: 12,
	}
)

func genSource(t *rapid.T) *engine.Source { return testgen.Source(t, shape) }

func genRule(t *rapid.T) engine.Rule {
	return testgen.Rule(t, shape.Subjects, shape.Resources, shape.Actions)
}

// mutate returns a copy of src with one to three random edits: a rule
// added, removed or flipped, a member added or removed, the strategy or
// the mismatch decision changed.
func mutate(t *rapid.T, src *engine.Source) *engine.Source {
	out := *src
	out.Rules = slices.Clone(src.Rules)
	out.Groups = testgen.CloneGroups(src.Groups)
	out.Resources = testgen.CloneGroups(src.Resources)
	out.Actions = testgen.CloneGroups(src.Actions)
	for range rapid.IntRange(1, 3).Draw(t, "edits") {
		switch rapid.IntRange(0, 6).Draw(t, "edit") {
		case 0:
			i := rapid.IntRange(0, len(out.Rules)).Draw(t, "at")
			out.Rules = slices.Insert(out.Rules, i, genRule(t))
		case 1:
			if len(out.Rules) > 0 {
				i := rapid.IntRange(0, len(out.Rules)-1).Draw(t, "at")
				out.Rules = slices.Delete(out.Rules, i, i+1)
			}
		case 2:
			if len(out.Rules) > 0 {
				i := rapid.IntRange(0, len(out.Rules)-1).Draw(t, "at")
				out.Rules[i].Effect = 3 - out.Rules[i].Effect
			}
		case 3:
			g := &out.Groups[rapid.IntRange(0, len(out.Groups)-1).Draw(t, "group")]
			g.Members = append(g.Members, engine.Member{Name: rapid.SampledFrom(userPool).Draw(t, "new-member")})
		case 4:
			g := &out.Resources[rapid.IntRange(0, len(out.Resources)-1).Draw(t, "rgroup")]
			if len(g.Members) > 0 {
				g.Members = g.Members[1:]
			} else {
				g.Members = append(g.Members, engine.Member{Name: "a:*"})
			}
		case 5:
			out.Strategy = rapid.SampledFrom(testgen.Strategies).Draw(t, "new-strategy")
		default:
			if out.NoMatch == engine.EffectAllow {
				out.NoMatch = engine.EffectDeny
			} else {
				out.NoMatch = engine.EffectAllow
			}
			out.NoMatchSet = true
		}
	}
	testgen.Renumber(out.Rules)
	testgen.DropRoleMembers(&out)
	return &out
}

// drawn is a random policy, its model, and the brute-force universe of
// each dimension.
type drawn struct {
	src                 *engine.Source
	m                   *analysis.Model
	subjects, res, acts []string
}

func draw(t *rapid.T) drawn {
	src := genSource(t)
	return drawn{src: src, m: model(t, src), subjects: universe(t, 0, src), res: universe(t, 1, src), acts: universe(t, 2, src)}
}

func model(t interface{ Fatalf(string, ...any) }, src *engine.Source) *analysis.Model {
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		t.Fatalf("generated source does not compile: %v", errs)
	}
	return analysis.NewModel(src, p)
}

// universe is the brute-force universe of one dimension: every declared
// name and a representative of every region of every pattern anywhere in
// the sources, with no narrowing.
func universe(t interface{ Fatalf(string, ...any) }, dim int, srcs ...*engine.Source) []string {
	var pats []pattern.Pattern
	var lits []string
	for _, src := range srcs {
		groups := [][]engine.Group{src.Groups, src.Resources, src.Actions}[dim]
		for _, g := range groups {
			lits = append(lits, g.Name)
			for _, m := range g.Members {
				if p, err := pattern.Parse(m.Name); err == nil && !p.IsLiteral() {
					pats = append(pats, p)
				} else {
					lits = append(lits, m.Name)
				}
			}
		}
		for _, r := range src.Rules {
			pats = append(pats, pattern.MustParse([]string{r.Subject, r.Resource, r.Action}[dim]))
		}
	}
	names, err := analysis.Representatives(pats, lits)
	if err != nil {
		t.Fatalf("Representatives: %v", err)
	}
	if dim == 1 {
		names = append(names, "")
	}
	return names
}

func key(o analysis.Outcome) string {
	return fmt.Sprintf("%s %s[%d] %v", o.Rule, o.Effect, o.Item, o.Allowed)
}

func engineKey(o engine.Decision) string {
	return key(analysis.Outcome{Allowed: o.Allowed, Effect: o.Effect, Rule: o.Rule, Item: o.Item})
}

func declared(src *engine.Source, name string) bool {
	for _, g := range src.Groups {
		if g.Name == name || slices.ContainsFunc(g.Members, func(m engine.Member) bool { return m.Name == name }) {
			return true
		}
	}
	for _, r := range src.Rules {
		if r.Subject == name {
			return true
		}
	}
	return false
}

// TestWhoMatchesBruteForce: Who lists exactly the declared subjects that
// deciding every subject of the full universe finds allowed, and its
// representatives of undeclared subjects carry exactly the outcomes that
// undeclared subjects get, under every strategy.
func TestWhoMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		d := draw(t)
		src, m, subjects, res, acts := d.src, d.m, d.subjects, d.res, d.acts
		for range 4 {
			r := rapid.SampledFrom(res).Draw(t, "resource")
			a := rapid.SampledFrom(acts).Draw(t, "action")
			grants, err := m.Who(r, a)
			if err != nil {
				t.Fatalf("Who(%q, %q): %v", r, a, err)
			}
			got, gotOther := map[string]string{}, map[string]bool{}
			for _, g := range grants {
				if g.Kind == "other" {
					gotOther[key(grantOut(g))] = true
				} else {
					got[g.Subject] = key(grantOut(g))
				}
			}
			want, wantOther := map[string]string{}, map[string]bool{}
			for _, s := range subjects {
				o, err := m.P.Decide(&engine.Query{Subject: s, Resource: r, Action: a})
				if err != nil {
					t.Fatal(err)
				}
				if !o.Allowed {
					continue
				}
				if declared(src, s) {
					want[s] = engineKey(o)
				} else {
					wantOther[engineKey(o)] = true
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotOther) != fmt.Sprint(wantOther) {
				t.Fatalf("Who(%q, %q):\n got %v others %v\nwant %v others %v", r, a, got, gotOther, want, wantOther)
			}
		}
	})
}

// TestCanMatchesBruteForce: the rule items Can lists are exactly those
// that decide some request of the subject over the full universe, each
// marked partial exactly when it matches a request some other item
// decides; the mismatch entry appears exactly when some request matches
// no rule.
func TestCanMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		d := draw(t)
		m, subjects, res, acts := d.m, d.subjects, d.res, d.acts
		s := rapid.SampledFrom(subjects).Draw(t, "subject")
		perms, err := m.Can(s)
		if err != nil {
			t.Fatalf("Can(%q): %v", s, err)
		}
		got := map[string]bool{}
		for _, p := range perms {
			got[key(permOut(p))] = p.Partial
		}
		decided := map[string]bool{}
		partial := map[string]bool{}
		for _, r := range res {
			for _, a := range acts {
				e, err := m.P.Explain(&engine.Query{Subject: s, Resource: r, Action: a})
				if err != nil {
					t.Fatal(err)
				}
				d := e.Decision
				k := key(analysis.Outcome{Allowed: d.Allowed, Effect: d.Effect, Rule: d.Rule, Item: d.Item})
				decided[k] = true
				for _, mt := range e.Matches {
					if !mt.Decided {
						partial[key(analysis.Outcome{Allowed: mt.Effect == engine.EffectAllow, Effect: mt.Effect, Rule: mt.Rule, Item: mt.Item})] = true
					}
				}
			}
		}
		want := map[string]bool{}
		for k := range decided {
			want[k] = partial[k]
		}
		// The mismatch entry is partial whenever rules decide something.
		for k := range want {
			if k[0] == ' ' {
				want[k] = len(want) > 1
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Can(%q):\n got %v\nwant %v", s, got, want)
		}
	})
}

// TestDiffMatchesBruteForce: Diff finds, for every subject, exactly the
// (old outcome, new outcome) pairs that deciding the full universe of
// both versions finds changed, and every change it reports is real.
func TestDiffMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := genSource(t)
		next := mutate(t, src)
		if rapid.IntRange(0, 4).Draw(t, "unrelated") == 0 {
			next = genSource(t)
		}
		old, nw := model(t, src), model(t, next)
		changes, err := analysis.Diff(old, nw)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		got := map[string]bool{}
		for _, c := range changes {
			o, _ := old.P.Decide(&engine.Query{Subject: c.Subject, Resource: c.Resource, Action: c.Action})
			n, _ := nw.P.Decide(&engine.Query{Subject: c.Subject, Resource: c.Resource, Action: c.Action})
			if o.Allowed == n.Allowed || engineKey(o) != key(c.Old) || engineKey(n) != key(c.New) {
				t.Fatalf("reported change %+v is not one: old %+v new %+v", c, o, n)
			}
			got[c.Subject+" | "+key(c.Old)+" → "+key(c.New)] = true
		}
		want := map[string]bool{}
		for _, s := range universe(t, 0, src, next) {
			for _, r := range universe(t, 1, src, next) {
				for _, a := range universe(t, 2, src, next) {
					o, _ := old.P.Decide(&engine.Query{Subject: s, Resource: r, Action: a})
					n, _ := nw.P.Decide(&engine.Query{Subject: s, Resource: r, Action: a})
					if o.Allowed != n.Allowed {
						want[s+" | "+engineKey(o)+" → "+engineKey(n)] = true
					}
				}
			}
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Fatalf("Diff:\n got %v\nwant %v", sorted(got), sorted(want))
		}
	})
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRepresentativesComplete: every name, drawn at random from a small
// alphabet, matches exactly the same patterns and literals as one of the
// representatives. This is what makes deciding the representatives the
// same as deciding every name.
func TestRepresentativesComplete(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var pats []pattern.Pattern
		for range rapid.IntRange(0, 6).Draw(t, "patterns") {
			pats = append(pats, pattern.MustParse(testgen.Pattern(t, "p")))
		}
		lits := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "ab", "a:b", "_", "b:a:b", "aa", "ba"}), 0, 4).Draw(t, "literals")
		reps, err := analysis.Representatives(pats, lits)
		if err != nil {
			t.Fatal(err)
		}
		sig := func(n string) string {
			s := ""
			for _, p := range pats {
				if p.Match(n) {
					s += "1"
				} else {
					s += "0"
				}
			}
			return s + "|" + fmt.Sprint(slices.Index(lits, n) >= 0 && n != "") + n
		}
		have := map[string]bool{}
		for _, r := range reps {
			if err := pattern.CheckName(r); err != nil {
				t.Fatalf("representative %q is not a valid name: %v", r, err)
			}
			s := sig(r)
			if !slices.Contains(lits, r) {
				s = sig(r)[:len(pats)] + "|false"
			}
			have[s] = true
		}
		for range 30 {
			n := ""
			for i := range rapid.IntRange(1, 4).Draw(t, "segs") {
				if i > 0 {
					n += ":"
				}
				n += rapid.SampledFrom([]string{"a", "b", "ab", "ba", "aab", "c", "_", "bab"}).Draw(t, "seg")
			}
			s := sig(n)
			if !slices.Contains(lits, n) {
				s = s[:len(pats)] + "|false"
			}
			if !have[s] {
				t.Fatalf("name %q (%s) has no representative among %q", n, s, reps)
			}
		}
	})
}

func grantOut(g analysis.Grant) analysis.Outcome {
	return analysis.Outcome{Allowed: true, Effect: g.Effect, Rule: g.Rule, Item: g.Item}
}

func permOut(p analysis.Permission) analysis.Outcome {
	return analysis.Outcome{Allowed: p.Allowed, Effect: p.Effect, Rule: p.Rule, Item: p.Item}
}
