package engine

import (
	"fmt"
	"slices"
)

// Match is one rule item that matched a request, with the chains that made
// it match.
type Match struct {
	Rule   Rule
	Reason string
	// Decided marks the item that decided the request.
	Decided                               bool
	SubjectPath, ResourcePath, ActionPath []string
}

// Explanation is a decision together with everything that matched and why
// the strategy chose what it chose.
type Explanation struct {
	Decision Decision
	Strategy Strategy
	// Matches lists every matching rule item once, in document order.
	Matches []Match
	// Why says in one sentence how the strategy picked the deciding rule,
	// or that the mismatch decision applied.
	Why string
}

// Explain decides a request like Decide and also reports every matching rule
// item with its membership chains. It allocates; use Decide on hot paths.
func (p *Policy) Explain(subject, resource, action string) (Explanation, error) {
	if p == nil {
		return Explanation{Decision: Decision{Reason: "no policy loaded"}}, ErrNoPolicy
	}
	err := checkRequest(subject, resource, action)
	if err == nil {
		err = p.checkSchema(resource)
	}
	if err != nil {
		return Explanation{Decision: Decision{Reason: "invalid request", PolicyVersion: p.version}, Strategy: p.strategy}, err
	}
	w := walker{p: p, collect: true}
	w.run(subject, resource, action)
	d := p.decision(p.outcome(&w))

	// The same keys, in the same order, as the walk used: match indexes
	// refer to them.
	sk := keys{name: subject, m: p.subjects}
	sk.groups, _, _ = p.subjects.groupsOf(nil, subject)
	ak := keys{name: action, m: p.actions}
	ak.groups, _, _ = p.actions.groupsOf(nil, action)
	rk := keys{name: resource, m: p.resources}
	rk.groups, _, _ = p.resources.groupsOf(nil, resource)
	sp := newChains(&sk)
	ap := newChains(&ak)
	rp := newChains(&rk)

	// A rule can match through several keys (a pattern that matches the
	// subject and one of its groups); keep, per rule, the shortest chain in
	// each dimension.
	best := make(map[int32]*match)
	for i := range w.matches {
		m := &w.matches[i]
		b, ok := best[m.rule]
		if !ok {
			best[m.rule] = m
			continue
		}
		merged := *b
		if sp.shorter(m.subj, b.subj) {
			merged.subj = m.subj
		}
		if ap.shorter(m.act, b.act) {
			merged.act = m.act
		}
		if rp.shorter(m.rs, b.rs) {
			merged.rs = m.rs
		}
		best[m.rule] = &merged
	}
	ids := make([]int32, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	e := Explanation{Strategy: p.strategy, Matches: make([]Match, 0, len(ids))}
	for _, id := range ids {
		m := best[id]
		r := &p.rules[id]
		mt := Match{
			Rule:         r.src,
			Reason:       r.outcome.Reason,
			Decided:      w.found && id == w.best.rule,
			SubjectPath:  sp.chain(m.subj),
			ResourcePath: rp.chain(m.rs),
			ActionPath:   ap.chain(m.act),
		}
		if mt.Decided {
			d.SubjectPath = mt.SubjectPath
			d.ResourcePath = mt.ResourcePath
		}
		e.Matches = append(e.Matches, mt)
	}
	e.Decision = d
	e.Why = p.why(&w, len(ids))
	return e, nil
}

// chains renders membership chains for the keys of one dimension.
type chains struct {
	k     *keys
	steps map[int32]step
}

func newChains(k *keys) *chains {
	return &chains{k: k, steps: k.m.paths(k.name)}
}

// length is the number of membership steps from the request name to key i.
func (c *chains) length(i int32) int {
	if i == 0 {
		return 0
	}
	if s, ok := c.steps[c.k.groups[i-1]]; ok {
		return int(s.depth)
	}
	return 1
}

func (c *chains) shorter(a, b int32) bool {
	la, lb := c.length(a), c.length(b)
	if la != lb {
		return la < lb
	}
	return a < b
}

func (c *chains) chain(i int32) []string {
	if i == 0 {
		if c.k.name == "" {
			return nil // no particular resource: nothing to chain
		}
		return []string{c.k.name}
	}
	return c.k.m.chain(c.k.name, c.k.groups[i-1], c.steps)
}

func (p *Policy) why(w *walker, matched int) string {
	if !w.found {
		return p.noMatchOutcome.Reason
	}
	r := &p.rules[w.best.rule]
	item := itemName(r.src)
	switch p.strategy {
	case DenyOverrides:
		if r.src.Effect == EffectDeny {
			return fmt.Sprintf("deny-overrides: %s is the first matching deny in document order, and a deny overrides every allow", item)
		}
		return fmt.Sprintf("deny-overrides: no matching rule denies, and %s is the first matching allow in document order", item)
	case AllowOverrides:
		if r.src.Effect == EffectAllow {
			return fmt.Sprintf("allow-overrides: %s is the first matching allow in document order, and an allow overrides every deny", item)
		}
		return fmt.Sprintf("allow-overrides: no matching rule allows, and %s is the first matching deny in document order", item)
	case FirstMatch:
		return fmt.Sprintf("first-match: %s is the first of %d matching rules in document order", item, matched)
	}
	return fmt.Sprintf("most-specific: %s has the most specific action, then resource, then subject of %d matching rules (ties: deny wins, then document order)", item, matched)
}
