// Package testgen draws random policies for property tests: the engine's
// decisions against its reference, its membership graph against a
// brute-force one, and analysis against deciding every request. One set of
// generators serves them all, so a shape that finds a bug in one finds it
// in the others.
//
// The alphabets are small on purpose: they make matching names, shared
// names, overlapping globs and cycles frequent, which is where the code
// under test can go wrong. Every Source it draws compiles.
//
// testgen is for tests: only _test.go files import it (TestOnlyTests
// checks), so it never reaches the warden binary. Its functions keep no
// state and are safe for concurrent use.
package testgen

import (
	"fmt"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
)

// Segments of generated names, and of generated patterns.
var (
	NameSegments    = []string{"a", "b", "ab"}
	PatternSegments = []string{"a", "b", "ab", "*", "a*", "*b", "a,b", "a*,b", "*a*"}
)

// Strategies lists every strategy, for drawing one.
var Strategies = []engine.Strategy{engine.DenyOverrides, engine.AllowOverrides, engine.FirstMatch, engine.MostSpecific}

// Name draws a name of one to three segments over NameSegments.
func Name(t *rapid.T, label string) string { return segments(t, label, NameSegments) }

// Pattern draws a pattern: '*' one time in seven, otherwise one to three
// segments over PatternSegments.
func Pattern(t *rapid.T, label string) string {
	if rapid.IntRange(0, 6).Draw(t, label+"-all") == 0 {
		return "*"
	}
	return segments(t, label, PatternSegments)
}

func segments(t *rapid.T, label string, from []string) string {
	segs := make([]string, rapid.IntRange(1, 3).Draw(t, label+"-len"))
	for i := range segs {
		segs[i] = rapid.SampledFrom(from).Draw(t, label+"-seg")
	}
	return strings.Join(segs, ":")
}

// Groups draws one group per name, each with up to three members: another
// of the groups (so cycles and self-listing happen), a name from pool, or,
// when patterns is set, a pattern member ('*' alone is replaced by "a:*",
// which matches less). Section "groups" makes about half of them roles.
func Groups(t *rapid.T, section string, names []string, patterns bool, pool []string) []engine.Group {
	var out []engine.Group
	for _, n := range names {
		g := engine.Group{Name: n, Section: section}
		if section == "groups" && rapid.Bool().Draw(t, "role") {
			g.Role, g.Section = true, "roles"
		}
		for range rapid.IntRange(0, 3).Draw(t, "members") {
			var m string
			switch rapid.IntRange(0, 2).Draw(t, "member-kind") {
			case 0:
				m = rapid.SampledFrom(names).Draw(t, "member-group")
			case 1:
				m = rapid.SampledFrom(pool).Draw(t, "member-name")
			default:
				m = rapid.SampledFrom(pool).Draw(t, "member-name")
				if patterns {
					if m = Pattern(t, "member-pattern"); m == "*" {
						m = "a:*"
					}
				}
			}
			g.Members = append(g.Members, engine.Member{Name: m})
		}
		out = append(out, g)
	}
	return out
}

// DropRoleMembers removes the roles that groups list: a group may not list
// a role (SPEC 3.2), and every generated source must compile.
func DropRoleMembers(src *engine.Source) {
	roles := map[string]bool{}
	for _, g := range src.Groups {
		if g.Role {
			roles[g.Name] = true
		}
	}
	for i := range src.Groups {
		if g := &src.Groups[i]; !g.Role {
			g.Members = slices.DeleteFunc(g.Members, func(m engine.Member) bool { return roles[m.Name] })
		}
	}
}

// Shape says what a Source is drawn from. It is a plain value that Source
// only reads, so one Shape may serve concurrent checks. The zero Shape
// draws policies without groups or rules, only a strategy and a mismatch
// decision; a Shape with MaxRules > 0 needs Subjects.
type Shape struct {
	// Groups, Resources and Actions name the groups of each kind; Users,
	// ResourceNames and ActionNames are the names their members are drawn
	// from.
	Groups, Users            []string
	Resources, ResourceNames []string
	Actions, ActionNames     []string
	Subjects                 []string // rules' subjects
	MaxRules                 int
	// FewSubjects sometimes limits a source's rules to the first three
	// Subjects, so rule buckets outgrow a flat list and split by action
	// and resource.
	FewSubjects bool
}

// Source draws a policy of the given shape: groups of every kind, up to
// MaxRules rules numbered as a file numbers them (Renumber), a strategy,
// and sometimes mismatch_decision = 'allow'.
func Source(t *rapid.T, s Shape) *engine.Source {
	src := &engine.Source{Strategy: rapid.SampledFrom(Strategies).Draw(t, "strategy")}
	src.Groups = Groups(t, "groups", s.Groups, false, s.Users)
	DropRoleMembers(src)
	src.Resources = Groups(t, "resources", s.Resources, true, s.ResourceNames)
	src.Actions = Groups(t, "actions", s.Actions, true, s.ActionNames)
	subjects := s.Subjects
	if s.FewSubjects && rapid.Bool().Draw(t, "few-subjects") {
		subjects = subjects[:min(3, len(subjects))]
	}
	for range rapid.IntRange(0, s.MaxRules).Draw(t, "rules") {
		src.Rules = append(src.Rules, Rule(t, subjects, s.Resources, s.Actions))
	}
	Renumber(src.Rules)
	if rapid.Bool().Draw(t, "nomatch-allow") {
		src.NoMatch, src.NoMatchSet = engine.EffectAllow, true
	}
	return src
}

// Rule draws one rule item: a subject from subjects, and for resource and
// action either a group name or a pattern. It has no id; Renumber gives
// one.
func Rule(t *rapid.T, subjects, resources, actions []string) engine.Rule {
	r := engine.Rule{Effect: rapid.SampledFrom([]engine.Effect{engine.EffectAllow, engine.EffectDeny}).Draw(t, "effect")}
	r.Subject = rapid.SampledFrom(subjects).Draw(t, "subject")
	if len(resources) > 0 && rapid.Bool().Draw(t, "resource-group") {
		r.Resource = rapid.SampledFrom(resources).Draw(t, "resource")
	} else {
		r.Resource = Pattern(t, "resource")
	}
	if len(actions) > 0 && rapid.Bool().Draw(t, "action-group") {
		r.Action = rapid.SampledFrom(actions).Draw(t, "action")
	} else {
		r.Action = Pattern(t, "action")
	}
	return r
}

// Renumber gives rules ids and items as a file would: three items to a
// rule id (rules.1, rules.2, ...), items counted per id and effect.
func Renumber(rules []engine.Rule) {
	items := map[string]int{}
	for i := range rules {
		rules[i].ID = fmt.Sprintf("rules.%d", i/3+1)
		k := rules[i].ID + rules[i].Effect.String()
		items[k]++
		rules[i].Item = items[k]
	}
}

// CloneGroups copies groups deeply enough that editing a copy's members
// leaves the original as it was.
func CloneGroups(gs []engine.Group) []engine.Group {
	out := make([]engine.Group, len(gs))
	for i, g := range gs {
		g.Members = slices.Clone(g.Members)
		out[i] = g
	}
	return out
}
