package analysis

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-authz/warden/internal/pattern"
)

// Change is one request whose decision differs between two policies.
type Change struct {
	Subject, Resource, Action string
	// SubjectStandsFor (and the others) describe what a representative
	// name stands for, such as "any other resource matching articles:*";
	// they are empty for declared names.
	SubjectStandsFor, ResourceStandsFor, ActionStandsFor string
	Old, New                                             Outcome
}

// Diff returns every request whose decision (allowed or not) differs
// between old and new, sorted by subject, resource and action.
//
// Subjects are grouped by the rules that apply to them in each version
// (their principals matched against every subject pattern): subjects with
// the same applicable rules, matched the same way, get the same decision
// for every resource and action, so one of them is decided for all. A
// group whose applicable rules are the same in both versions, under the
// same strategy, mismatch decision and resource and action groups, cannot
// change and is skipped without deciding anything. The rest are decided
// over representative resources and actions of their own rules only. So a
// one-rule change to a large policy decides only the requests of the
// subjects that rule reaches.
func Diff(old, new *Model) ([]Change, error) {
	if err := errors.Join(old.usable(), new.usable()); err != nil {
		return nil, err
	}
	same := old.Src.Strategy == new.Src.Strategy && old.allowDefault() == new.allowDefault() &&
		old.resources.equal(new.resources) && old.actions.equal(new.actions)

	declared := append(old.declaredSubjects(), new.declaredSubjects()...)
	wildS := append(old.wildSubjectPatterns(), new.wildSubjectPatterns()...)
	subjects, err := Representatives(wildS, declared)
	if err != nil {
		return nil, err
	}

	contents := map[string]int32{}
	oc, nc := old.contents(contents), new.contents(contents)
	type class struct {
		members    []string
		aOld, aNew []applied
	}
	classes := map[string]*class{}
	var order []string
	for _, s := range subjects {
		aOld := old.applicable(old.principals(s))
		aNew := new.applicable(new.principals(s))
		if same && sameRules(aOld, aNew, oc, nc) {
			continue
		}
		k := signature(aOld) + "|" + signature(aNew)
		c, ok := classes[k]
		if !ok {
			c = &class{aOld: aOld, aNew: aNew}
			classes[k] = c
			order = append(order, k)
		}
		c.members = append(c.members, s)
	}

	resWild := append(old.wildPatterns(old.resources, func(r *rule) pattern.Pattern { return r.resource }),
		new.wildPatterns(new.resources, func(r *rule) pattern.Pattern { return r.resource })...)
	actWild := append(old.wildPatterns(old.actions, func(r *rule) pattern.Pattern { return r.action }),
		new.wildPatterns(new.actions, func(r *rule) pattern.Pattern { return r.action })...)

	subjRegions, resRegions, actRegions := newRegions(wildS), newRegions(resWild), newRegions(actWild)
	var out []Change
	var global *globalUniverse
	for _, k := range order {
		c := classes[k]
		var pairs [][2]string
		if same {
			// With everything else equal, only requests that a changed
			// rule matches can change; the rest keep the same rules in
			// the same order.
			if changed, ok := changedRules(c.aOld, c.aNew, oc, nc, old, new); ok {
				if global == nil {
					if global, err = newGlobalUniverse(old, new); err != nil {
						return nil, err
					}
				}
				pairs = global.pairs(changed)
			}
		}
		if pairs == nil {
			if pairs, err = classPairs(c.aOld, c.aNew, old, new); err != nil {
				return nil, err
			}
		}
		s0 := c.members[0]
		for _, pr := range pairs {
			r, a := pr[0], pr[1]
			o, err := old.P.Find(s0, r, a)
			if err != nil {
				return nil, fmt.Errorf("analysis: old policy: %w", err)
			}
			n, err := new.P.Find(s0, r, a)
			if err != nil {
				return nil, fmt.Errorf("analysis: new policy: %w", err)
			}
			if o.Allowed == n.Allowed {
				continue
			}
			for _, s := range c.members {
				ch := Change{Subject: s, Resource: r, Action: a, Old: outcomeOf(o), New: outcomeOf(n)}
				if old.kind(s) == "" && new.kind(s) == "" {
					ch.SubjectStandsFor = standsFor("subject", subjRegions.of(s))
				}
				if r != "" && !old.declaredResource(r) && !new.declaredResource(r) {
					ch.ResourceStandsFor = standsFor("resource", resRegions.of(r))
				}
				if !old.declaredAction(a) && !new.declaredAction(a) {
					ch.ActionStandsFor = standsFor("action", actRegions.of(a))
				}
				out = append(out, ch)
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmpStrings([]string{a.Subject, a.Resource, a.Action}, []string{b.Subject, b.Resource, b.Action})
	})
	return out, nil
}

func cmpStrings(a, b []string) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// contents numbers each rule item by everything that affects what it
// decides and says (effect, patterns, id and item), shared across two
// policies through ids, so equal items in two versions get equal numbers.
func (m *Model) contents(ids map[string]int32) []int32 {
	out := make([]int32, len(m.rules))
	for i, r := range m.rules {
		k := strings.Join([]string{r.src.Effect.String(), r.src.Subject, r.src.Resource, r.src.Action, r.src.ID, strconv.Itoa(r.src.Item)}, "\x00")
		id, ok := ids[k]
		if !ok {
			id = int32(len(ids))
			ids[k] = id
		}
		out[i] = id
	}
	return out
}

// sameRules reports whether two lists of applicable rules are the same
// items, matched the same way, in the same order.
func sameRules(a, b []applied, ac, bc []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if ac[a[i].rule] != bc[b[i].rule] || a[i].class != b[i].class {
			return false
		}
	}
	return true
}

