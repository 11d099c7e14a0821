package engine

import (
	"fmt"

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
	sSlots, aSlots, rSlots             [8]int32
}

// Decide decides a request. It checks the names (SPEC 1), then walks the
// rule index; it does not allocate. On error the decision denies.
func (p *Policy) Decide(subject, resource, action string) (Decision, error) {
	if p == nil {
		return Decision{Reason: "no policy loaded"}, ErrNoPolicy
	}
	if err := checkRequest(subject, resource, action); err != nil {
		return Decision{Reason: "invalid request", PolicyVersion: p.version}, err
	}
	w := walker{p: p}
	w.run(subject, resource, action)
	return p.decision(&w), nil
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

func (p *Policy) decision(w *walker) Decision {
	if !w.found {
		return Decision{
			Allowed:       p.noMatch == EffectAllow,
			Reason:        p.noMatchReason,
			PolicyVersion: p.version,
		}
	}
	r := &p.rules[w.best.rule]
	return Decision{
		Allowed:       r.src.Effect == EffectAllow,
		Effect:        r.src.Effect,
		Rule:          r.src.ID,
		Item:          r.src.Item,
		Reason:        r.reason,
		PolicyVersion: p.version,
	}
}

// run finds every rule that matches and keeps the strategy's choice. For
// each subject key (the subject and its groups) it takes the subject
// patterns that match, precomputed for every name the policy knows; under
// each, it checks the few rules of a flat bucket directly, or looks up the
// matching action patterns for each action key and, under those, the
// matching resource patterns for each resource key. Only patterns that
// match are ever visited.
func (w *walker) run(subject, resource, action string) {
	p := w.p
	sk := keys{name: subject, m: p.subjects}
	ak := keys{name: action, m: p.actions}
	rk := keys{name: resource, m: p.resources}
	var subjectSlots []int32
	var known bool
	sk.groups, subjectSlots, known = p.subjects.groupsOf(w.subjectBuf[:0], subject)
	ak.groups, _, _ = p.actions.groupsOf(w.actionBuf[:0], action)
	rk.groups, _, _ = p.resources.groupsOf(w.resourceBuf[:0], resource)

	for si := range sk.len() {
		var sSlots []int32
		switch {
		case si > 0:
			sSlots = p.subjects.groupSlots[sk.groups[si-1]]
		case known:
			sSlots = subjectSlots
		default:
			sSlots = p.subjectIx.AppendInexact(w.sSlots[:0], subject)
		}
		for _, s := range sSlots {
			al := &p.byAction[s]
			for i := range al.flat {
				f := &al.flat[i]
				for ai := range ak.len() {
					if !f.action.Match(ak.at(ai)) {
						continue
					}
					for ri := range rk.len() {
						if f.resource.Match(rk.at(ri)) {
							w.visit(match{rule: f.rule, subj: int32(si), act: int32(ai), rs: int32(ri)})
						}
					}
				}
			}
			if len(al.byResource) == 0 {
				continue
			}
			for ai := range ak.len() {
				aSlots := al.ix.Append(w.aSlots[:0], ak.at(ai))
				for _, a := range aSlots {
					rl := &al.byResource[a]
					for ri := range rk.len() {
						rSlots := rl.ix.Append(w.rSlots[:0], rk.at(ri))
						for _, x := range rSlots {
							for _, r := range rl.rules[x] {
								w.visit(match{rule: r, subj: int32(si), act: int32(ai), rs: int32(ri)})
							}
						}
					}
				}
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
	case DenyOverrides:
		if denyA != denyB {
			return denyA
		}
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

// Strategy is the policy's rule strategy.
func (p *Policy) Strategy() Strategy { return p.strategy }

// Len returns the number of rule items.
func (p *Policy) Len() int { return len(p.rules) }
