package engine

import (
	"fmt"
	"slices"
)

// Explain decides q like Decide and also reports every matching rule item
// with its membership chains. It allocates; use Decide on hot paths.
func (p *Policy) Explain(q *Query) (Explanation, error) {
	if p == nil {
		return Explanation{Decision: noPolicyOutcome.decision("")}, ErrNoPolicy
	}
	if err := p.check(q); err != nil {
		return Explanation{Decision: invalidOutcome.decision(p.version), Strategy: p.strategy}, err
	}
	w := &walker{p: p, strategy: p.strategy, collect: true}
	w.in = condInput{q.Subject, q.Resource, q.Action, q.Context, q.Now}
	w.run(q)
	d := w.outcome(p).decision(p.version)
	if w.cs != nil {
		w.finishConditions(&d)
	}

	// The same keys, in the same order, as the walk used: match indexes
	// refer to them.
	ks, _, _ := p.fillKeys(q, buffers{})
	sk, ak, rk := &ks[dimSubject], &ks[dimAction], &ks[dimResource]
	sp := newChains(sk, q.Groups)
	ap := newChains(ak, nil)
	rp := newChains(rk, nil)

	// A rule can match through several keys (a pattern that matches the
	// subject and one of its groups); keep, per rule, the shortest chain in
	// each dimension.
	type hit struct {
		c             candidate
		subj, act, rs int32
	}
	// A conditioned item's condition ran once; whether it failed is the
	// same for every key it matched through.
	best := make(map[any]*hit)
	add := func(h hit) {
		var key any = h.c.r
		if h.c.g != nil {
			key = h.c.g
		}
		b, ok := best[key]
		if !ok {
			best[key] = &h
			return
		}
		if sp.shorter(h.subj, b.subj) {
			b.subj = h.subj
		}
		if ap.shorter(h.act, b.act) {
			b.act = h.act
		}
		if rp.shorter(h.rs, b.rs) {
			b.rs = h.rs
		}
	}
	for _, m := range w.matches {
		add(hit{candidate{r: &p.rules[m.rule], failed: m.failed}, m.subj, m.act, m.rs})
	}
	for _, g := range w.granted {
		add(hit{candidate{g: g.g, failed: g.failed}, g.subj, g.act, g.rs})
	}
	hits := make([]*hit, 0, len(best))
	for _, h := range best {
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b *hit) int {
		switch {
		case a.c.ord().before(b.c.ord()):
			return -1
		case b.c.ord().before(a.c.ord()):
			return 1
		}
		return 0
	})

	e := Explanation{Strategy: p.strategy, Matches: make([]Match, 0, len(hits))}
	for _, h := range hits {
		mt := p.matchOf(&h.c)
		mt.Decided = w.found && h.c.r == w.best.r && h.c.g == w.best.g
		mt.SubjectPath = sp.chain(h.subj)
		mt.ResourcePath = rp.chain(h.rs)
		mt.ActionPath = ap.chain(h.act)
		if mt.Decided {
			d.SubjectPath = mt.SubjectPath
			d.ResourcePath = mt.ResourcePath
		}
		e.Matches = append(e.Matches, mt)
	}
	d.Revision = p.Revision()
	e.Decision = d
	e.Why = p.why(w, len(hits))
	return e, nil
}

// matchOf describes a matching rule item or grant.
func (p *Policy) matchOf(c *candidate) Match {
	if g := c.g; g != nil {
		mt := Match{Rule: p.dynamic[g.block].ID, Effect: g.effect, Subject: g.subject, Resource: g.resource, Action: g.action, Reason: g.reason}
		if p.dynConds != nil && p.dynConds[g.block] != nil {
			rc := p.dynConds[g.block]
			mt.When, mt.ConditionFailed = rc.c.Text(), c.failed
			mt.Reason = heldReason(g.reason, rc.c)
			if c.failed {
				mt.Reason = failedReason(g.reason, rc.c)
			}
		}
		return mt
	}
	r := c.r
	mt := Match{
		Rule: r.src.ID, Item: r.src.Item, Effect: r.src.Effect,
		Subject: r.src.Subject, Resource: r.src.Resource, Action: r.src.Action,
		Reason: r.outcome.reason,
	}
	if r.src.Pos.Line > 0 {
		mt.Position = r.src.Pos.String()
	}
	if r.cond != nil {
		mt.When, mt.ConditionFailed = r.cond.c.Text(), c.failed
		mt.Reason = r.cond.held.reason
		if c.failed {
			mt.Reason = r.cond.failed.reason
		}
	}
	return mt
}

// chains renders membership chains for the keys of one dimension.
type chains struct {
	k     *keys
	steps map[int32]step
}

func newChains(k *keys, supplied []string) *chains {
	return &chains{k: k, steps: k.v.paths(k.name, supplied)}
}

// length is the number of membership steps from the request name to key i.
func (c *chains) length(i int32) int {
	if i == 0 {
		return 0
	}
	if int(i) > len(c.k.groups) {
		return 1 // a supplied name
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
	switch {
	case i == 0:
		if c.k.name == "" {
			return nil // no particular resource: nothing to chain
		}
		return []string{c.k.name}
	case int(i) > len(c.k.groups):
		return []string{c.k.name, c.k.at(int(i))}
	}
	return c.k.v.chain(c.k.name, c.k.groups[i-1], c.steps)
}

func (p *Policy) why(w *walker, matched int) string {
	if !w.found {
		return p.noMatchOutcome.reason
	}
	var item string
	var effect Effect
	if g := w.best.g; g != nil {
		item = fmt.Sprintf("%s %s grant [%q, %q, %q]", p.dynamic[g.block].ID, g.effect, g.subject, g.resource, g.action)
		effect = g.effect
	} else {
		item, effect = itemName(w.best.r.src), w.best.r.src.Effect
	}
	switch w.strategy {
	case DenyOverrides:
		if effect == EffectDeny {
			return fmt.Sprintf("deny-overrides: %s is the first matching deny in document order, and a deny overrides every allow", item)
		}
		return fmt.Sprintf("deny-overrides: no matching rule denies, and %s is the first matching allow in document order", item)
	case AllowOverrides:
		if effect == EffectAllow {
			return fmt.Sprintf("allow-overrides: %s is the first matching allow in document order, and an allow overrides every deny", item)
		}
		return fmt.Sprintf("allow-overrides: no matching rule allows, and %s is the first matching deny in document order", item)
	case FirstMatch:
		return fmt.Sprintf("first-match: %s is the first of %d matching rules in document order", item, matched)
	}
	return fmt.Sprintf("most-specific: %s has the most specific action, then resource, then subject of %d matching rules (ties: deny wins, then document order)", item, matched)
}
