package analysis

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/pattern"
)

// ErrTooComplex is returned when the patterns of a policy would need more
// representative names than analysis is willing to generate. Analysis then
// refuses to answer rather than answer from an incomplete universe.
var ErrTooComplex = errors.New("analysis: patterns too complex to analyse exactly")

// Limits on representative generation. They bound the work a hostile
// policy can cause; ordinary policies stay far below them.
const (
	maxStates    = 1 << 18 // name-level exploration states
	maxDFAStates = 1 << 13 // states of one segment position's glob automaton
)

// filler is the character representatives are padded with. Any rune that
// appears in no glob behaves like it, so one is enough.
var fillers = []rune{'_', '0', 'x', 'Z', '~', '9', 'q'}

// Representatives returns names that probe every distinguishable region of
// the name space cut out by pats and literals. Two names are alike when
// every pattern and every literal matches both or neither; for each class
// of alike names that contains a valid name, the result holds one. Every
// literal is its own class, so every literal is in the result. The
// match-all '*' matches everything and distinguishes nothing.
//
// Decisions depend on a name only through which patterns match it and
// which declared name it is, so deciding every representative decides
// every name there is.
func Representatives(pats []pattern.Pattern, literals []string) ([]string, error) {
	lits := make(map[string]bool, len(literals))
	for _, l := range literals {
		if l != "" && pattern.CheckName(l) == nil {
			lits[l] = true
		}
	}
	var wild []splitPattern
	seen := map[string]bool{}
	for _, p := range pats {
		switch {
		case p.IsAll():
		case p.IsLiteral():
			if l := p.Literal(); pattern.CheckName(l) == nil {
				lits[l] = true
			}
		case !seen[p.String()]:
			seen[p.String()] = true
			wild = append(wild, split(p))
		}
	}
	out := make([]string, 0, len(lits)+1)
	for l := range lits {
		out = append(out, l)
	}
	sort.Strings(out)
	if len(wild) == 0 {
		out = append(out, freshName(lits))
		return out, nil
	}
	// Only literals some wildcard pattern matches need to take part in the
	// exploration: any other literal is alike to no other name. A
	// representative can collide with one of them only when it matches
	// nothing at all; then that literal joins and the search runs again.
	var ix pattern.Index
	for i := range wild {
		ix.Add(wild[i].p)
	}
	ix.Freeze()
	in := map[string]bool{}
	var slots []int32
	for l := range lits {
		if slots = ix.Append(slots[:0], l); len(slots) > 0 {
			in[l] = true
		}
	}
	for {
		reps, none, err := explore(wild, in)
		if err != nil {
			return nil, err
		}
		if none != "" && lits[none] && !in[none] {
			in[none] = true // the name that matches nothing is declared: look again
			continue
		}
		for _, r := range reps {
			if !lits[r] {
				out = append(out, r)
			}
		}
		return out, nil
	}
}

// freshName is a name that is none of the literals.
func freshName(lits map[string]bool) string {
	for i := 0; ; i++ {
		n := "_"
		if i > 0 {
			n = "_" + strconv.Itoa(i)
		}
		if !lits[n] {
			return n
		}
	}
}

// splitPattern is a pattern cut into its segments, each matchable alone.
type splitPattern struct {
	p    pattern.Pattern
	segs []segPattern
}

type segPattern struct {
	text string
	rest bool             // '*' written last: one or more segments
	any  bool             // '*' elsewhere: any one segment
	lits []string         // literal alternatives, when there is no glob
	glob *pattern.Pattern // one-segment pattern with globs, when there is one
	star []string         // the glob alternatives
}

func (s *segPattern) match(seg string) bool {
	switch {
	case s.any || s.rest:
		return true
	case s.glob != nil:
		return s.glob.Match(seg)
	}
	return slices.Contains(s.lits, seg)
}

