package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/types"
)

// Outcome is what one decision said: the rule item that decided, or none.
type Outcome = types.Decision

// Grant is one subject that Who found allowed; Permission is one region of
// (resource, action) that Can found decided by one rule item for a
// subject. Both are warden's vocabulary, returned to users unconverted.
type (
	Grant      = types.Grant
	Permission = types.Permission
)

func checkNames(what []string, names ...string) error {
	for i, n := range names {
		if n == "" && what[i] == "resource" {
			continue
		}
		if err := pattern.CheckName(n); err != nil {
			return fmt.Errorf("%w: %s: %w", engine.ErrInvalidRequest, what[i], err)
		}
	}
	return nil
}

// keys returns a name and every group it belongs to; the empty resource
// has no groups.
func keys(g *engine.Graph, name string) []string {
	return append([]string{name}, groupsOf(g, name)...)
}

func anyMatch(p pattern.Pattern, names []string) bool {
	for _, n := range names {
		if p.Match(n) {
			return true
		}
	}
	return false
}

func (m *Model) allowDefault() bool { return m.Src.NoMatch == engine.EffectAllow }

// Who returns every subject that may do action on resource: each declared
// user, group and role, decided one by one, so a member of an allowed group
// that a narrower rule denies is not listed; and one representative for
// each region of undeclared subjects that is allowed (SPEC 3.4: a '*' or
// pattern rule allows subjects no file names). Declared subjects come
// first, by name.
func (m *Model) Who(resource, action string) ([]Grant, error) {
	if err := m.ready(); err != nil {
		return nil, err
	}
	if err := checkNames([]string{"resource", "action"}, resource, action); err != nil {
		return nil, err
	}
	rk, ak := keys(m.resources, resource), keys(m.actions, action)
	if resource == "" {
		rk = []string{""}
	}
	var literal []string
	var wild []pattern.Pattern
	onlyLiteral := true
	for i := range m.rules {
		r := &m.rules[i]
		if !anyMatch(r.resource, rk) || !anyMatch(r.action, ak) {
			continue
		}
		if r.subject.IsLiteral() {
			literal = append(literal, r.subject.Literal())
		} else {
			onlyLiteral = false
			if !r.subject.IsAll() {
				wild = append(wild, r.subject)
			}
		}
	}
	var cands []string
	if onlyLiteral && !m.allowDefault() {
		// Only subjects that reach a named principal can match; every
		// other subject gets the mismatch decision, deny.
		cands, _ = reach(m.subjects, literal)
		slices.Sort(cands)
		cands = slices.Compact(cands)
	} else {
		var err error
		if cands, err = Representatives(wild, m.declaredSubjects()); err != nil {
			return nil, err
		}
	}
	allWild := newRegions(m.wildSubjectPatterns())
	var out, others []Grant
	for _, s := range cands {
		o, err := m.decide(&engine.Query{Subject: s, Resource: resource, Action: action})
		if err != nil {
			return nil, fmt.Errorf("analysis: deciding for %q: %w", s, err)
		}
		if !o.Allowed {
			continue
		}
		g := Grant{Subject: s, Kind: m.kind(s), Via: m.via(s, &o), Effect: o.Effect, Rule: o.Rule, Item: o.Item, Reason: o.Reason, When: m.whenOf(o)}
		if g.Kind == "" {
			g.Kind = "other"
			g.StandsFor = standsFor("subject", allWild.of(s))
			others = append(others, g)
			continue
		}
		out = append(out, g)
	}
	return append(out, others...), nil
}

// standsFor describes the subjects (resources, actions) a representative
// stands for.
func standsFor(what string, region []string) string {
	if len(region) == 0 {
		return "any other " + what
	}
	return "any other " + what + " matching " + strings.Join(region, " and ")
}

// via names the principal through which the deciding rule matched subject.
func (m *Model) via(subject string, o *Outcome) string {
	i, ok := m.ruleAt(o)
	if !ok {
		return ""
	}
	s := m.rules[i].subject
	switch {
	case s.IsAll():
		return ""
	case s.IsLiteral():
		if s.Literal() == subject {
			return ""
		}
		return s.Literal()
	}
	if p, ok := m.nearest(m.principals(subject), s.Match); ok && p != subject {
		return p
	}
	return ""
}

// ruleAt finds the rule item an outcome names.
func (m *Model) ruleAt(o *Outcome) (int32, bool) {
	if o.Rule == "" {
		return 0, false
	}
	i, ok := m.items[itemKey{o.Rule, o.Effect, o.Item}]
	return i, ok
}

