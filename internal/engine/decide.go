package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/warden-authz/warden/internal/pattern"
)

// Query is one request to the engine: may Subject perform Action on
// Resource? Groups are caller-supplied memberships: groups and roles the
// subject belongs to for this query only, beside those the policy knows
// (SPEC 7.1). A supplied name the policy declares as a group brings its
// whole closure; any other name matches the rules that name it.
//
// Context holds the request's attributes, which conditions read (SPEC 12);
// Now is the time of the decision, which they read as now. The zero Now
// means the clock's time, read only if a condition reads now, so a
// decision that evaluates no condition pays nothing for it.
type Query struct {
	Subject, Resource, Action string
	Groups                    []string
	Context                   map[string]any
	Now                       time.Time
}

// Subject principal classes for most-specific (SPEC 5.2): the subject
// itself beats a group or role, which beats a pattern, which beats '*'.
const (
	classAll uint8 = iota
	classPattern
	classGroup
	classSelf
)

// candidate is a matching rule as the strategy sees it. layer is the
// position of the rule's policy among the policies decided together
// (FindLayers); rules of an earlier layer come first in document order.
type candidate struct {
	r     *rule  // a rule of the file (nil for a grant)
	g     *grant // a grant written at runtime (nil for a rule)
	rule  int32
	layer uint8
	class uint8
	// failed marks a deny item that matched because its condition could
	// not be evaluated (SPEC 12.5).
	failed bool
}

func (c *candidate) effect() Effect {
	if c.g != nil {
		return c.g.effect
	}
	return c.r.src.Effect
}

func (c *candidate) ord() order {
	if c.g != nil {
		return c.g.ord
	}
	return c.r.ord
}

// match is one way a rule matched: which subject, action and resource keys
// (0 is the request name, i > 0 the (i-1)th group) took part.
type match struct {
	rule          int32
	subj, act, rs int32
	failed        bool // see candidate.failed
}

// keys are the names a request matches under in one dimension: the request
// name itself, the groups it belongs to, and (for subjects) supplied names
// the policy does not declare as groups.
type keys struct {
	name   string
	groups []int32
	extra  []string
	v      kindView
}

func (k *keys) len() int { return 1 + len(k.groups) + len(k.extra) }

func (k *keys) at(i int) string {
	switch {
	case i == 0:
		return k.name
	case i <= len(k.groups):
		return k.v.name(k.groups[i-1])
	}
	return k.extra[i-1-len(k.groups)]
}

// walker carries one decision's scratch space. It lives on the caller's
// stack; its arrays cover ordinary requests without touching the heap.
type walker struct {
	p        *Policy
	layer    uint8
	strategy Strategy
	best     candidate
	found    bool
	collect  bool
	matches  []match
	granted  []grantMatch // grants that matched, when collecting

	grantOutcome outcome // the outcome of a deciding grant

	// in is what conditions read of the query, copied only for a policy
	// with conditions; cs is the state of the conditions evaluated: nil
	// until a matching item has a condition, so a decision that meets
	// none pays nothing for conditions.
	in condInput
	cs *condState

	subjectBuf, resourceBuf, actionBuf [16]int32
	extraBuf                           [4]string
	slots                              [3][8]int32 // one per bucket depth
}

// outcome is what deciding by one rule item says, apart from the chains
// and the policy version. Outcomes are built when the policy is compiled,
// one per rule item and one for no match, so deciding only picks one: it
// formats nothing.
type outcome struct {
	allowed bool
	effect  Effect
	rule    string
	item    int
	reason  string
}

// Outcomes for requests that are never decided.
var (
	noPolicyOutcome = &outcome{reason: "no policy loaded"}
	invalidOutcome  = &outcome{reason: "invalid request"}
	// noRulesOutcome decides for layers that hold no policy at all: the
	// mismatch default, which is deny (SPEC 5.3).
	noRulesOutcome = &outcome{reason: fmt.Sprintf("no rule matched; the default mismatch decision is %q", EffectDeny)}
)

