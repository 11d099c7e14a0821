package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// items reports what can be seen in one rule item at a time, and allow/deny
// pairs on the same triple.
func (l *linter) items() {
	type firsts struct{ allow, deny int }
	seen := make(map[[3]string]*firsts)
	for i := range l.rules {
		r := &l.rules[i]
		src := r.src
		if src.Effect == engine.EffectAllow && r.pats[0].all && r.pats[2].all {
			l.add(Warning, CodeBroadGrant, src.Pos,
				"name the subjects, or the actions, this grant is for",
				"%s allows every subject every action on %q", itemName(src), src.Resource)
		}
		for d, text := range [3]string{src.Subject, src.Resource, src.Action} {
			l.span(text, r.pos(d))
		}

		key := [3]string{src.Subject, src.Resource, src.Action}
		f := seen[key]
		if f == nil {
			f = &firsts{-1, -1}
			seen[key] = f
		}
		mine, other := &f.allow, f.deny
		if src.Effect == engine.EffectDeny {
			mine, other = &f.deny, f.allow
		}
		if other >= 0 && sameCondition(l.rules[other].src, src) {
			// Opposite items under different conditions are how
			// conditions are used (allow, and deny unless MFA): only
			// those that always meet conflict.
			l.conflict(&l.rules[other], r)
		}
		if *mine < 0 {
			*mine = i
		}
	}
	for _, kd := range []engine.Kind{engine.Resources, engine.Actions} {
		for _, g := range l.kinds[kd].groups {
			for _, m := range g.Members {
				l.span(m.Name, m.Pos)
			}
		}
	}
}

// conflict reports later, which has the opposite effect of earlier on the
// same triple, saying which of the two decides under the strategy.
func (l *linter) conflict(earlier, later *lrule) {
	strategy := l.src.Strategy
	var winner *lrule
	switch strategy {
	case engine.FirstMatch:
		winner = earlier
	case engine.AllowOverrides:
		winner = earlier
		if later.src.Effect == engine.EffectAllow {
			winner = later
		}
	default: // deny-overrides, and most-specific, where deny wins ties
		winner = earlier
		if later.src.Effect == engine.EffectDeny {
			winner = later
		}
	}
	loser := earlier
	if winner == earlier {
		loser = later
	}
	l.add(Warning, CodeConflict, later.src.Pos,
		fmt.Sprintf("remove %s, or narrow one of the two", itemName(loser.src)),
		"%s and %s %s and deny the same %s; under %s %s always decides, so %s never does",
		itemName(earlier.src), itemName(later.src), "allow", triple(later.src), strategy, itemName(winner.src), itemName(loser.src))
}

// span warns about alternatives that look as if they held whole names:
// articles:read,articles:publish is the three segments articles,
// read,articles and publish, not a choice of two names. It fires when a
// piece after a comma holds a ':' and starts with the pattern's own first
// segment, which legitimate alternatives (users:a,b:c) do not.
func (l *linter) span(text string, pos diag.Pos) {
	if !strings.Contains(text, ",") {
		return
	}
	pieces := strings.Split(text, ",")
	first := strings.Split(pieces[0], ":")
	if len(first) < 2 {
		return
	}
	spans := false
	names := [][]string{first}
	for _, p := range pieces[1:] {
		if strings.Contains(p, ":") {
			segs := strings.Split(p, ":")
			spans = spans || segs[0] == first[0]
			names = append(names, segs)
			continue
		}
		// A piece without ':' is one more choice for the last segment of
		// the name before it.
		prev := slices.Clone(names[len(names)-1])
		prev[len(prev)-1] = p
		names = append(names, prev)
	}
	if !spans {
		return
	}
	l.add(Warning, CodeAlternativesSpan, pos, spanHint(names),
		"%q reads as %d segments (%s), with the alternatives inside one segment; it looks meant as a choice of whole names",
		text, strings.Count(text, ":")+1, quoteSegs(strings.Split(text, ":")))
}

// spanHint merges the names into one pattern when they differ in one
// segment only, and otherwise suggests one rule per name.
func spanHint(names [][]string) string {
	n := len(names[0])
	diff := -1
	merge := true
	for _, nm := range names[1:] {
		if len(nm) != n {
			merge = false
			break
		}
		for i := range n {
			if nm[i] != names[0][i] && i != diff {
				if diff >= 0 {
					merge = false
				}
				diff = i
			}
		}
	}
	if merge && diff >= 0 {
		var alts []string
		for _, nm := range names {
			if !slices.Contains(alts, nm[diff]) {
				alts = append(alts, nm[diff])
			}
		}
		out := slices.Clone(names[0])
		out[diff] = strings.Join(alts, ",")
		return fmt.Sprintf("write %q: alternatives sit inside one segment", strings.Join(out, ":"))
	}
	var whole []string
	for _, nm := range names {
		whole = append(whole, fmt.Sprintf("%q", strings.Join(nm, ":")))
	}
	return "write one rule item for each of " + strings.Join(whole, ", ")
}