// split reads a compiled pattern's segments back from its text, which
// pattern.Parse has already validated: ':' always separates, ',' always
// separates alternatives, '*' is always a wildcard.
func split(p pattern.Pattern) splitPattern {
	parts := strings.Split(p.String(), ":")
	sp := splitPattern{p: p, segs: make([]segPattern, len(parts))}
	for i, t := range parts {
		s := segPattern{text: t}
		switch {
		case t == "*" && i == len(parts)-1:
			s.rest = true
		case t == "*":
			s.any = true
		case strings.Contains(t, "*"):
			g := pattern.MustParse(t)
			s.glob = &g
			for _, a := range strings.Split(t, ",") {
				if strings.Contains(a, "*") {
					s.star = append(s.star, a)
				} else {
					s.lits = append(s.lits, a)
				}
			}
		default:
			s.lits = strings.Split(t, ",")
		}
		sp.segs[i] = s
	}
	return sp
}

// explore walks the name space segment by segment. A state is the set of
// patterns still matching after some segments (alive), those that would
// match if the name ended here (done), and those a last '*' has already
// matched (settled). Names that reach the same state are alike in every
// continuation, so each state is explored once: the work follows the
// number of distinct states, not the number of names. It returns one name
// per distinct match set, and the name that matches nothing ("" when no
// valid name does).
func explore(wild []splitPattern, lits map[string]bool) (reps []string, none string, err error) {
	var all []splitPattern
	all = append(all, wild...)
	litNames := make([]string, 0, len(lits))
	for l := range lits {
		litNames = append(litNames, l)
	}
	sort.Strings(litNames)
	for _, l := range litNames {
		all = append(all, split(pattern.MustParse(l)))
	}
	e := &explorer{pats: all, visited: map[string]bool{}, sets: map[string]bool{}}
	start := make([]int32, len(all))
	for i := range start {
		start[i] = int32(i)
	}
	if err := e.visit(nil, 0, start, nil); err != nil {
		return nil, "", err
	}
	return e.reps, e.none, nil
}

type explorer struct {
	pats    []splitPattern
	visited map[string]bool // states
	sets    map[string]bool // match sets already represented
	reps    []string
	none    string
	states  int
}

func key(parts ...[]int32) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('|')
		}
		for _, v := range p {
			b.WriteString(strconv.Itoa(int(v)))
			b.WriteByte(',')
		}
	}
	return b.String()
}

func (e *explorer) emit(segs []string, set []int32) {
	k := key(set)
	if e.sets[k] {
		return
	}
	name := strings.Join(segs, ":")
	if pattern.CheckName(name) != nil {
		return
	}
	e.sets[k] = true
	e.reps = append(e.reps, name)
	if len(set) == 0 && e.none == "" {
		e.none = name
	}
}

// visit handles the state after segs: alive patterns have a segment at
// position depth still to match; settled ones are matched already.
func (e *explorer) visit(segs []string, depth int, alive, settled []int32) error {
	if e.states++; e.states > maxStates {
		return fmt.Errorf("%w: more than %d states", ErrTooComplex, maxStates)
	}
	if len(segs) >= pattern.MaxSegments || len(strings.Join(segs, ":")) >= pattern.MaxBytes {
		return nil // longer names are invalid: nothing to probe
	}
	at := e.position(alive, depth)
	// Representatives first: a region is then named by the shortest,
	// plainest name ("user:_" rather than "user:alice:_").
	cands, err := segmentReps(at.stars, at.isLit)
	if err != nil {
		return err
	}
	cands = append(cands, at.lits...)

	nextSettled := settled
	if len(at.rests) > 0 {
		nextSettled = mergeSorted(settled, at.rests)
	}
	for _, c := range cands {
		if pattern.CheckName(c) != nil {
			continue
		}
		nAlive, nDone := e.advance(at, depth, c)
		k := strconv.Itoa(depth) + "#" + key(nAlive, nDone, nextSettled)
		if e.visited[k] {
			continue
		}
		e.visited[k] = true
		next := append(slices.Clip(segs), c)
		// The name may end here ...
		e.emit(next, mergeSorted(nextSettled, nDone))
		if len(nAlive) == 0 {
			// ... or go on, where only settled patterns still match.
			if len(nDone) > 0 && len(next) < pattern.MaxSegments {
				e.emit(append(slices.Clip(next), string(fillerFor(nil))), nextSettled)
			}
			continue
		}
		if err := e.visit(next, depth+1, nAlive, nextSettled); err != nil {
			return err
		}
	}
	return nil
}

