package engine

import (
	"fmt"
	"slices"

	"github.com/warden-authz/warden/internal/pattern"
)

// members is the compiled membership graph of one kind (SPEC 3–4): which
// groups a name belongs to, directly and transitively.
//
// Closure is computed when the policy is compiled, never per request. The
// graph may have cycles (SPEC 3.2), so groups are first collapsed into
// strongly connected components: every group of a component reaches the same
// set, and the condensed graph is acyclic, which lets each component's
// closure be built once from its parents' closures.
type members struct {
	kind    Kind
	names   []string         // group id to name, in declaration order
	ids     map[string]int32 // group name to id
	parents [][]int32        // group id to the groups that list it, ascending
	// closure of a group is every group it reaches, itself included,
	// ascending. Groups of one component share one slice.
	closure [][]int32
	// leafParents and leafClosure are the same for names that are members
	// but not groups. A name with one parent shares its parent's closure.
	leafParents map[string][]int32
	leafClosure map[string][]int32
	// lookup answers both questions for any name in one map access: its
	// group id (-1 for a plain name) and its closure. Built by finish.
	lookup map[string]nameEntry
	// patterns holds pattern members (resources and actions only); slot s
	// belongs to every group in patternGroups[s].
	patterns      pattern.Index
	patternGroups [][]int32
	patternList   []pattern.Pattern // by slot, for Graph.Members
	// cycles are the strongly connected components that hold a cycle,
	// each ascending, ordered by first group: finish finds them anyway,
	// and Graph.Cycles reports them.
	cycles [][]int32
	// groupSlots holds, per group, the subject-index slots of the patterns
	// that match the group's name (subjects only; see attachSlots).
	groupSlots [][]int32
	// children is the reverse of parents: per group, the groups that list
	// it, ascending. Runtime data uses it to find whose closure a change
	// of membership between groups touches.
	children [][]int32
	// roles marks, per group id, the subject groups declared as roles.
	roles []bool
}

type nameEntry struct {
	group   int32
	closure []int32
	// parents are the groups listing a name that is not a group, by name,
	// ascending (a group's are members.parents).
	parents []int32
	// slots are the subject-index slots of the patterns that match this
	// name, computed at compile time (subjects only; see attachSlots).
	slots []int32
}

func newMembers(kind Kind) *members {
	return &members{
		kind:        kind,
		ids:         make(map[string]int32),
		leafParents: make(map[string][]int32),
		leafClosure: make(map[string][]int32),
	}
}

// addGroup declares a group and returns its id.
func (m *members) addGroup(name string, role bool) int32 {
	id := int32(len(m.names))
	m.names = append(m.names, name)
	m.roles = append(m.roles, role)
	m.parents = append(m.parents, nil)
	m.ids[name] = id
	return id
}

// addEdge records that member (a group id, or -1 for a plain name) is listed
// by group parent.
func (m *members) addEdge(member int32, name string, parent int32) {
	if member >= 0 {
		m.parents[member] = appendSorted(m.parents[member], parent)
		return
	}
	m.leafParents[name] = appendSorted(m.leafParents[name], parent)
}

func (m *members) addPattern(p pattern.Pattern, parent int32) {
	slot := m.patterns.Add(p)
	for int(slot) >= len(m.patternGroups) {
		m.patternGroups = append(m.patternGroups, nil)
		m.patternList = append(m.patternList, p)
	}
	m.patternGroups[slot] = appendSorted(m.patternGroups[slot], parent)
}

func appendSorted(s []int32, v int32) []int32 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// finish computes every closure. It runs once, after all groups and edges
// are in.
func (m *members) finish() error {
	n := len(m.names)
	m.closure = make([][]int32, n)
	total := 0
	for _, comp := range m.components() {
		var set []int32
		for _, g := range comp {
			set = append(set, g)
			for _, p := range m.parents[g] {
				// Components come ancestors first, so a parent outside
				// this component already has its closure.
				set = append(set, m.closure[p]...)
			}
		}
		slices.Sort(set)
		set = slices.Compact(set)
		set = slices.Clip(set)
		for _, g := range comp {
			m.closure[g] = set
		}
		if total += len(set); total > maxMemberships {
			return m.tooDeep(comp[0])
		}
		if len(comp) > 1 || slices.Contains(m.parents[comp[0]], comp[0]) {
			m.cycles = append(m.cycles, slices.Sorted(slices.Values(comp)))
		}
	}
	slices.SortFunc(m.cycles, func(a, b []int32) int { return int(a[0] - b[0]) })
	for name, ps := range m.leafParents {
		if len(ps) == 1 {
			m.leafClosure[name] = m.closure[ps[0]]
			continue
		}
		var set []int32
		for _, p := range ps {
			set = append(set, m.closure[p]...)
		}
		slices.Sort(set)
		m.leafClosure[name] = slices.Clip(slices.Compact(set))
		if total += len(m.leafClosure[name]); total > maxMemberships {
			return m.tooDeep(-1)
		}
	}
	m.patterns.Freeze()
	m.lookup = make(map[string]nameEntry, len(m.names)+len(m.leafClosure))
	for name, c := range m.leafClosure {
		m.lookup[name] = nameEntry{group: -1, closure: c, parents: slices.Clip(m.leafParents[name])}
	}
	m.children = make([][]int32, n)
	for g, ps := range m.parents {
		for _, p := range ps {
			m.children[p] = append(m.children[p], int32(g)) // g ascends, so each list does
		}
	}
	for g, name := range m.names {
		m.lookup[name] = nameEntry{group: int32(g), closure: m.closure[g]}
	}
	m.leafClosure = nil
	m.leafParents = nil
	return nil
}

