package lint

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// names reports literal names in rules that are not declared: as a likely
// typo when a declared name of the same kind is one edit away, and, for
// subjects in a policy that declares groups or roles, as undeclared.
//
// Naming resources and actions directly, without declaring them, is how
// most policies are written (toffi's indexes and scopes), so only typos are
// reported for them. A subject is different: where groups and roles exist, a
// rule for a name that is in none of them is either a direct grant to a user
// or a misspelling, and the second silently grants nothing.
func (l *linter) names() {
	type key struct {
		kind engine.Kind
		name string
	}
	typo := make(map[key]string) // memo: the suggestion, "" for none
	for i := range l.rules {
		r := &l.rules[i]
		for d, kd := range dims {
			p := r.pats[d]
			if p == nil || !p.lit {
				continue
			}
			k := l.kinds[kd]
			name := p.name
			// Declared: written by name, or matched by a pattern member.
			if k.graph.Known(name) || len(k.graph.Reach(name)) > 0 {
				continue
			}
			s, ok := typo[key{kd, name}]
			if !ok {
				s = k.suggest(name)
				typo[key{kd, name}] = s
			}
			pos := r.pos(d)
			switch {
			case s != "":
				l.add(Warning, CodeTypo, pos, fmt.Sprintf("did you mean %q?", s),
					"%s %q in %s is not declared anywhere; %q, one letter away, is", kd, name, itemName(r.src), s)
			case kd == engine.Subjects && len(l.src.Groups) > 0:
				l.add(Info, CodeUndeclared, pos,
					fmt.Sprintf("if %q is a user, add it to a group or role; if runtime data makes it a group, lint with --store to see that; otherwise correct the name", name),
					"subject %q in %s is in no group or role, so this rule applies to that one name only", name, itemName(r.src))
			}
		}
	}
}

// typoIndex finds declared names one edit away from a name, without
// comparing it with every declared name: each name is filed under itself
// and under every string one byte shorter, and two names one edit apart
// (substitution, insertion, deletion or transposition of neighbours) always
// share one of those keys.
type typoIndex struct {
	keys map[string][]string
}

// maxTypoLen bounds the names worth suggesting for, and the index's size.
// Names shorter than four bytes are not judged: among them one edit turns
// most names into others (ops, opt, ox), so a suggestion would be chance.
const maxTypoLen = 64

func (k *kind) suggest(name string) string {
	if len(name) < 4 || len(name) > maxTypoLen {
		return ""
	}
	if k.typos == nil {
		k.typos = &typoIndex{keys: make(map[string][]string)}
		for d := range k.graph.Declared() {
			if len(d) >= 3 && len(d) <= maxTypoLen+1 {
				k.typos.add(d)
			}
		}
	}
	best := ""
	lower := strings.ToLower(name)
	for _, q := range deletions(lower) {
		for _, c := range k.typos.keys[q] {
			if c == name || osa(lower, strings.ToLower(c)) > 1 || digitsOnly(name, c) {
				continue
			}
			// Several candidates: the smallest, so the answer is stable.
			if best == "" || c < best {
				best = c
			}
		}
	}
	return best
}

func (t *typoIndex) add(name string) {
	for _, q := range deletions(strings.ToLower(name)) {
		list := t.keys[q]
		if len(list) == 0 || list[len(list)-1] != name {
			t.keys[q] = append(list, name)
		}
	}
}

// deletions returns s and every string made by deleting one byte of it.
func deletions(s string) []string {
	out := make([]string, 0, len(s)+1)
	out = append(out, s)
	for i := range len(s) {
		out = append(out, s[:i]+s[i+1:])
	}
	return out
}

// digitsOnly reports whether a and b differ only in their digits: user1
// and user2, data7 and data17 are numbered names, not misspellings.
func digitsOnly(a, b string) bool {
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, s)
	}
	return strip(a) == strip(b)
}

// osa is the optimal string alignment distance between a and b, in bytes:
// Levenshtein's edits plus the transposition of two neighbours, the most
// common slip of a typing hand (admni for admin).
func osa(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// dims maps a rule's three patterns, in lrule.pats order, to their kinds.
var dims = [3]engine.Kind{engine.Subjects, engine.Resources, engine.Actions}

func (r *lrule) pos(d int) diag.Pos {
	switch d {
	case 0:
		return r.src.SubjectPos
	case 1:
		return r.src.ResourcePos
	}
	return r.src.ActionPos
}