// segmentPosition is what the alive patterns ask of the segment at one
// position: literals, globs and wildcards, and the patterns whose last
// '*' begins there.
type segmentPosition struct {
	byLit map[string][]int32 // literal → patterns whose segment is it (-1: a glob segment's literal alternative)
	wild  []int32            // patterns whose segment is '*' or a glob
	rests []int32            // patterns whose last '*' is here
	stars []string           // the globs' alternatives with '*', each once
	lits  []string           // every literal alternative, sorted
}

func (p *segmentPosition) isLit(s string) bool { _, ok := p.byLit[s]; return ok }

// position classifies the alive patterns' segments at depth.
func (e *explorer) position(alive []int32, depth int) *segmentPosition {
	p := &segmentPosition{byLit: map[string][]int32{}}
	seenStar := map[string]bool{}
	addLit := func(l string, pi int32) {
		if _, ok := p.byLit[l]; !ok {
			p.lits = append(p.lits, l)
		}
		p.byLit[l] = append(p.byLit[l], pi)
	}
	for _, pi := range alive {
		s := &e.pats[pi].segs[depth]
		switch {
		case s.rest:
			p.rests = append(p.rests, pi)
		case s.any || s.glob != nil:
			p.wild = append(p.wild, pi)
			for _, g := range s.star {
				if !seenStar[g] {
					seenStar[g] = true
					p.stars = append(p.stars, g)
				}
			}
			for _, l := range s.lits {
				addLit(l, -1) // a placeholder: matched through wild
			}
		default:
			for _, l := range s.lits {
				addLit(l, pi)
			}
		}
	}
	sort.Strings(p.lits)
	return p
}

// advance returns, of the patterns alive at depth, those that segment c
// keeps alive and those it completes, each ascending.
func (e *explorer) advance(at *segmentPosition, depth int, c string) (alive, done []int32) {
	add := func(pi int32) {
		if depth+1 == len(e.pats[pi].segs) {
			done = append(done, pi)
		} else {
			alive = append(alive, pi)
		}
	}
	for _, pi := range at.byLit[c] {
		if pi >= 0 {
			add(pi)
		}
	}
	for _, pi := range at.wild {
		if e.pats[pi].segs[depth].match(c) {
			add(pi)
		}
	}
	slices.Sort(alive)
	slices.Sort(done)
	return alive, done
}

func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// fillerFor returns a rune that appears in none of the given strings:
// one of fillers, or else the first free one from 'A' on.
func fillerFor(strs []string) rune {
	free := func(r rune) bool {
		return !slices.ContainsFunc(strs, func(s string) bool { return strings.ContainsRune(s, r) })
	}
	for _, f := range fillers {
		if free(f) {
			return f
		}
	}
	r := rune('A')
	for !free(r) {
		r++
	}
	return r
}

