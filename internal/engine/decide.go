package engine

import (
	"fmt"
	"slices"

	"github.com/warden-authz/warden/internal/pattern"
)

// Decision is the outcome of one request (SPEC 5.4). Its zero value denies.
type Decision struct {
	Allowed bool
	// Effect is the deciding rule's effect, or EffectNone when no rule
	// matched and the mismatch decision applied.
	Effect Effect
	// Rule and Item name the deciding rule item (rules.r1, 2); empty and 0
	// when no rule matched. Item counts within the rule's list of Effect.
	Rule   string
	Item   int
	Reason string
	// SubjectPath and ResourcePath are the membership chains that made the
	// deciding rule match: ["user1", "g1", "g4", "admin"]. Only Explain
	// fills them, because finding them costs allocations.
	SubjectPath   []string
	ResourcePath  []string
	PolicyVersion string
}

// Subject principal classes for most-specific (SPEC 5.2): the subject
// itself beats a group or role, which beats a pattern, which beats '*'.
const (
	classAll uint8 = iota
	classPattern
	classGroup
	classSelf
)

// candidate is a matching rule as the strategy sees it.
type candidate struct {
	rule  int32
	class uint8
}

// match is one way a rule matched: which subject, action and resource keys
// (0 is the request name, i > 0 the (i-1)th group) took part.
type match struct {
	rule          int32
	subj, act, rs int32
}

// keys are the names a request matches under in one dimension: the request
// name itself and the groups it belongs to.
type keys struct {
	name   string
	groups []int32
	m      *members
}

func (k *keys) len() int { return 1 + len(k.groups) }

func (k *keys) at(i int) string {
	if i == 0 {
		return k.name
	}
	return k.m.names[k.groups[i-1]]
}

// walker carries one decision's scratch space. It lives on the caller's
// stack; its arrays cover ordinary requests without touching the heap.
type walker struct {
	p       *Policy
	best    candidate
	found   bool
	collect bool
	matches []match

	subjectBuf, resourceBuf, actionBuf [16]int32
	slots                              [3][8]int32 // one per bucket depth
}

// Outcome is what a decision says, apart from its chains and the policy
// version. Outcomes are built when the policy is compiled, one per rule item
// and one for no match, so deciding only picks one: it formats nothing and
// copies nothing large.
type Outcome struct {
	Allowed bool
	Effect  Effect
	Rule    string
	Item    int
	Reason  string
}

// Outcomes for requests that are never decided.
var (
	noPolicyOutcome = &Outcome{Reason: "no policy loaded"}
	invalidOutcome  = &Outcome{Reason: "invalid request"}
)

// Find decides a request and returns its outcome. It checks the names
// (SPEC 1) and, when schemas are strict, the resource's shape, then walks
// the rule index; it does not allocate. On error the outcome denies.
// Callers must not modify the outcome.
func (p *Policy) Find(subject, resource, action string) (*Outcome, error) {
	if p == nil {
		return noPolicyOutcome, ErrNoPolicy
	}
	if err := checkRequest(subject, resource, action); err != nil {
		return invalidOutcome, err
	}
	if p.schemas != nil { // checked here so that a policy without schemas pays no call
		if err := p.checkSchema(resource); err != nil {
			return invalidOutcome, err
		}
	}
	w := walker{p: p}
	w.run(subject, resource, action)
	return p.outcome(&w), nil
}

// Decide is Find with the outcome as a Decision.
func (p *Policy) Decide(subject, resource, action string) (Decision, error) {
	o, err := p.Find(subject, resource, action)
	return p.decision(o), err
}

func (p *Policy) outcome(w *walker) *Outcome {
	if !w.found {
		return &p.noMatchOutcome
	}
	return &p.rules[w.best.rule].outcome
}

func (p *Policy) decision(o *Outcome) Decision {
	return Decision{
		Allowed:       o.Allowed,
		Effect:        o.Effect,
		Rule:          o.Rule,
		Item:          o.Item,
		Reason:        o.Reason,
		PolicyVersion: p.Version(),
	}
}