// maxMemberships bounds the memberships stored after closure, about 128 MB.
// Closure is computed ahead so that requests never search the group graph,
// but a chain of n nested groups stores n²/2 memberships: a 30,000-group
// chain in a 600 KB file would need gigabytes. Ordinary hierarchies are far
// below it: 100,000 users in 300 groups each fit.
const maxMemberships = 1 << 25

// tooDeepError explains a policy over maxMemberships, naming the group with
// the longest closure (or the group being closed when the limit was hit).
type tooDeepError struct {
	kind  Kind
	group string
	reach int
}

func (e *tooDeepError) Error() string {
	return fmt.Sprintf("%s are nested too deeply: after closure they would hold over %d memberships (%q alone reaches %d groups); flatten the hierarchy",
		plural(e.kind), maxMemberships, e.group, e.reach)
}

func (m *members) tooDeep(g int32) error {
	if g < 0 {
		for i, c := range m.closure {
			if g < 0 || len(c) > len(m.closure[g]) {
				g = int32(i)
			}
		}
	}
	return &tooDeepError{kind: m.kind, group: m.names[g], reach: len(m.closure[g])}
}

// components returns the strongly connected components of the group graph
// (edges from member to parent) in an order where every component comes
// after all the components it reaches. It is Tarjan's algorithm, written
// with an explicit stack so a long chain of groups cannot exhaust the
// goroutine stack.
func (m *members) components() [][]int32 {
	n := len(m.names)
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var (
		next  int32
		stack []int32
		comps [][]int32
	)
	type frame struct {
		v    int32
		edge int
	}
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		calls := []frame{{v: int32(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, int32(root))
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if f.edge < len(m.parents[v]) {
				w := m.parents[v][f.edge]
				f.edge++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w})
				case onStack[w]:
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var comp []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				comps = append(comps, comp)
			}
		}
	}
	return comps
}

// groupsOf returns every group name belongs to (SPEC 3.1, 4.1), the
// subject-index slots precomputed for name, and whether the policy knows
// name at all. Without pattern members the groups are the precomputed
// closure itself, shared and read-only, so a subject in hundreds of groups
// costs no copy; when pattern members match, the union is built in dst.
// When name is itself a group, the result includes it; that only repeats a
// match the name itself already makes.
func (m *members) groupsOf(dst []int32, name string) (groups, slots []int32, known bool) {
	if name == "" || len(m.lookup) == 0 && m.patterns.Len() == 0 {
		return nil, nil, false
	}
	e, known := m.lookup[name]
	if m.patterns.Len() == 0 {
		return e.closure, e.slots, known
	}
	var slotBuf [8]int32
	matched := m.patterns.Append(slotBuf[:0], name)
	if len(matched) == 0 {
		return e.closure, e.slots, known
	}
	dst = append(dst[:0], e.closure...)
	for _, s := range matched {
		for _, g := range m.patternGroups[s] {
			dst = append(dst, m.closure[g]...)
		}
	}
	slices.Sort(dst)
	return slices.Compact(dst), e.slots, known
}

// nameSlots returns the subject-index slots of the patterns matching a
// supplied name the policy does not declare as a group, less the
// match-all, which the subject itself already met.
func (m *members) nameSlots(dst []int32, ix *pattern.Index, name string) []int32 {
	all := ix.AllSlot()
	e, ok := m.lookup[name]
	if !ok {
		dst = ix.AppendInexact(dst[:0], name)
		return slices.DeleteFunc(dst, func(s int32) bool { return s == all })
	}
	dst = dst[:0]
	for _, s := range e.slots {
		if s != all {
			dst = append(dst, s)
		}
	}
	return dst
}

// attachSlots precomputes, for every group and every name the policy
// knows, which subject patterns match it, so a decision finds the rules of
// a principal without a lookup per principal. Names the policy does not
// know can only match the index's non-literal patterns.
func (m *members) attachSlots(ix *pattern.Index) {
	// A group key never needs the match-all: the subject itself, always
	// tried first, matches it with the same rank and a shorter chain. Keeping
	// it out means a subject in 10,000 groups does not meet a '*' rule
	// 10,000 times.
	all := ix.AllSlot()
	m.groupSlots = make([][]int32, len(m.names))
	for g, name := range m.names {
		m.groupSlots[g] = slices.Clip(slices.DeleteFunc(ix.Append(nil, name), func(s int32) bool { return s == all }))
	}
	for name := range ix.Literals() {
		if _, ok := m.lookup[name]; !ok {
			m.lookup[name] = nameEntry{group: -1}
		}
	}
	for name, e := range m.lookup {
		e.slots = slices.Clip(ix.Append(nil, name))
		m.lookup[name] = e
	}
}
