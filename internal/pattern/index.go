package pattern

import (
	"iter"
	"maps"
	"strings"
)

// Index finds, for a name, every pattern of a set that matches it. The
// engine keeps one per rule dimension, so the cost of a decision follows
// the patterns that can match, not the number of rules.
//
// Each distinct pattern (by source text) gets a slot number when it is
// added; Append reports the slots of the matching patterns. Literal patterns
// sit in a map, the match-all in a list, and the rest in a trie of segments
// whose literal edges are map lookups, so a lookup costs a walk down the
// trie plus one check per glob edge on the way.
//
// An Index is built with Add and is read-only afterwards: concurrent
// Appends are safe once building is over. The zero Index is empty and
// ready for Add. A nil *Index is not an empty one: the engine never has
// one, and answering "no pattern matches" from it would silently drop the
// rules it should have held, so its methods are not made nil-safe.
type Index struct {
	slots map[string]int32   // pattern text to slot
	all   []int32            // the match-all, at most one slot
	exact map[string][]int32 // literal patterns, and fully expanded alternatives
	root  *node
	n     int32
}

type node struct {
	// Literal edges: a short list scanned in order while there are few,
	// a map once there are many. Most trie nodes have one or two children,
	// and a map for each would cost memory and a hash per step.
	small []litEdge
	lit   map[string]*node
	globs []globEdge
	any   *node   // '*' in the middle
	rest  []int32 // patterns whose last segment '*' starts here
	end   []int32 // patterns that end here
}

type litEdge struct {
	seg  string
	next *node
}

// smallMax is the most literal edges a node keeps in its list.
const smallMax = 8

type globEdge struct {
	seg  segment
	next *node
}

// maxExpansion bounds how many literal paths one pattern with alternatives
// expands into; past it, alternatives become glob-like edges that are
// checked by scanning. It keeps `a,b,c:d,e,f:...` from growing the index
// exponentially while keeping the common `read,write` a map lookup.
const maxExpansion = 16

// Len returns the number of distinct patterns in the index.
func (ix *Index) Len() int { return int(ix.n) }

// Add puts p in the index, if it is not there yet, and returns its slot.
// Slots are numbered 0, 1, 2, … in the order patterns were first added.
func (ix *Index) Add(p Pattern) int32 {
	if s, ok := ix.slots[p.src]; ok {
		return s
	}
	if ix.exact == nil {
		ix.slots = make(map[string]int32)
		ix.exact = make(map[string][]int32)
	}
	slot := ix.n
	ix.n++
	ix.slots[p.src] = slot
	switch {
	case p.all:
		ix.all = append(ix.all, slot)
	case p.lit:
		ix.exact[p.name] = append(ix.exact[p.name], slot)
	default:
		small := expansion(p) <= maxExpansion
		if small && allLiteralOrAlts(p) {
			for _, name := range expand(p) {
				ix.exact[name] = append(ix.exact[name], slot)
			}
			break
		}
		if ix.root == nil {
			ix.root = new(node)
		}
		ix.root.insert(p.segs, slot, small)
	}
	return slot
}

func allLiteralOrAlts(p Pattern) bool {
	for _, s := range p.segs {
		if s.kind != segLiteral && s.kind != segAlts {
			return false
		}
	}
	return true
}

// expansion is the number of literal names a pattern of literals and
// literal alternatives stands for, capped to avoid overflow.
func expansion(p Pattern) int {
	n := 1
	for _, s := range p.segs {
		if s.kind == segAlts {
			n *= len(s.alts)
			if n > maxExpansion {
				return n
			}
		}
	}
	return n
}

func expand(p Pattern) []string {
	names := []string{""}
	for i, s := range p.segs {
		alts := s.alts
		if s.kind == segLiteral {
			alts = []string{s.text}
		}
		next := make([]string, 0, len(names)*len(alts))
		for _, prefix := range names {
			for _, a := range alts {
				if i > 0 {
					next = append(next, prefix+":"+a)
				} else {
					next = append(next, a)
				}
			}
		}
		names = next
	}
	return names
}

