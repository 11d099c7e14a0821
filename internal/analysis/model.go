// Package analysis answers questions about a whole policy rather than one
// request: who may do something (Who), what one subject may do (Can), what
// changes between two versions (Diff), and whether a policy passes its
// tests (test files, RunFiles).
//
// Every answer is computed by deciding requests with the compiled engine,
// so analysis can never disagree with decisions. The requests are chosen so
// that together they stand for every request there is: every declared name,
// plus representative names (Representatives) for each region of the name
// space that the policy's patterns tell apart. Indexes narrow the requests
// to those a question can depend on, so the work follows the rules that
// apply, not users × resources × actions.
package analysis

import (
	"errors"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Model is a compiled policy with the indexes analysis needs: membership
// graphs in both directions and the rules' parsed patterns. It is read-only
// once built.
type Model struct {
	Src *engine.Source
	P   *engine.Policy

	subjects, resources, actions *graph
	rules                        []rule
	// bySubject indexes rules by literal subject pattern; wildSubject
	// lists the others, '*' included, in document order.
	bySubject   map[string][]int32
	wildSubject []int32
	allSubject  []int32           // rules whose subject is '*', in document order
	items       map[itemKey]int32 // rule item to its index
	// litRes and litAct hold the literal resources and actions of rules:
	// declared names, like group members.
	litRes, litAct map[string]bool
}

// errNoModel is the error of a query on a Model that NewModel did not
// build from a source and a policy: the zero Model, a nil *Model, or
// NewModel(nil, nil). It knows no rule, so it can answer nothing.
var errNoModel = errors.New("analysis: the Model was not built by NewModel from a source and a policy")

func (m *Model) usable() error {
	if m == nil || m.Src == nil || m.P == nil || m.subjects == nil {
		return errNoModel
	}
	return nil
}

type rule struct {
	src                       engine.Rule
	subject, resource, action pattern.Pattern
}

// NewModel indexes a policy. src must be the source p was compiled from.
// Without both, the Model answers every query with errNoModel.
func NewModel(src *engine.Source, p *engine.Policy) *Model {
	if src == nil || p == nil {
		return &Model{Src: src, P: p}
	}
	m := &Model{
		Src:       src,
		P:         p,
		subjects:  newGraph(src.Groups, false),
		resources: newGraph(src.Resources, true),
		actions:   newGraph(src.Actions, true),
		bySubject: map[string][]int32{},
		items:     make(map[itemKey]int32, len(src.Rules)),
		litRes:    map[string]bool{},
		litAct:    map[string]bool{},
	}
	cache := map[string]pattern.Pattern{}
	parse := func(s string) pattern.Pattern {
		if p, ok := cache[s]; ok {
			return p
		}
		p, err := pattern.Parse(s)
		if err != nil {
			p = pattern.Pattern{} // matches nothing; a compiled policy has none
		}
		cache[s] = p
		return p
	}
	m.rules = make([]rule, len(src.Rules))
	for i, r := range src.Rules {
		m.rules[i] = rule{src: r, subject: parse(r.Subject), resource: parse(r.Resource), action: parse(r.Action)}
		m.items[itemKey{r.ID, r.Effect, r.Item}] = int32(i)
		if p := m.rules[i].resource; p.IsLiteral() {
			m.litRes[p.Literal()] = true
		}
		if p := m.rules[i].action; p.IsLiteral() {
			m.litAct[p.Literal()] = true
		}
		if s := m.rules[i].subject; s.IsLiteral() {
			m.bySubject[s.Literal()] = append(m.bySubject[s.Literal()], int32(i))
		} else {
			m.wildSubject = append(m.wildSubject, int32(i))
			if s.IsAll() {
				m.allSubject = append(m.allSubject, int32(i))
			}
		}
	}
	return m
}

// graph is one kind's membership graph, kept by name so that two versions
// of a policy can be compared name by name.
type graph struct {
	order   []string // group names, declaration order
	role    map[string]bool
	parents map[string][]string // member name → groups listing it by name
	members map[string][]string // group → members listed by name
	pats    map[string][]pattern.Pattern
	byPat   []patMember
	names   map[string]bool // every name declared: groups and named members
}

type patMember struct {
	p     pattern.Pattern
	group string
}

func newGraph(groups []engine.Group, patterns bool) *graph {
	n := len(groups)
	for _, grp := range groups {
		n += len(grp.Members)
	}
	g := &graph{
		role:    make(map[string]bool, len(groups)),
		parents: make(map[string][]string, n),
		members: make(map[string][]string, len(groups)),
		pats:    map[string][]pattern.Pattern{},
		names:   make(map[string]bool, n),
	}
	for _, grp := range groups {
		if _, dup := g.members[grp.Name]; dup {
			continue
		}
		g.order = append(g.order, grp.Name)
		g.role[grp.Name] = grp.Role
		g.members[grp.Name] = nil
		g.names[grp.Name] = true
	}
	for _, grp := range groups {
		for _, mem := range grp.Members {
			if patterns && strings.ContainsAny(mem.Name, "*,") {
				if p, err := pattern.Parse(mem.Name); err == nil && !p.IsLiteral() {
					g.pats[grp.Name] = append(g.pats[grp.Name], p)
					g.byPat = append(g.byPat, patMember{p, grp.Name})
					continue
				}
			}
			g.members[grp.Name] = append(g.members[grp.Name], mem.Name)
			g.parents[mem.Name] = append(g.parents[mem.Name], grp.Name)
			g.names[mem.Name] = true
		}
	}
	return g
}

func (g *graph) isGroup(name string) bool {
	_, ok := g.members[name]
	return ok
}

// groupsOf returns every group name belongs to (SPEC 3.1, 4.1): groups
// listing it, groups with a pattern member matching it, and every group
// those reach by name. It excludes name itself unless a cycle leads back.
func (g *graph) groupsOf(name string) []string {
	if name == "" {
		return nil
	}
	var queue []string
	// Most names reach a handful of groups: a linear scan of the queue
	// beats a map until the queue grows.
	var seen map[string]bool
	push := func(x string) {
		if seen == nil && len(queue) < 16 {
			for _, q := range queue {
				if q == x {
					return
				}
			}
			queue = append(queue, x)
			return
		}
		if seen == nil {
			seen = make(map[string]bool, 2*len(queue))
			for _, q := range queue {
				seen[q] = true
			}
		}
		if !seen[x] {
			seen[x] = true
			queue = append(queue, x)
		}
	}
	for _, p := range g.parents[name] {
		push(p)
	}
	for _, pm := range g.byPat {
		if pm.p.Match(name) {
			push(pm.group)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, p := range g.parents[queue[i]] {
			push(p)
		}
	}
	return queue
}

// reach returns the names and pattern members that lead, by membership, to
// any of groups (the groups themselves included): every name that belongs
// to one of them is one of names, or matches one of pats, or both.
func (g *graph) reach(groups []string) (names []string, pats []pattern.Pattern) {
	seen := map[string]bool{}
	queue := []string{}
	for _, grp := range groups {
		if !seen[grp] {
			seen[grp] = true
			queue = append(queue, grp)
		}
	}
	for i := 0; i < len(queue); i++ {
		grp := queue[i]
		pats = append(pats, g.pats[grp]...)
		for _, mem := range g.members[grp] {
			if !seen[mem] {
				seen[mem] = true
				queue = append(queue, mem)
			}
		}
	}
	return queue, pats
}

// relevant returns the groups whose names some pattern of pats matches:
// a rule naming them applies to their members.
func (g *graph) relevant(pats []pattern.Pattern) []string {
	var out []string
	seen := map[string]bool{}
	var wild []pattern.Pattern
	for _, p := range pats {
		switch {
		case p.IsAll():
			// '*' matches every name directly; groups add nothing.
		case p.IsLiteral():
			if l := p.Literal(); g.isGroup(l) && !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		default:
			wild = append(wild, p)
		}
	}
	if len(wild) > 0 {
		for _, grp := range g.order {
			if seen[grp] {
				continue
			}
			for _, p := range wild {
				if p.Match(grp) {
					seen[grp] = true
					out = append(out, grp)
					break
				}
			}
		}
	}
	return out
}

// principals returns the subject and every group and role it reaches.
func (m *Model) principals(subject string) []string {
	return append([]string{subject}, m.subjects.groupsOf(subject)...)
}

// Subject match classes, as most-specific ranks them (SPEC 5.2).
const (
	classAll uint8 = iota
	classPattern
	classGroup
	classSelf
)

// applicable returns, in document order, the rules whose subject pattern
// matches one of the principals, each with the best class it matches with,
// and the principal it matches through (the shortest way: the subject
// itself first).
func (m *Model) applicable(principals []string) []applied {
	var hits []applied
	for j, p := range principals {
		for _, i := range m.bySubject[p] {
			c := classGroup
			if j == 0 {
				c = classSelf
			}
			hits = append(hits, applied{rule: i, class: c, via: p})
		}
	}
	for _, i := range m.wildSubject {
		s := m.rules[i].subject
		if s.IsAll() {
			continue // every subject's: merged in below
		}
		for _, p := range principals {
			if s.Match(p) {
				hits = append(hits, applied{rule: i, class: classPattern, via: p})
				break
			}
		}
	}
	// Per rule keep the best class, and among equals the first principal.
	slices.SortStableFunc(hits, func(a, b applied) int {
		if a.rule != b.rule {
			return int(a.rule - b.rule)
		}
		return int(b.class) - int(a.class)
	})
	hits = slices.CompactFunc(hits, func(a, b applied) bool { return a.rule == b.rule })
	// '*' rules apply to everyone alike; they are already in order, so a
	// merge keeps the whole list in document order.
	out := make([]applied, 0, len(hits)+len(m.allSubject))
	i := 0
	for _, r := range m.allSubject {
		for i < len(hits) && hits[i].rule < r {
			out = append(out, hits[i])
			i++
		}
		out = append(out, applied{rule: r, class: classAll, via: principals[0]})
	}
	return append(out, hits[i:]...)
}

type applied struct {
	rule  int32
	class uint8
	via   string
}

// dimensionUniverse returns representative names for the resources (or
// actions) of the given rules under graph g: every name the rules tell
// apart, directly or through the groups they name.
func dimensionUniverse(gs []*graph, pats []pattern.Pattern, withEmpty bool) ([]string, error) {
	var lits []string
	all := slices.Clone(pats)
	for _, g := range gs {
		names, gp := g.reach(g.relevant(pats))
		lits = append(lits, names...)
		all = append(all, gp...)
	}
	reps, err := Representatives(all, lits)
	if err != nil {
		return nil, err
	}
	if withEmpty {
		reps = append(reps, "")
	}
	return reps, nil
}

// declaredSubjects returns every subject name the policy declares: groups,
// roles, their named members, and literal subjects of rules, in no
// particular order and possibly repeated; Representatives sorts them out.
func (m *Model) declaredSubjects() []string {
	out := make([]string, 0, len(m.subjects.names)+len(m.bySubject))
	for n := range m.subjects.names {
		out = append(out, n)
	}
	for n := range m.bySubject {
		out = append(out, n)
	}
	return out
}

// wildSubjectPatterns returns the subject patterns that are neither
// literal nor '*'.
func (m *Model) wildSubjectPatterns() []pattern.Pattern {
	var out []pattern.Pattern
	for _, i := range m.wildSubject {
		if s := m.rules[i].subject; !s.IsAll() {
			out = append(out, s)
		}
	}
	return out
}

// kind says what a subject name is in the policy: "role", "group", "user"
// (named as a member or by a rule) or "" (not declared: a representative).
func (m *Model) kind(name string) string {
	switch {
	case m.subjects.isGroup(name) && m.subjects.role[name]:
		return "role"
	case m.subjects.isGroup(name):
		return "group"
	case m.subjects.names[name] || m.bySubject[name] != nil:
		return "user"
	}
	return ""
}

// regions finds what a representative name stands for: the wildcard
// patterns among pats that match it, found through an index, in the order
// the patterns were given.
type regions struct {
	ix    pattern.Index
	texts []string
}

func newRegions(pats []pattern.Pattern) *regions {
	r := &regions{}
	for _, p := range pats {
		if p.IsAll() || p.IsLiteral() {
			continue
		}
		if s := r.ix.Add(p); int(s) == len(r.texts) {
			r.texts = append(r.texts, p.String())
		}
	}
	r.ix.Freeze()
	return r
}

func (r *regions) of(name string) []string {
	slots := r.ix.Append(nil, name)
	slices.Sort(slots)
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = r.texts[s]
	}
	return out
}