type itemKey struct {
	id     string
	effect engine.Effect
	item   int
}

// Can returns what subject may and may not do: for every rule item that
// decides at least one request of the subject, the item's resource and
// action patterns and its outcome, in document order; then the mismatch
// decision, as "*" "*", when some requests match no rule. Rules that
// apply but are always overridden decide nothing and are not listed.
func (m *Model) Can(subject string) ([]Permission, error) {
	if err := m.ready(); err != nil {
		return nil, err
	}
	if err := checkNames([]string{"subject"}, subject); err != nil {
		return nil, err
	}
	ap := m.applicable(m.principals(subject))
	var rp, acp []pattern.Pattern
	for _, a := range ap {
		rp = append(rp, m.rules[a.rule].resource)
		acp = append(acp, m.rules[a.rule].action)
	}
	res, err := dimensionUniverse([]*engine.Graph{m.resources}, rp, true)
	if err != nil {
		return nil, err
	}
	acts, err := dimensionUniverse([]*engine.Graph{m.actions}, acp, false)
	if err != nil {
		return nil, err
	}
	// Which applicable rules match each representative, found through an
	// index of their patterns rather than by trying every rule on every
	// request: a subject may have thousands of rules.
	resMatch := matchers(ap, func(a applied) pattern.Pattern { return m.rules[a.rule].resource }, res, func(r string) []string {
		if r == "" {
			return []string{""}
		}
		return keys(m.resources, r)
	})
	actMatch := matchers(ap, func(a applied) pattern.Pattern { return m.rules[a.rule].action }, acts, func(a string) []string {
		return keys(m.actions, a)
	})
	actSet := make([]map[int32]bool, len(acts))
	for i, js := range actMatch {
		actSet[i] = make(map[int32]bool, len(js))
		for _, j := range js {
			actSet[i][j] = true
		}
	}
	matched := make([]int, len(ap))
	decided := map[int32]int{}
	outs := map[int32]Outcome{}
	var none *Outcome
	for ri, r := range res {
		for ai, a := range acts {
			o, err := m.decide(&engine.Query{Subject: subject, Resource: r, Action: a})
			if err != nil {
				return nil, fmt.Errorf("analysis: deciding %q on %q: %w", a, r, err)
			}
			if i, ok := m.ruleAt(&o); ok {
				if decided[i]++; decided[i] == 1 {
					outs[i] = o
				}
			} else if none == nil {
				none = &o
			}
			for _, j := range resMatch[ri] {
				if actSet[ai][j] {
					matched[j]++
				}
			}
		}
	}
	var out []Permission
	for j, a := range ap {
		n := decided[a.rule]
		if n == 0 {
			continue
		}
		rl := &m.rules[a.rule]
		via := a.via
		if a.class == classSelf || a.class == classAll || via == subject {
			via = ""
		}
		out = append(out, permission(rl.src.Resource, rl.src.Action, via, matched[j] > n, outs[a.rule], m.whenOf(outs[a.rule])))
	}
	if none != nil {
		out = append(out, permission("*", "*", "", len(out) > 0, *none, ""))
	}
	return out, nil
}

func permission(resource, action, via string, partial bool, o Outcome, when string) Permission {
	return Permission{Resource: resource, Action: action, Via: via, Partial: partial,
		Allowed: o.Allowed, Effect: o.Effect, Rule: o.Rule, Item: o.Item, Reason: o.Reason, When: when}
}

// matchers returns, for each name, the indexes into ap of the rules whose
// pattern (get) matches the name or one of its groups (keysOf).
func matchers(ap []applied, get func(applied) pattern.Pattern, names []string, keysOf func(string) []string) [][]int32 {
	var ix pattern.Index
	var bySlot [][]int32
	for j, a := range ap {
		s := ix.Add(get(a))
		for int(s) >= len(bySlot) {
			bySlot = append(bySlot, nil)
		}
		bySlot[s] = append(bySlot[s], int32(j))
	}
	ix.Freeze()
	out := make([][]int32, len(names))
	var slots []int32
	for i, n := range names {
		slots = slots[:0]
		for _, k := range keysOf(n) {
			slots = ix.Append(slots, k)
		}
		var js []int32
		for _, s := range slots {
			js = append(js, bySlot[s]...)
		}
		slices.Sort(js)
		out[i] = slices.Compact(js)
	}
	return out
}