func quoteSegs(segs []string) string {
	q := make([]string, len(segs))
	for i, s := range segs {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// coverage reports rules that can never decide a request (SPEC 5.2):
// under first-match, a rule covered by an earlier one; under the override
// strategies, a rule covered by one of the winning effect (unreachable) or
// by another of its own effect (redundant); under most-specific, where a
// covering rule is usually less specific and so loses, exact duplicates.
// Pairs with the same triple and opposite effects are left to conflict.
func (l *linter) coverage() {
	if len(l.rules) < 2 {
		return
	}
	if l.src.Strategy == engine.MostSpecific {
		l.duplicates()
		return
	}
	ix := l.buildCoverIndex()
	for i := range l.rules {
		a := &l.rules[i]
		switch l.src.Strategy {
		case engine.FirstMatch:
			b := l.coverer(ix, a, func(b *lrule) bool { return b.idx < a.idx && condCovers(b.src, a.src) })
			if b != nil && !opposite(a, b) {
				l.add(Warning, CodeShadowed, a.src.Pos,
					fmt.Sprintf("remove %s, or move it above %s", itemName(a.src), itemName(b.src)),
					"%s is shadowed: %s comes first and matches every request it matches, so under first-match it never decides",
					itemName(a.src), itemName(b.src))
			}
		default:
			win := engine.EffectDeny
			if l.src.Strategy == engine.AllowOverrides {
				win = engine.EffectAllow
			}
			if a.src.Effect != win {
				b := l.coverer(ix, a, func(b *lrule) bool { return b.src.Effect == win && condCovers(b.src, a.src) })
				if b != nil {
					if !opposite(a, b) {
						l.add(Warning, CodeUnreachable, a.src.Pos,
							fmt.Sprintf("remove %s, or narrow %s", itemName(a.src), itemName(b.src)),
							"%s is unreachable: %s matches every request it matches, and under %s %s wins",
							itemName(a.src), itemName(b.src), l.src.Strategy, win)
					}
					continue
				}
			}
			b := l.coverer(ix, a, func(b *lrule) bool {
				return b.idx != a.idx && b.src.Effect == a.src.Effect && condCovers(b.src, a.src) && !(b.idx > a.idx && l.ruleCovers(a, b) && condCovers(a.src, b.src))
			})
			if b != nil {
				l.redundant(a, b)
			}
		}
	}
}

// coverer returns the first rule in document order, among those ok
// accepts, that covers a; nil when there is none (or the budget ran out).
func (l *linter) coverer(ix coverIndex, a *lrule, ok func(*lrule) bool) *lrule {
	best := -1
	l.candidates(ix, a, func(b int) bool {
		rb := &l.rules[b]
		if (best < 0 || b < best) && ok(rb) && l.ruleCovers(rb, a) {
			best = b
		}
		return true
	})
	if best < 0 {
		return nil
	}
	return &l.rules[best]
}

func (l *linter) redundant(a, b *lrule) {
	l.add(Warning, CodeRedundant, a.src.Pos,
		fmt.Sprintf("remove %s", itemName(a.src)),
		"%s is redundant: %s %ss every request it matches, so removing it changes no decision",
		itemName(a.src), itemName(b.src), b.src.Effect)
}

// duplicates reports, under most-specific, a rule item that repeats an
// earlier one of the same effect exactly.
func (l *linter) duplicates() {
	first := make(map[[4]string]int)
	for i := range l.rules {
		r := l.rules[i].src
		key := [4]string{r.Effect.String(), r.Subject, r.Resource, r.Action + "\x00" + whenText(r)}
		if j, dup := first[key]; dup {
			l.redundant(&l.rules[i], &l.rules[j])
			continue
		}
		first[key] = i
	}
}

// opposite reports an allow/deny pair on the same triple, which conflict
// reports.
func opposite(a, b *lrule) bool {
	return a.src.Effect != b.src.Effect && a.src.Subject == b.src.Subject &&
		a.src.Resource == b.src.Resource && a.src.Action == b.src.Action
}
