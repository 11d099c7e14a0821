package lint

import (
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// lpat is a pattern as coverage needs it: its segments, each with its
// alternatives, so that one pattern can be compared with another.
type lpat struct {
	p    pattern.Pattern
	all  bool
	lit  bool
	name string // the one name a literal matches
	segs []lseg
}

type segKind uint8

const (
	segRest    segKind = iota // '*' last: one or more segments
	segAny                    // '*' elsewhere: one segment
	segChoices                // literals and globs: one segment
)

type lseg struct {
	kind segKind
	alts []string // segChoices
	// one matches the segment alone, for testing a literal segment.
	one pattern.Pattern
}

// newPat reads a pattern that pattern.Parse accepts; nil otherwise.
func newPat(text string) *lpat {
	p, err := pattern.Parse(text)
	if err != nil {
		return nil
	}
	lp := &lpat{p: p, all: p.IsAll(), lit: p.IsLiteral(), name: p.Literal()}
	if lp.all {
		return lp
	}
	parts := strings.Split(text, ":")
	for i, s := range parts {
		switch {
		case s == "*" && i == len(parts)-1:
			lp.segs = append(lp.segs, lseg{kind: segRest})
		case s == "*":
			lp.segs = append(lp.segs, lseg{kind: segAny})
		default:
			// A valid pattern's segment is a valid one-segment pattern;
			// should one not be, the pattern is skipped, not guessed at.
			one, err := pattern.Parse(s)
			if err != nil {
				return nil
			}
			lp.segs = append(lp.segs, lseg{kind: segChoices, alts: strings.Split(s, ","), one: one})
		}
	}
	return lp
}

// covers reports whether b matches every name a matches, judged by their
// text alone. It may answer false for a pair it cannot prove (two globs of
// different shapes), never true for a pair that is not.
func covers(b, a *lpat) bool {
	switch {
	case b.all:
		return true
	case a.all:
		return false
	case a.lit:
		return b.p.Match(a.name)
	case b.lit:
		return false
	}
	m := len(b.segs)
	if b.segs[m-1].kind == segRest {
		if len(a.segs) < m {
			return false
		}
		for i := range m - 1 {
			if a.segs[i].kind == segRest || !segCovers(&b.segs[i], &a.segs[i]) {
				return false
			}
		}
		return true
	}
	if len(a.segs) != m || a.segs[m-1].kind == segRest {
		return false
	}
	for i := range m {
		if !segCovers(&b.segs[i], &a.segs[i]) {
			return false
		}
	}
	return true
}

// segCovers reports whether segment b matches every segment a does.
func segCovers(b, a *lseg) bool {
	if b.kind != segChoices {
		return true
	}
	if a.kind != segChoices {
		return false
	}
	for _, alt := range a.alts {
		if !strings.Contains(alt, "*") {
			if !b.one.Match(alt) {
				return false
			}
			continue
		}
		ok := false
		for _, balt := range b.alts {
			if globCovers(balt, alt) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// globCovers reports whether glob b matches everything glob a does, for the
// shapes it can prove: equal globs, and b of the form p*s (p or s may be
// empty) where a starts with p and ends with s outside its own stars.
func globCovers(b, a string) bool {
	if b == a {
		return true
	}
	star := strings.IndexByte(b, '*')
	if star < 0 || strings.Count(b, "*") != 1 {
		return false
	}
	p, s := b[:star], b[star+1:]
	first, last := strings.IndexByte(a, '*'), strings.LastIndexByte(a, '*')
	return strings.HasPrefix(a[:first], p) && strings.HasSuffix(a[last+1:], s)
}

// lrule is a rule item with its patterns read.
type lrule struct {
	src  *engine.Rule
	idx  int      // position in document order
	pats [3]*lpat // subject, resource, action
}

func (l *linter) compileRules() {
	cache := make(map[string]*lpat)
	get := func(text string) *lpat {
		if p, ok := cache[text]; ok {
			return p
		}
		p := newPat(text)
		cache[text] = p
		return p
	}
	for i := range l.src.Rules {
		r := &l.src.Rules[i]
		lr := lrule{src: r, idx: len(l.rules), pats: [3]*lpat{get(r.Subject), get(r.Resource), get(r.Action)}}
		if lr.pats[0] == nil || lr.pats[1] == nil || lr.pats[2] == nil ||
			r.Effect != engine.EffectAllow && r.Effect != engine.EffectDeny {
			continue
		}
		l.rules = append(l.rules, lr)
	}
}

// dimCovers reports whether b's pattern in one dimension matches every
// request a's does, counting membership: a literal x is covered by a
// pattern that matches x or any group x reaches, because every request x
// matches has x, and so all of x's groups, among its keys.
func (l *linter) dimCovers(d int, b, a *lpat) bool {
	if covers(b, a) {
		return true
	}
	if !a.lit || b.all {
		return false
	}
	k := l.kinds[dims[d]]
	for _, g := range k.closure(a.name) {
		if b.p.Match(k.graph.Name(g)) {
			return true
		}
	}
	return false
}

func (l *linter) ruleCovers(b, a *lrule) bool {
	for d := range 3 {
		if !l.dimCovers(d, b.pats[d], a.pats[d]) {
			return false
		}
	}
	return true
}

// wild starts the index key of a pattern that is not one literal name.
const wild = "\x00*"

// coverIndex files rules by a key for each dimension, subject, then
// resource, then action, so the rules that can cover a rule are found by
// looking up the names it can match, not by scanning. A literal is filed
// under its name; any other pattern under wild and its literal leading
// segments ("a:b:*" under wild+"a:b"), since a pattern can cover another only
// where the other has the same literal segments.
type coverIndex map[string]map[string]map[string][]int

func indexKey(p *lpat) string {
	if p.lit {
		return p.name
	}
	return wild + strings.Join(p.literalPrefix(), ":")
}

// literalPrefix returns the leading segments of p that are one literal each.
func (p *lpat) literalPrefix() []string {
	var out []string
	for _, s := range p.segs {
		if s.kind != segChoices || len(s.alts) != 1 || strings.Contains(s.alts[0], "*") {
			break
		}
		out = append(out, s.alts[0])
	}
	return out
}

func (l *linter) buildCoverIndex() coverIndex {
	ix := make(coverIndex)
	for i := range l.rules {
		r := &l.rules[i]
		s, rs, a := indexKey(r.pats[0]), indexKey(r.pats[1]), indexKey(r.pats[2])
		m1 := ix[s]
		if m1 == nil {
			m1 = make(map[string]map[string][]int)
			ix[s] = m1
		}
		m2 := m1[rs]
		if m2 == nil {
			m2 = make(map[string][]int)
			m1[rs] = m2
		}
		m2[a] = append(m2[a], i)
	}
	return ix
}

// keysOf are the index keys under which a rule that covers p in dimension
// d can be filed: for a literal, the name and every group it reaches, and
// wild with each run of their leading segments; for another pattern, wild
// with each run of its literal leading segments.
func (l *linter) keysOf(d int, p *lpat) []string {
	var keys []string
	add := func(k string) {
		// The lists are short: a name, its groups and their prefixes.
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	prefixes := func(segs []string) {
		for n := range len(segs) + 1 {
			add(wild + strings.Join(segs[:n], ":"))
		}
	}
	if !p.lit {
		prefixes(p.literalPrefix())
		return keys
	}
	k := l.kinds[dims[d]]
	names := []string{p.name}
	for _, g := range k.closure(p.name) {
		names = append(names, k.graph.Name(g))
	}
	for _, n := range names {
		add(n)
		segs := strings.Split(n, ":")
		prefixes(segs[:len(segs)-1])
	}
	return keys
}

// candidates calls visit with every rule that may cover r, within the
// budget, and stops early when visit returns false.
func (l *linter) candidates(ix coverIndex, r *lrule, visit func(b int) bool) {
	budget := l.budget
	ks := [3][]string{l.keysOf(0, r.pats[0]), l.keysOf(1, r.pats[1]), l.keysOf(2, r.pats[2])}
	for _, s := range ks[0] {
		m1 := ix[s]
		if m1 == nil {
			continue
		}
		for _, rs := range ks[1] {
			m2 := m1[rs]
			if m2 == nil {
				continue
			}
			for _, a := range ks[2] {
				for _, b := range m2[a] {
					if budget--; budget < 0 || !visit(b) {
						return
					}
				}
			}
		}
	}
}
