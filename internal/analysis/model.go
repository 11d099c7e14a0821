// Package analysis answers questions about a whole policy rather than one
// request: who may do something (Who), what one subject may do (Can), and
// what changes between two versions (Diff). Policy test files, which
// check single requests, are internal/testfile's.
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
	"fmt"
	"slices"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Model is a compiled policy with the indexes analysis needs: the rules'
// parsed patterns, indexed by subject. Memberships are the compiled
// policy's own graphs ([engine.Graph]), the ones decisions walk, so
// analysis and decisions cannot disagree about who is in which group.
//
// A Model is read-only once built and safe for concurrent use. Build one
// with NewModel; a zero Model, a nil one, or one built without a policy
// answers every question with an error wrapping engine.ErrNoPolicy.
type Model struct {
	Src *engine.Source
	P   *engine.Policy

	subjects, resources, actions *engine.Graph
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
	// when holds the condition of every conditional item (SPEC 12), and
	// assumed is the policy compiled with every condition taken to
	// hold, which questions are decided on; nil when no item has one.
	when    map[itemKey]string
	assumed *engine.Policy
}

// decide decides q as analysis sees it: every condition holding, and a
// conditional deciding item's reason saying so. Analysis answers for
// every request, and a condition depends on each request's context:
// taking conditions to hold shows everything a conditional item may
// allow or deny, and the answers name the condition (Grant.When,
// Permission.When), so a conditional answer is never mistaken for an
// unconditional one.
func (m *Model) decide(q *engine.Query) (Outcome, error) {
	if m.assumed == nil {
		return m.P.Decide(q)
	}
	o, err := m.assumed.Decide(q)
	if w := m.whenOf(o); w != "" {
		o.Reason += " when " + w
	}
	return o, err
}

// whenOf is the condition of the item that decided o, or "".
func (m *Model) whenOf(o Outcome) string {
	if m == nil || m.when == nil || o.Effect == engine.EffectNone {
		return ""
	}
	return m.when[itemKey{o.Rule, o.Effect, o.Item}]
}

// assume compiles src with every condition taken to hold.
func (m *Model) assume(src *engine.Source) {
	stripped := *src
	stripped.Rules = slices.Clone(src.Rules)
	stripped.Dynamic = slices.Clone(src.Dynamic)
	for i := range stripped.Rules {
		r := &stripped.Rules[i]
		if r.When != nil {
			if m.when == nil {
				m.when = map[itemKey]string{}
			}
			m.when[itemKey{r.ID, r.Effect, r.Item}] = r.When.Text
			r.When = nil
		}
	}
	for i := range stripped.Dynamic {
		if w := stripped.Dynamic[i].When; w != nil {
			if m.when == nil {
				m.when = map[itemKey]string{}
			}
			// A grant is item 0 of its block, either effect.
			m.when[itemKey{stripped.Dynamic[i].ID, engine.EffectAllow, 0}] = w.Text
			m.when[itemKey{stripped.Dynamic[i].ID, engine.EffectDeny, 0}] = w.Text
			stripped.Dynamic[i].When = nil
		}
	}
	if m.when == nil {
		return
	}
	p, errs := engine.Compile(&stripped)
	if len(errs) == 0 {
		m.assumed = p
	}
}

type rule struct {
	src                       engine.Rule
	subject, resource, action pattern.Pattern
}

// NewModel indexes a policy. src must be the source p was compiled from;
// without both, every question is an error wrapping engine.ErrNoPolicy.
func NewModel(src *engine.Source, p *engine.Policy) *Model {
	if src == nil || p == nil {
		// Without the source the policy came from, no rule can be
		// named: answer nothing rather than guess (ready says why).
		return &Model{Src: src, P: p}
	}
	m := &Model{
		Src:       src,
		P:         p,
		subjects:  p.Graph(engine.Subjects),
		resources: p.Graph(engine.Resources),
		actions:   p.Graph(engine.Actions),
		bySubject: map[string][]int32{},
		items:     make(map[itemKey]int32, len(src.Rules)),
		litRes:    map[string]bool{},
		litAct:    map[string]bool{},
	}
	m.assume(src)
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

// ready says why m cannot answer: it holds no policy.
func (m *Model) ready() error {
	if m == nil || m.P == nil || m.Src == nil {
		return fmt.Errorf("analysis: %w: build the model with NewModel from a compiled policy", engine.ErrNoPolicy)
	}
	return nil
}

// groupsOf returns the names of every group name belongs to, as
// decisions see them (SPEC 3.1, 4.1), less name itself, in declaration
// order.
func groupsOf(g *engine.Graph, name string) []string {
	ids := g.Reach(name)
	self, isGroup := g.Group(name)
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !isGroup || id != self {
			out = append(out, g.Name(id))
		}
	}
	return out
}