// Decide answers q (SPEC 5). It checks the names (SPEC 1) and, when
// schemas are strict, the resource's shape, then walks the rule index. It
// does not allocate, unless the subject's groups, with those supplied, or
// a resource's or action's groups through pattern members, number more
// than 16; then it allocates scratch space for that request. On error the
// decision denies.
func (p *Policy) Decide(q *Query) (Decision, error) {
	if p == nil {
		return noPolicyOutcome.decision(""), ErrNoPolicy
	}
	if err := p.check(q); err != nil {
		return invalidOutcome.decision(p.version), err
	}
	w := walker{p: p, strategy: p.strategy}
	if p.cenv != nil {
		// Copied into the local walker, not stored through a pointer,
		// which would make every query escape to the heap.
		w.in = condInput{q.Subject, q.Resource, q.Action, q.Context, q.Now}
	}
	w.run(q)
	d := w.outcome(p).decision(p.version)
	if p.d != nil {
		d.Revision = p.d.rev
	}
	if w.cs != nil {
		w.finishConditions(&d)
	}
	return d, nil
}

// FindLayers decides q over several policies as if they were one whose
// rules are the layers' rules in order, combined by strategy s: an actor's
// own rules before the rules of the roles it holds. Nil layers are
// skipped. Each layer matches names through its own groups, so a role of
// one layer is unknown to another. The decision carries version. It is as
// free of allocations as Decide.
func FindLayers(s Strategy, version string, q *Query, layers ...*Policy) (Decision, error) {
	if err := checkQuery(q); err != nil {
		return invalidOutcome.decision(version), err
	}
	w := walker{strategy: s}
	for _, p := range layers {
		if p != nil && p.cenv != nil {
			w.in = condInput{q.Subject, q.Resource, q.Action, q.Context, q.Now}
			break
		}
	}
	var last *Policy
	for i, p := range layers {
		if p == nil {
			continue
		}
		if p.schemas != nil {
			if err := p.checkSchema(q.Resource); err != nil {
				return invalidOutcome.decision(version), err
			}
		}
		if p.ctxChecked {
			if err := p.checkContext(q); err != nil {
				return invalidOutcome.decision(version), err
			}
		}
		w.p, w.layer = p, uint8(i)
		w.run(q)
		last = p
	}
	if w.found {
		d := w.ruleOutcome().decision(version)
		if w.cs != nil {
			w.finishConditions(&d)
		}
		return d, nil
	}
	if w.cs != nil && last != nil {
		d := last.noMatchOutcome.decision(version)
		w.finishConditions(&d)
		return d, nil
	}
	if last == nil {
		return noRulesOutcome.decision(version), nil
	}
	return last.noMatchOutcome.decision(version), nil
}

func (o *outcome) decision(version string) Decision {
	return Decision{
		Allowed:       o.allowed,
		Effect:        o.effect,
		Rule:          o.rule,
		Item:          o.item,
		Reason:        o.reason,
		PolicyVersion: version,
	}
}

func (w *walker) outcome(p *Policy) *outcome {
	switch {
	case !w.found:
		return &p.noMatchOutcome
	case w.best.g != nil:
		// A grant decided: build its outcome from its parts, on the
		// stack; it formats nothing, unless its block has a condition.
		g := w.best.g
		w.grantOutcome = outcome{allowed: g.effect == EffectAllow, effect: g.effect, rule: p.dynamic[g.block].ID, reason: g.reason}
		if p.dynConds != nil {
			if rc := p.dynConds[g.block]; rc != nil {
				if w.best.failed {
					w.grantOutcome.reason = failedReason(g.reason, rc.c)
				} else {
					w.grantOutcome.reason = heldReason(g.reason, rc.c)
				}
			}
		}
		return &w.grantOutcome
	}
	return w.ruleOutcome()
}

// ruleOutcome is the outcome of the deciding rule item: for an item with
// a condition, the one that says how the condition decided.
func (w *walker) ruleOutcome() *outcome {
	r := w.best.r
	if r.cond == nil {
		return &r.outcome
	}
	if w.best.failed {
		return &r.cond.failed
	}
	return &r.cond.held
}

// check validates a query against the policy.
func (p *Policy) check(q *Query) error {
	if err := checkQuery(q); err != nil {
		return err
	}
	if p.schemas != nil { // checked here so that a policy without schemas pays no call
		if err := p.checkSchema(q.Resource); err != nil {
			return err
		}
	}
	if p.ctxChecked { // likewise for [context]
		return p.checkContext(q)
	}
	return nil
}

// MaxGroups bounds the groups one query may supply, so a hostile caller
// cannot make one decision walk without limit.
const MaxGroups = 256