// signature names the rules that apply to a subject, and how. Rules for
// '*' apply to every subject alike and are left out: they cannot tell two
// subjects apart.
func signature(a []applied) string {
	var b strings.Builder
	for _, x := range a {
		if x.class == classAll {
			continue
		}
		b.WriteString(strconv.Itoa(int(x.rule)))
		b.WriteByte('/')
		b.WriteByte('0' + x.class)
		b.WriteByte(',')
	}
	return b.String()
}

// equal reports whether two graphs hold the same groups, roles and
// members. Member order does not affect membership.
func (g *graph) equal(h *graph) bool {
	if len(g.members) != len(h.members) || len(g.byPat) != len(h.byPat) {
		return false
	}
	for name, ms := range g.members {
		hs, ok := h.members[name]
		if !ok || g.role[name] != h.role[name] || !sameSet(ms, hs) {
			return false
		}
		if !sameSet(patStrings(g.pats[name]), patStrings(h.pats[name])) {
			return false
		}
	}
	return true
}

func patStrings(ps []pattern.Pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// wildPatterns lists one dimension's wildcard patterns: the rules' and the
// groups' pattern members.
func (m *Model) wildPatterns(g *graph, get func(*rule) pattern.Pattern) []pattern.Pattern {
	var out []pattern.Pattern
	for i := range m.rules {
		if p := get(&m.rules[i]); !p.IsAll() && !p.IsLiteral() {
			out = append(out, p)
		}
	}
	for _, pm := range g.byPat {
		out = append(out, pm.p)
	}
	return out
}

func (m *Model) declaredResource(name string) bool {
	return m.resources.names[name] || m.litRes[name]
}

func (m *Model) declaredAction(name string) bool {
	return m.actions.names[name] || m.litAct[name]
}

// classPairs is every (resource, action) pair of representatives for the
// rules that apply to a class of subjects in either version.
func classPairs(aOld, aNew []applied, old, new *Model) ([][2]string, error) {
	var rp, ap []pattern.Pattern
	for _, x := range aOld {
		rp = append(rp, old.rules[x.rule].resource)
		ap = append(ap, old.rules[x.rule].action)
	}
	for _, x := range aNew {
		rp = append(rp, new.rules[x.rule].resource)
		ap = append(ap, new.rules[x.rule].action)
	}
	res, err := dimensionUniverse([]*graph{old.resources, new.resources}, rp, true)
	if err != nil {
		return nil, err
	}
	acts, err := dimensionUniverse([]*graph{old.actions, new.actions}, ap, false)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(res)*len(acts))
	for _, r := range res {
		for _, a := range acts {
			out = append(out, [2]string{r, a})
		}
	}
	return out, nil
}