// reach returns the names and pattern members that lead, by membership, to
// any of groups (the groups themselves included): every name that belongs
// to one of them is one of names, or matches one of pats, or both.
func reach(g *engine.Graph, groups []string) (names []string, pats []pattern.Pattern) {
	seen := make(map[string]bool, len(groups))
	var queue []int32
	add := func(name string) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		names = append(names, name)
		return true
	}
	for _, grp := range groups {
		if add(grp) {
			if id, ok := g.Group(grp); ok {
				queue = append(queue, id)
			}
		}
	}
	for i := 0; i < len(queue); i++ {
		sub, leaves, ps := g.Members(queue[i])
		pats = append(pats, ps...)
		for _, id := range sub {
			if add(g.Name(id)) {
				queue = append(queue, id)
			}
		}
		for _, n := range leaves {
			add(n)
		}
	}
	return names, pats
}

// relevant returns the groups whose names some pattern of pats matches:
// a rule naming them applies to their members.
func relevant(g *engine.Graph, pats []pattern.Pattern) []string {
	var out []string
	seen := map[string]bool{}
	var wild []pattern.Pattern
	for _, p := range pats {
		switch {
		case p.IsAll():
			// '*' matches every name directly; groups add nothing.
		case p.IsLiteral():
			if l := p.Literal(); !seen[l] {
				if _, ok := g.Group(l); ok {
					seen[l] = true
					out = append(out, l)
				}
			}
		default:
			wild = append(wild, p)
		}
	}
	if len(wild) > 0 {
		for _, grp := range g.Names() {
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

// nearest returns the first of principals (the subject, then its groups
// in declaration order) that match accepts; when several groups do, the
// one the shortest chain of membership reaches, ties to the group
// declared first. That is the chain an explanation shows for the same
// match (SPEC 5.4), so a "via" agrees with it.
func (m *Model) nearest(principals []string, match func(string) bool) (string, bool) {
	best, bestLen := -1, 0
	for j, p := range principals {
		if !match(p) {
			continue
		}
		switch {
		case j == 0:
			return p, true // the subject itself
		case best < 0:
			best = j
			continue
		case bestLen == 0:
			bestLen = m.chainLen(principals[0], principals[best])
		}
		if l := m.chainLen(principals[0], p); l < bestLen {
			best, bestLen = j, l
		}
	}
	if best < 0 {
		return "", false
	}
	return principals[best], true
}

func (m *Model) chainLen(subject, group string) int {
	id, _ := m.subjects.Group(group)
	return len(m.subjects.Chain(subject, id))
}

// principals returns the subject and every group and role it reaches.
func (m *Model) principals(subject string) []string {
	return append([]string{subject}, groupsOf(m.subjects, subject)...)
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
		if via, ok := m.nearest(principals, s.Match); ok {
			hits = append(hits, applied{rule: i, class: classPattern, via: via})
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
// actions) of the given rules under graphs gs: every name the rules tell
// apart, directly or through the groups they name.
func dimensionUniverse(gs []*engine.Graph, pats []pattern.Pattern, withEmpty bool) ([]string, error) {
	var lits []string
	all := slices.Clone(pats)
	for _, g := range gs {
		names, gp := reach(g, relevant(g, pats))
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
	out := make([]string, 0, m.subjects.Len()+len(m.bySubject))
	for n := range m.subjects.Declared() {
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
	// The source compiled, so group i of the graph is Src.Groups[i].
	if id, ok := m.subjects.Group(name); ok {
		if m.Src.Groups[id].Role {
			return "role"
		}
		return "group"
	}
	if m.subjects.Known(name) || m.bySubject[name] != nil {
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