// insert adds the path of segs below n. When expand is false, literal
// alternatives become one scanned edge instead of a path each.
func (n *node) insert(segs []segment, slot int32, expand bool) {
	if len(segs) == 0 {
		n.end = append(n.end, slot)
		return
	}
	s := segs[0]
	switch s.kind {
	case segRest:
		n.rest = append(n.rest, slot)
	case segAny:
		if n.any == nil {
			n.any = new(node)
		}
		n.any.insert(segs[1:], slot, expand)
	case segLiteral:
		n.child(s.text).insert(segs[1:], slot, expand)
	case segAlts:
		if !expand {
			n.globEdge(s).insert(segs[1:], slot, expand)
			return
		}
		// Each alternative gets its own literal path; a name can take at
		// most one of them, so the slot is never reported twice.
		for _, a := range s.alts {
			n.child(a).insert(segs[1:], slot, expand)
		}
	default:
		n.globEdge(s).insert(segs[1:], slot, expand)
	}
}

// globEdge returns the child reached through segment s, shared by every
// pattern that has the same segment text at this place.
func (n *node) globEdge(s segment) *node {
	for i := range n.globs {
		if n.globs[i].seg.text == s.text {
			return n.globs[i].next
		}
	}
	next := new(node)
	n.globs = append(n.globs, globEdge{seg: s, next: next})
	return next
}

func (n *node) child(seg string) *node {
	if c := n.literal(seg); c != nil {
		return c
	}
	c := new(node)
	switch {
	case n.lit != nil:
		n.lit[seg] = c
	case len(n.small) < smallMax:
		n.small = append(n.small, litEdge{seg, c})
	default:
		n.lit = make(map[string]*node, len(n.small)+1)
		for _, e := range n.small {
			n.lit[e.seg] = e.next
		}
		n.lit[seg] = c
		n.small = nil
	}
	return c
}

// literal returns the child reached by the literal segment seg, or nil.
func (n *node) literal(seg string) *node {
	if n.lit != nil {
		return n.lit[seg]
	}
	for i := range n.small {
		if n.small[i].seg == seg {
			return n.small[i].next
		}
	}
	return nil
}

// Append appends to dst the slot of every pattern that matches name and
// returns the extended slice. The empty name matches only the match-all.
// Slots come in no particular order, each once. Append allocates only when
// dst must grow.
func (ix *Index) Append(dst []int32, name string) []int32 {
	if name != "" {
		// Most names hit one literal pattern: append it without a copy loop.
		if hit := ix.exact[name]; len(hit) == 1 {
			dst = append(dst, hit[0])
		} else {
			dst = append(dst, hit...)
		}
	}
	return ix.AppendInexact(dst, name)
}

// AllSlot returns the slot of the match-all pattern, or -1 when the index
// has none. A match-all matches a name and every group of it alike, so
// callers that try a name's groups after the name itself can skip it.
func (ix *Index) AllSlot() int32 {
	if len(ix.all) == 0 {
		return -1
	}
	return ix.all[0]
}

// AppendInexact is Append without the literal patterns: for a caller that
// already knows name is not one of Literals, it skips a map lookup.
func (ix *Index) AppendInexact(dst []int32, name string) []int32 {
	if len(ix.all) > 0 {
		dst = append(dst, ix.all[0]) // the match-all has one slot at most
	}
	if name != "" && ix.root != nil {
		dst = ix.root.walk(dst, name)
	}
	return dst
}

// Literals yields every name that some pattern in the index matches as a
// literal (literal patterns and expanded alternatives). Every other name
// gets from Append exactly what it gets from AppendInexact.
func (ix *Index) Literals() iter.Seq[string] { return maps.Keys(ix.exact) }

// walk matches rest, the part of the name not yet consumed; rest is never
// empty because names have no empty segments.
func (n *node) walk(dst []int32, rest string) []int32 {
	dst = append(dst, n.rest...)
	seg, tail, more := strings.Cut(rest, ":")
	if c := n.literal(seg); c != nil {
		dst = c.next(dst, tail, more)
	}
	for i := range n.globs {
		if n.globs[i].seg.matchSegment(seg) {
			dst = n.globs[i].next.next(dst, tail, more)
		}
	}
	if n.any != nil {
		dst = n.any.next(dst, tail, more)
	}
	return dst
}

// next continues the walk below n after one segment was consumed.
func (n *node) next(dst []int32, tail string, more bool) []int32 {
	if !more {
		return append(dst, n.end...)
	}
	return n.walk(dst, tail)
}

// Freeze drops what only building needs. Add must not be called after it.
func (ix *Index) Freeze() { ix.slots = nil }
