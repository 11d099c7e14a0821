package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Change is one request whose decision differs between two policies. It
// is a plain value, safe to copy and to share between goroutines. The zero
// Change, a request decided alike by both, is never returned by Diff.
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
	if err := old.ready(); err != nil {
		return nil, err
	}
	if err := new.ready(); err != nil {
		return nil, err
	}
	same := old.Src.Strategy == new.Src.Strategy && old.allowDefault() == new.allowDefault() &&
		sameGroups(old.resources, new.resources) && sameGroups(old.actions, new.actions)

	wildS := append(old.wildSubjectPatterns(), new.wildSubjectPatterns()...)
	subjects, err := Representatives(wildS, append(old.declaredSubjects(), new.declaredSubjects()...))
	if err != nil {
		return nil, err
	}
	ids := map[string]int32{}
	oc, nc := old.contents(ids), new.contents(ids)
	classes := classify(old, new, oc, nc, subjects, same)
	names := newNamer(old, new, wildS)
	var out []Change
	var global *globalUniverse
	for _, c := range classes {
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
		if out, err = c.changes(out, old, new, pairs, names); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmpStrings([]string{a.Subject, a.Resource, a.Action}, []string{b.Subject, b.Resource, b.Action})
	})
	return out, nil
}

// subjectClass is subjects that the same rules apply to, matched the same
// way, in each version: one of them decides for all.
type subjectClass struct {
	members    []string
	aOld, aNew []applied
}

// classify groups subjects into classes, in order of first member. With
// same (strategy, mismatch decision and resource and action groups alike
// in both versions), a subject whose applicable rules did not change (by
// their contents oc and nc) is left out: nothing it can request changes.
func classify(old, new *Model, oc, nc []int32, subjects []string, same bool) []*subjectClass {
	byKey := map[string]*subjectClass{}
	var out []*subjectClass
	for _, s := range subjects {
		aOld := old.applicable(old.principals(s))
		aNew := new.applicable(new.principals(s))
		if same && sameRules(aOld, aNew, oc, nc) {
			continue
		}
		k := signature(aOld) + "|" + signature(aNew)
		c, ok := byKey[k]
		if !ok {
			c = &subjectClass{aOld: aOld, aNew: aNew}
			byKey[k] = c
			out = append(out, c)
		}
		c.members = append(c.members, s)
	}
	return out
}

// changes decides pairs for the class's first member in both versions and
// appends to out a change for every member, wherever the two disagree.
func (c *subjectClass) changes(out []Change, old, new *Model, pairs [][2]string, names *namer) ([]Change, error) {
	s0 := c.members[0]
	for _, pr := range pairs {
		r, a := pr[0], pr[1]
		o, err := old.decide(&engine.Query{Subject: s0, Resource: r, Action: a})
		if err != nil {
			return nil, fmt.Errorf("analysis: old policy: %w", err)
		}
		n, err := new.decide(&engine.Query{Subject: s0, Resource: r, Action: a})
		if err != nil {
			return nil, fmt.Errorf("analysis: new policy: %w", err)
		}
		// A decision that stays the same but under another condition
		// changes too: when it holds may differ.
		if o.Allowed == n.Allowed && old.whenOf(o) == new.whenOf(n) {
			continue
		}
		for _, s := range c.members {
			out = append(out, names.change(s, r, a, o, n))
		}
	}
	return out, nil
}

// namer says what the representatives among a change's names stand for,
// by the wildcard patterns of either version that match them.
type namer struct {
	old, new                  *Model
	subjects, resources, acts *regions
}

func newNamer(old, new *Model, wildSubjects []pattern.Pattern) *namer {
	resWild := append(old.wildPatterns(old.resources, func(r *rule) pattern.Pattern { return r.resource }),
		new.wildPatterns(new.resources, func(r *rule) pattern.Pattern { return r.resource })...)
	actWild := append(old.wildPatterns(old.actions, func(r *rule) pattern.Pattern { return r.action }),
		new.wildPatterns(new.actions, func(r *rule) pattern.Pattern { return r.action })...)
	return &namer{old: old, new: new, subjects: newRegions(wildSubjects), resources: newRegions(resWild), acts: newRegions(actWild)}
}

func (n *namer) change(s, r, a string, o, nw Outcome) Change {
	ch := Change{Subject: s, Resource: r, Action: a, Old: o, New: nw}
	if n.old.kind(s) == "" && n.new.kind(s) == "" {
		ch.SubjectStandsFor = standsFor("subject", n.subjects.of(s))
	}
	if r != "" && !n.old.declaredResource(r) && !n.new.declaredResource(r) {
		ch.ResourceStandsFor = standsFor("resource", n.resources.of(r))
	}
	if !n.old.declaredAction(a) && !n.new.declaredAction(a) {
		ch.ActionStandsFor = standsFor("action", n.acts.of(a))
	}
	return ch
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
		when := ""
		if r.src.When != nil {
			when = r.src.When.Text // a changed condition is a changed rule
		}
		k := strings.Join([]string{r.src.Effect.String(), r.src.Subject, r.src.Resource, r.src.Action, r.src.ID, strconv.Itoa(r.src.Item), when}, "\x00")
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

// sameGroups reports whether two versions declare the same groups of one
// kind with the same members. Member order does not affect membership.
func sameGroups(a, b *engine.Graph) bool {
	if a.Len() != b.Len() {
		return false
	}
	for id, name := range a.Names() {
		j, ok := b.Group(name)
		if !ok {
			return false
		}
		ag, an, ap := a.Members(int32(id))
		bg, bn, bp := b.Members(j)
		if !slices.Equal(an, bn) || !slices.Equal(groupNames(a, ag), groupNames(b, bg)) ||
			!slices.EqualFunc(ap, bp, func(x, y pattern.Pattern) bool { return x.String() == y.String() }) {
			return false
		}
	}
	return true
}

// groupNames returns the names of groups ids, sorted.
func groupNames(g *engine.Graph, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = g.Name(id)
	}
	slices.Sort(out)
	return out
}

// wildPatterns lists one dimension's wildcard patterns: the rules' and the
// groups' pattern members.
func (m *Model) wildPatterns(g *engine.Graph, get func(*rule) pattern.Pattern) []pattern.Pattern {
	var out []pattern.Pattern
	for i := range m.rules {
		if p := get(&m.rules[i]); !p.IsAll() && !p.IsLiteral() {
			out = append(out, p)
		}
	}
	for id := range g.Len() {
		_, _, ps := g.Members(int32(id))
		out = append(out, ps...)
	}
	return out
}

func (m *Model) declaredResource(name string) bool {
	return m.resources.Known(name) || m.litRes[name]
}

func (m *Model) declaredAction(name string) bool {
	return m.actions.Known(name) || m.litAct[name]
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
	res, err := dimensionUniverse([]*engine.Graph{old.resources, new.resources}, rp, true)
	if err != nil {
		return nil, err
	}
	acts, err := dimensionUniverse([]*engine.Graph{old.actions, new.actions}, ap, false)
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
	names := func(gr *engine.Graph, lits map[string]bool) []string {
		out := make([]string, 0, gr.Len()+len(lits))
		for n := range gr.Declared() {
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