func checkQuery(q *Query) error {
	if q == nil {
		return fmt.Errorf("%w: no query", ErrInvalidRequest)
	}
	if err := pattern.CheckName(q.Subject); err != nil {
		return fmt.Errorf("%w: subject: %w", ErrInvalidRequest, err)
	}
	if q.Resource != "" {
		if err := pattern.CheckName(q.Resource); err != nil {
			return fmt.Errorf("%w: resource: %w", ErrInvalidRequest, err)
		}
	}
	if err := pattern.CheckName(q.Action); err != nil {
		return fmt.Errorf("%w: action: %w", ErrInvalidRequest, err)
	}
	if len(q.Groups) > MaxGroups {
		return fmt.Errorf("%w: %d groups, over the limit of %d", ErrInvalidRequest, len(q.Groups), MaxGroups)
	}
	for i, g := range q.Groups {
		if err := pattern.CheckName(g); err != nil {
			return fmt.Errorf("%w: groups[%d]: %w", ErrInvalidRequest, i, err)
		}
	}
	return nil
}

// buffers are the scratch arrays keys are built in; nil buffers make
// them on the heap.
type buffers struct {
	subject, resource, action []int32
	extra                     []string
}

// fillKeys computes a query's keys in every dimension: each name, the
// groups it belongs to, and for the subject the supplied groups merged in
// (SPEC 3.1, 4.1, 7.1). It returns the subject-index slots precomputed for
// the subject, and whether the policy knows the subject at all.
func (p *Policy) fillKeys(q *Query, b buffers) (ks [3]keys, slots []int32, known bool) {
	var sg, ag, rg []int32
	var extra []string
	sv, rv, av := p.views()
	sg, slots, known = sv.groupsOf(b.subject, q.Subject)
	if len(q.Groups) > 0 {
		sg, extra = sv.withSupplied(b.subject, sg, q.Groups, b.extra)
	}
	ag, _, _ = av.groupsOf(b.action, q.Action)
	rg, _, _ = rv.groupsOf(b.resource, q.Resource)
	ks[dimSubject] = keys{name: q.Subject, groups: sg, extra: extra, v: sv}
	ks[dimAction] = keys{name: q.Action, groups: ag, v: av}
	ks[dimResource] = keys{name: q.Resource, groups: rg, v: rv}
	return ks, slots, known
}

// views are the policy's three membership graphs, with its data.
func (p *Policy) views() (subjects, resources, actions kindView) {
	subjects, resources, actions = kindView{m: p.subjects}, kindView{m: p.resources}, kindView{m: p.actions}
	if p.d != nil {
		subjects.d, resources.d = &p.d.subjects, &p.d.resources
	}
	return subjects, resources, actions
}

// run finds every rule that matches and keeps the strategy's choice. It
// walks the bucket tree with the request's keys (each name and the groups
// it belongs to), following only the patterns that match. When the root
// splits by subject, the subject patterns every known name matches were
// found at compile time, so the first level costs no lookups.
func (w *walker) run(q *Query) {
	p := w.p
	ks, subjectSlots, known := p.fillKeys(q, buffers{
		subject: w.subjectBuf[:0], resource: w.resourceBuf[:0], action: w.actionBuf[:0], extra: w.extraBuf[:0]})
	if p.d != nil && p.d.grants.n > 0 {
		w.walkGrants(&ks)
	}
	if !p.subjectRoot {
		w.walk(&p.root, &ks, [3]int32{-1, -1, -1}, 0)
		return
	}
	sk := &ks[dimSubject]
	ng := len(sk.groups)
	for si := range sk.len() {
		var slots []int32
		switch {
		case si > ng:
			slots = p.subjects.nameSlots(w.slots[0][:0], &p.root.ix, sk.extra[si-1-ng])
		case si > 0:
			slots = sk.v.groupSlots(sk.groups[si-1])
		case known:
			slots = subjectSlots
		default:
			slots = p.root.ix.AppendInexact(w.slots[0][:0], q.Subject)
		}
		for _, s := range slots {
			w.walk(&p.root.next[s], &ks, [3]int32{int32(si), -1, -1}, 1)
		}
	}
}

// walk visits the rules under bucket b that match the keys. fixed holds,
// per dimension, the key through which an index above already matched it,
// or -1; those dimensions are not checked again.
func (w *walker) walk(b *bucket, ks *[3]keys, fixed [3]int32, depth int) {
	for i := range b.flat {
		w.matchFlat(&b.flat[i], ks, fixed)
	}
	if len(b.next) == 0 {
		return
	}
	d := b.dim
	k := &ks[d]
	all := b.ix.AllSlot()
	for ki := range k.len() {
		f := fixed
		f[d] = int32(ki)
		for _, s := range b.ix.Append(w.slots[depth][:0], k.at(ki)) {
			if ki > 0 && s == all {
				continue // the name itself (key 0) already matched it
			}
			w.walk(&b.next[s], ks, f, depth+1)
		}
	}
}