// changedRules returns the rules that apply to a class in one version and
// not, or not the same way, in the other. ok is false when the rules both
// versions share are not in the same relative order: then any request
// they match may change, not only those of the changed rules.
func changedRules(aOld, aNew []applied, oc, nc []int32, old, new *Model) (changed []*rule, ok bool) {
	key := func(content int32, class uint8) int64 { return int64(content)<<3 | int64(class) }
	inOld := make(map[int64]bool, len(aOld))
	inNew := make(map[int64]bool, len(aNew))
	for _, x := range aOld {
		inOld[key(oc[x.rule], x.class)] = true
	}
	for _, x := range aNew {
		inNew[key(nc[x.rule], x.class)] = true
	}
	var commonOld, commonNew []int64
	for _, x := range aOld {
		if k := key(oc[x.rule], x.class); inNew[k] {
			commonOld = append(commonOld, k)
		} else {
			changed = append(changed, &old.rules[x.rule])
		}
	}
	for _, x := range aNew {
		if k := key(nc[x.rule], x.class); inOld[k] {
			commonNew = append(commonNew, k)
		} else {
			changed = append(changed, &new.rules[x.rule])
		}
	}
	return changed, slices.Equal(commonOld, commonNew)
}

// globalUniverse is representatives of every resource and action of both
// versions, for when the groups are the same in both: the requests a
// changed rule matches are found among them by matching its patterns.
type globalUniverse struct {
	res, acts        []string
	rkeys, akeys     [][]string
	resMemo, actMemo map[string][]int32
}

func newGlobalUniverse(old, new *Model) (*globalUniverse, error) {
	g := &globalUniverse{resMemo: map[string][]int32{}, actMemo: map[string][]int32{}}
	var err error
	names := func(gr *graph, lits map[string]bool) []string {
		out := make([]string, 0, len(gr.names)+len(lits))
		for n := range gr.names {
			out = append(out, n)
		}
		for n := range lits {
			out = append(out, n)
		}
		return out
	}
	resPats := append(old.wildPatterns(old.resources, func(r *rule) pattern.Pattern { return r.resource }),
		new.wildPatterns(new.resources, func(r *rule) pattern.Pattern { return r.resource })...)
	actPats := append(old.wildPatterns(old.actions, func(r *rule) pattern.Pattern { return r.action }),
		new.wildPatterns(new.actions, func(r *rule) pattern.Pattern { return r.action })...)
	if g.res, err = Representatives(resPats, append(names(old.resources, old.litRes), names(new.resources, new.litRes)...)); err != nil {
		return nil, err
	}
	g.res = append(g.res, "")
	if g.acts, err = Representatives(actPats, append(names(old.actions, old.litAct), names(new.actions, new.litAct)...)); err != nil {
		return nil, err
	}
	// The groups are the same in both versions, so either gives the keys.
	g.rkeys = make([][]string, len(g.res))
	for i, r := range g.res {
		if r == "" {
			g.rkeys[i] = []string{""}
		} else {
			g.rkeys[i] = keys(old.resources, r)
		}
	}
	g.akeys = make([][]string, len(g.acts))
	for i, a := range g.acts {
		g.akeys[i] = keys(old.actions, a)
	}
	return g, nil
}

func matching(p pattern.Pattern, ks [][]string, memo map[string][]int32) []int32 {
	if hit, ok := memo[p.String()]; ok {
		return hit
	}
	var out []int32
	for i, k := range ks {
		if anyMatch(p, k) {
			out = append(out, int32(i))
		}
	}
	memo[p.String()] = out
	return out
}

// pairs returns the (resource, action) representatives that some changed
// rule matches, each once, in a stable order.
func (g *globalUniverse) pairs(changed []*rule) [][2]string {
	seen := map[[2]int32]bool{}
	var idx [][2]int32
	for _, r := range changed {
		for _, ri := range matching(r.resource, g.rkeys, g.resMemo) {
			for _, ai := range matching(r.action, g.akeys, g.actMemo) {
				k := [2]int32{ri, ai}
				if !seen[k] {
					seen[k] = true
					idx = append(idx, k)
				}
			}
		}
	}
	slices.SortFunc(idx, func(a, b [2]int32) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	})
	out := make([][2]string, len(idx))
	for i, k := range idx {
		out[i] = [2]string{g.res[k[0]], g.acts[k[1]]}
	}
	return out
}