func checkRequest(subject, resource, action string) error {
	if err := pattern.CheckName(subject); err != nil {
		return fmt.Errorf("%w: subject: %w", ErrInvalidRequest, err)
	}
	if resource != "" {
		if err := pattern.CheckName(resource); err != nil {
			return fmt.Errorf("%w: resource: %w", ErrInvalidRequest, err)
		}
	}
	if err := pattern.CheckName(action); err != nil {
		return fmt.Errorf("%w: action: %w", ErrInvalidRequest, err)
	}
	return nil
}

// run finds every rule that matches and keeps the strategy's choice. It
// walks the bucket tree with the request's keys (each name and the groups
// it belongs to), following only the patterns that match. When the root
// splits by subject, the subject patterns every known name matches were
// found at compile time, so the first level costs no lookups.
func (w *walker) run(subject, resource, action string) {
	p := w.p
	var ks [3]keys
	ks[dimSubject] = keys{name: subject, m: p.subjects}
	ks[dimAction] = keys{name: action, m: p.actions}
	ks[dimResource] = keys{name: resource, m: p.resources}
	var subjectSlots []int32
	var known bool
	ks[dimSubject].groups, subjectSlots, known = p.subjects.groupsOf(w.subjectBuf[:0], subject)
	ks[dimAction].groups, _, _ = p.actions.groupsOf(w.actionBuf[:0], action)
	ks[dimResource].groups, _, _ = p.resources.groupsOf(w.resourceBuf[:0], resource)

	if !p.subjectRoot {
		w.walk(&p.root, &ks, [3]int32{-1, -1, -1}, 0)
		return
	}
	sk := &ks[dimSubject]
	for si := range sk.len() {
		var slots []int32
		switch {
		case si > 0:
			slots = p.subjects.groupSlots[sk.groups[si-1]]
		case known:
			slots = subjectSlots
		default:
			slots = p.root.ix.AppendInexact(w.slots[0][:0], subject)
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
				w.visit(match{rule: f.rule, subj: si, act: ai, rs: ri})
			}
		}
	}
}

func (w *walker) visit(m match) {
	r := &w.p.rules[m.rule]
	c := candidate{rule: m.rule, class: classAll}
	switch {
	case r.subjectAll:
	case !r.subjectLiteral:
		c.class = classPattern
	case m.subj == 0:
		c.class = classSelf
	default:
		c.class = classGroup
	}
	if w.collect {
		w.matches = append(w.matches, m)
	}
	if !w.found || w.p.better(c, w.best) {
		w.best, w.found = c, true
	}
}

// better reports whether candidate a beats b under the policy's strategy.
// Every strategy ends in document order, so the choice is total and the
// same on every run (SPEC 5.5).
func (p *Policy) better(a, b candidate) bool {
	if a.rule == b.rule {
		return a.class > b.class
	}
	ra, rb := &p.rules[a.rule], &p.rules[b.rule]
	denyA, denyB := ra.src.Effect == EffectDeny, rb.src.Effect == EffectDeny
	switch p.strategy {
	case AllowOverrides:
		if denyA != denyB {
			return denyB
		}
	case MostSpecific:
		if ra.actionRank != rb.actionRank {
			return ra.actionRank > rb.actionRank
		}
		if ra.resourceRank != rb.resourceRank {
			return ra.resourceRank > rb.resourceRank
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
	return a.rule < b.rule
}

// Version is the policy's content hash.
func (p *Policy) Version() string {
	if p == nil {
		return ""
	}
	return p.version
}

// MemberOf reports whether subject is the group or role named group, or
// belongs to it, directly or transitively.
func (p *Policy) MemberOf(subject, group string) bool {
	if p == nil {
		return false
	}
	g, ok := p.subjects.ids[group]
	if !ok {
		return false
	}
	if subject == group {
		return true
	}
	_, found := slices.BinarySearch(p.subjects.lookup[subject].closure, g)
	return found
}

// Strategy is the policy's rule strategy.
func (p *Policy) Strategy() Strategy { return p.strategy }

// Len returns the number of rule items.
func (p *Policy) Len() int { return len(p.rules) }