// matchFlat checks one rule of a flat list against every combination of
// keys in the dimensions not yet fixed.
func (w *walker) matchFlat(f *flatRule, ks *[3]keys, fixed [3]int32) {
	var lo, hi [3]int32
	for d := range lo {
		if fixed[d] >= 0 {
			lo[d], hi[d] = fixed[d], fixed[d]+1
		} else {
			hi[d] = int32(ks[d].len())
		}
	}
	// A match-all matches the name itself (key 0) with the same rank and
	// a shorter chain than any group, so it is tried with key 0 alone.
	for d := range hi {
		if fixed[d] < 0 && f.pats[d].IsAll() {
			hi[d] = 1
		}
	}
	for si := lo[dimSubject]; si < hi[dimSubject]; si++ {
		if fixed[dimSubject] < 0 && !f.pats[dimSubject].Match(ks[dimSubject].at(int(si))) {
			continue
		}
		for ai := lo[dimAction]; ai < hi[dimAction]; ai++ {
			if fixed[dimAction] < 0 && !f.pats[dimAction].Match(ks[dimAction].at(int(ai))) {
				continue
			}
			for ri := lo[dimResource]; ri < hi[dimResource]; ri++ {
				if fixed[dimResource] < 0 && !f.pats[dimResource].Match(ks[dimResource].at(int(ri))) {
					continue
				}
				w.visit(match{rule: f.rule, subj: si, act: ai, rs: ri}, ks)
			}
		}
	}
}

func (w *walker) visit(m match, ks *[3]keys) {
	r := &w.p.rules[m.rule]
	c := candidate{r: r, rule: m.rule, layer: w.layer, class: classAll}
	switch {
	case r.subjectAll:
	case !r.subjectLiteral:
		c.class = classPattern
	case m.subj == 0:
		c.class = classSelf
	default:
		c.class = classGroup
	}
	if r.cond != nil {
		// An item that cannot beat the best so far cannot decide,
		// whatever its condition says: it is not evaluated (unless
		// every match is wanted).
		if !w.collect && w.found && !w.better(c, w.best) {
			return
		}
		if !w.holds(r.cond, r.src.Effect, r.src.ID, ks, &c) {
			return
		}
		m.failed = c.failed
	}
	if w.collect {
		w.matches = append(w.matches, m)
	}
	if !w.found || w.better(c, w.best) {
		w.best, w.found = c, true
	}
}

// walkGrants visits the grants that match: those on the resource or a
// group it belongs to, to the subject or one of its principals, for the
// action or a group of it (SPEC 10.2). Grants name literals, so matching
// is comparing names.
func (w *walker) walkGrants(ks *[3]keys) {
	rk := &ks[dimResource]
	if rk.name == "" {
		return // a grant names a resource; no particular resource has none
	}
	for ri := range rk.len() {
		l, ok := w.p.d.grants.byResource.get(rk.at(ri))
		if !ok {
			continue
		}
		w.matchGrants(l, ks, int32(ri))
	}
}

func (w *walker) matchGrants(grants []*grant, ks *[3]keys, ri int32) {
	sk := &ks[dimSubject]
	if len(grants) <= scanMax {
		for _, g := range grants {
			for si := range sk.len() {
				if sk.at(si) == g.subject {
					// The lowest key is the best class: the subject
					// itself, else a group.
					w.matchGrant(g, int32(si), ks, ri)
					break
				}
			}
		}
		return
	}
	for si := range sk.len() {
		s := sk.at(si)
		// The first grant to s; written out, since a comparison passed
		// as a func value would make the keys escape to the heap.
		i, j := 0, len(grants)
		for i < j {
			h := int(uint(i+j) >> 1)
			if grants[h].subject < s {
				i = h + 1
			} else {
				j = h
			}
		}
		for ; i < len(grants) && grants[i].subject == s; i++ {
			w.matchGrant(grants[i], int32(si), ks, ri)
		}
	}
}