// segmentReps returns one-segment strings, none of them a literal (isLit),
// such that every set of globs that some non-literal segment matches
// exactly is matched exactly by one of them. It runs the subset
// construction over the globs' automata, breadth first, so each string is
// as short as it can be; the alphabet is the globs' own characters plus
// one filler, since every other character behaves like the filler.
//
// With no globs, it returns one segment that is no literal.
func segmentReps(globs []string, isLit func(string) bool) ([]string, error) {
	f := fillerFor(globs)
	if len(globs) == 0 {
		s := string(f)
		for isLit(s) {
			s += string(f)
		}
		return []string{s}, nil
	}
	n := newGlobNFA(globs)
	alphabet := n.alphabet(f)
	type item struct {
		states []nfaState
		text   string
	}
	queue := []item{{n.start(), ""}}
	done := map[string]bool{}  // states that have a non-literal string
	visits := map[string]int{} // strings seen per state
	found := map[string]bool{} // accept sets represented
	var out []string
	for pops := 0; len(queue) > 0; pops++ {
		if pops > 8*maxDFAStates {
			return nil, fmt.Errorf("%w: globs %s need too long a search", ErrTooComplex, strings.Join(globs, " "))
		}
		it := queue[0]
		queue = queue[1:]
		for _, c := range alphabet {
			ns := n.step(it.states, c)
			k := stateKey(ns)
			if done[k] {
				continue
			}
			text := it.text + string(c)
			if len(text) > pattern.MaxBytes {
				continue
			}
			if visits[k]++; len(visits) > maxDFAStates {
				return nil, fmt.Errorf("%w: globs %s need more than %d automaton states", ErrTooComplex, strings.Join(globs, " "), maxDFAStates)
			}
			if !isLit(text) && utf8.ValidString(text) && pattern.CheckName(text) == nil {
				done[k] = true
				if a := n.accepts(ns); !found[a] {
					found[a] = true
					out = append(out, text)
				}
			}
			queue = append(queue, item{ns, text})
		}
	}
	return out, nil
}

// globNFA runs several one-segment globs at once: a state is a position
// in one glob, and a set of states is where every glob stands after some
// characters.
type globNFA struct {
	globs [][]rune
}

type nfaState struct{ g, pos int32 }

func newGlobNFA(globs []string) *globNFA {
	n := &globNFA{globs: make([][]rune, len(globs))}
	for i, s := range globs {
		n.globs[i] = []rune(s)
	}
	return n
}

// alphabet is the globs' characters, after the filler f: among equally
// short names, the plainest wins.
func (n *globNFA) alphabet(f rune) []rune {
	seen := map[rune]bool{f: true}
	out := []rune{f}
	var rest []rune
	for _, g := range n.globs {
		for _, r := range g {
			if r != '*' && !seen[r] {
				seen[r] = true
				rest = append(rest, r)
			}
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// start is every glob at its beginning.
func (n *globNFA) start() []nfaState {
	s := make([]nfaState, len(n.globs))
	for i := range n.globs {
		s[i] = nfaState{int32(i), 0}
	}
	return n.closure(s)
}

// closure adds, for each state before a '*', the state after it (a '*'
// may match nothing), and sorts the set.
func (n *globNFA) closure(states []nfaState) []nfaState {
	var out []nfaState
	for _, s := range states {
		for {
			out = append(out, s)
			if g := n.globs[s.g]; int(s.pos) < len(g) && g[s.pos] == '*' {
				s.pos++
				continue
			}
			break
		}
	}
	slices.SortFunc(out, func(a, b nfaState) int {
		if a.g != b.g {
			return int(a.g - b.g)
		}
		return int(a.pos - b.pos)
	})
	return slices.Compact(out)
}

// step reads one character: a '*' stays, a matching character advances.
func (n *globNFA) step(states []nfaState, c rune) []nfaState {
	var next []nfaState
	for _, s := range states {
		g := n.globs[s.g]
		if int(s.pos) >= len(g) {
			continue
		}
		switch g[s.pos] {
		case '*':
			next = append(next, s)
		case c:
			next = append(next, nfaState{s.g, s.pos + 1})
		}
	}
	return n.closure(next)
}

// accepts names the globs a set of states has matched whole.
func (n *globNFA) accepts(states []nfaState) string {
	var b strings.Builder
	for _, s := range states {
		if int(s.pos) == len(n.globs[s.g]) {
			b.WriteString(strconv.Itoa(int(s.g)))
			b.WriteByte(',')
		}
	}
	return b.String()
}

func stateKey(states []nfaState) string {
	var b strings.Builder
	for _, s := range states {
		b.WriteString(strconv.Itoa(int(s.g)))
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(int(s.pos)))
		b.WriteByte(',')
	}
	return b.String()
}