func (w *walker) matchGrant(g *grant, si int32, ks *[3]keys, ri int32) {
	ak := &ks[dimAction]
	for ai := range ak.len() {
		if ak.at(ai) != g.action {
			continue
		}
		c := candidate{g: g, rule: -1, layer: w.layer, class: classGroup}
		if si == 0 {
			c.class = classSelf
		}
		if w.p.dynConds != nil {
			if rc := w.p.dynConds[g.block]; rc != nil {
				if !w.collect && w.found && !w.better(c, w.best) {
					return
				}
				if !w.holds(rc, g.effect, w.p.dynamic[g.block].ID, ks, &c) {
					return
				}
			}
		}
		if w.collect {
			w.granted = append(w.granted, grantMatch{g: g, subj: si, act: int32(ai), rs: ri, failed: c.failed})
		}
		if !w.found || w.better(c, w.best) {
			w.best, w.found = c, true
		}
		return
	}
}

// grantMatch is one way a grant matched, as match is for rules.
type grantMatch struct {
	g             *grant
	subj, act, rs int32
	failed        bool
}

// better reports whether candidate a beats b under the walker's strategy.
// Every strategy ends in document order, so the choice is total and the
// same on every run (SPEC 5.5). Rules of one policy compare by their
// precomputed specificity ranks; rules of different layers compare their
// patterns, which the ranks only cache.
func (w *walker) better(a, b candidate) bool {
	sameLayer := a.layer == b.layer
	if sameLayer && a.r == b.r && a.g == b.g {
		return a.class > b.class
	}
	denyA, denyB := a.effect() == EffectDeny, b.effect() == EffectDeny
	switch w.strategy {
	case AllowOverrides:
		if denyA != denyB {
			return denyB
		}
	case MostSpecific:
		if c := compareSpecificity(&a, &b, sameLayer); c != 0 {
			return c > 0
		}
		if a.class != b.class {
			return a.class > b.class
		}
		if denyA != denyB {
			return denyA
		}
	case FirstMatch:
	default: // deny-overrides, and anything unknown fails closed the same way
		if denyA != denyB {
			return denyA
		}
	}
	if !sameLayer {
		return a.layer < b.layer
	}
	return a.ord().before(b.ord())
}

// compareSpecificity compares two candidates' action, then resource
// patterns (SPEC 2.4): positive when a is more specific. The ranks of the
// rules of one compiled policy answer at once; otherwise the patterns
// themselves are compared, which the ranks only cache, and a grant's
// literal names are ranked without compiling them.
func compareSpecificity(a, b *candidate, sameLayer bool) int {
	if a.g == nil && b.g == nil {
		ra, rb := a.r, b.r
		if sameLayer {
			if ra.actionRank != rb.actionRank {
				return int(ra.actionRank) - int(rb.actionRank)
			}
			return int(ra.resourceRank) - int(rb.resourceRank)
		}
		if c := pattern.Compare(*ra.action, *rb.action); c != 0 {
			return c
		}
		return pattern.Compare(*ra.resource, *rb.resource)
	}
	if c := compareDim(a, b, func(g *grant) string { return g.action }, func(r *rule) *pattern.Pattern { return r.action }); c != 0 {
		return c
	}
	return compareDim(a, b, func(g *grant) string { return g.resource }, func(r *rule) *pattern.Pattern { return r.resource })
}

// compareDim compares one dimension of two candidates, one of them at
// least a grant.
func compareDim(a, b *candidate, name func(*grant) string, pat func(*rule) *pattern.Pattern) int {
	switch {
	case a.g != nil && b.g != nil:
		return pattern.CompareNames(name(a.g), name(b.g))
	case a.g != nil:
		return pattern.CompareName(name(a.g), *pat(b.r))
	}
	return -pattern.CompareName(name(b.g), *pat(a.r))
}

// Version is the policy's content hash.
func (p *Policy) Version() string {
	if p == nil {
		return ""
	}
	return p.version
}

// MemberOf reports whether subject, holding the supplied groups as well,
// belongs to the group or role named group, directly or transitively, or
// is it, in the file or the data. A supplied name counts even when the
// policy does not declare it; otherwise group must be a group or role the
// policy or its data declares. The empty name is no group.
func (p *Policy) MemberOf(subject, group string, supplied []string) bool {
	if group == "" {
		return false
	}
	if slices.Contains(supplied, group) {
		return true
	}
	if p == nil {
		return false
	}
	v, _, _ := p.views()
	g, ok := v.id(group)
	if !ok || !v.isGroup(g) {
		return false
	}
	if subject == group || v.memberOf(subject, g) {
		return true
	}
	for _, s := range supplied {
		if v.memberOf(s, g) {
			return true
		}
	}
	return false
}

// Strategy is the policy's rule strategy.
func (p *Policy) Strategy() Strategy { return p.strategy }

// Len returns the number of rule items.
func (p *Policy) Len() int { return len(p.rules) }
