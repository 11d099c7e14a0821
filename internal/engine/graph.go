package engine

import (
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/warden-authz/warden/internal/pattern"
)

// Graph is one kind's membership graph as a compiled policy holds it
// (SPEC 3–4): its groups in declaration order, who lists whom, every
// name's closure and the cycles. It is the graph decisions walk, so
// anything that reasons about memberships (lint, analysis) and uses it
// cannot disagree with a decision about who is in which group.
//
// Groups are numbered by declaration: group i is the i-th group of its
// kind in the source. Lists of groups are ascending by that number.
//
// A Graph is read-only and shares the policy's memory: the slices it
// returns belong to the policy (or, for Members, to the Graph), and the
// caller must not modify them. All
// of its methods are safe for concurrent use; the index of members that
// Members needs is built once, on first use. The zero Graph, and a nil
// *Graph, is the graph of a policy without groups: it has no groups,
// knows no name and every name reaches nothing.
type Graph struct {
	m *members

	once     sync.Once
	children [][]int32  // group → the groups it lists, ascending
	leaves   [][]string // group → the other names it lists, sorted
	pats     [][]pattern.Pattern
}

// Graph returns the membership graph of one kind. A nil policy, or a kind
// that is none of Subjects, Resources and Actions, has the empty graph.
func (p *Policy) Graph(k Kind) *Graph {
	if p == nil {
		return &Graph{}
	}
	switch k {
	case Subjects:
		return &Graph{m: p.subjects}
	case Resources:
		return &Graph{m: p.resources}
	case Actions:
		return &Graph{m: p.actions}
	}
	return &Graph{}
}

func (g *Graph) mem() *members {
	if g == nil {
		return nil
	}
	return g.m
}

// Len returns the number of groups.
func (g *Graph) Len() int {
	if m := g.mem(); m != nil {
		return len(m.names)
	}
	return 0
}

// Names returns the group names in declaration order: Names()[i] is group i.
func (g *Graph) Names() []string {
	if m := g.mem(); m != nil {
		return m.names
	}
	return nil
}

// Name returns the name of group id, or "" when there is no group id.
func (g *Graph) Name(id int32) string {
	if !g.has(id) {
		return ""
	}
	return g.m.names[id]
}

func (g *Graph) has(id int32) bool { return id >= 0 && int(id) < g.Len() }

// Group returns the number of the group called name, and whether there is
// one.
func (g *Graph) Group(name string) (int32, bool) {
	m := g.mem()
	if m == nil {
		return -1, false
	}
	id, ok := m.ids[name]
	if !ok {
		return -1, false
	}
	return id, true
}

// Known reports whether the policy lists name in this kind: as a group,
// or as a member written by name. Declared yields exactly the known names.
// A name that only a pattern member matches, or only rules mention, is
// not known; Reach tells whether a pattern member matches it.
func (g *Graph) Known(name string) bool {
	m := g.mem()
	if m == nil {
		return false
	}
	if _, ok := m.ids[name]; ok {
		return true
	}
	e, ok := m.lookup[name]
	return ok && len(e.parents) > 0
}

// Declared yields every name the policy lists in this kind: the groups in
// declaration order, then the members listed by name that are not groups,
// in no particular order. Pattern members are not names and are left out.
func (g *Graph) Declared() iter.Seq[string] {
	return func(yield func(string) bool) {
		m := g.mem()
		if m == nil {
			return
		}
		for _, n := range m.names {
			if !yield(n) {
				return
			}
		}
		for n, e := range m.lookup {
			if e.group < 0 && len(e.parents) > 0 && !yield(n) {
				return
			}
		}
	}
}

// Parents returns the groups that list name directly: by name, or
// through a pattern member that matches it (SPEC 4.1). It allocates.
func (g *Graph) Parents(name string) []int32 {
	if m := g.mem(); m != nil {
		return kindView{m: m}.directParents(name)
	}
	return nil
}

// Closure returns the groups group id reaches by name, itself included,
// at any depth (SPEC 3.1, 3.2). Every group of a cycle has the same
// closure. Pattern members play no part: they match request names, never
// the names of groups (SPEC 4.1).
func (g *Graph) Closure(id int32) []int32 {
	if !g.has(id) {
		return nil
	}
	return g.m.closure[id]
}

// Reach returns every group name belongs to, as a decision about a
// request naming it sees them (SPEC 3.1, 4.1): the groups that list it
// by name or through a pattern member that matches it, and everything
// those reach; name itself when it is a group. The result is shared with
// the policy unless a pattern member matches name, when it is built anew.
func (g *Graph) Reach(name string) []int32 {
	m := g.mem()
	if m == nil {
		return nil
	}
	groups, _, _ := m.groupsOf(nil, name)
	return groups
}

// Members returns what group id lists: the groups, ascending, the other
// names, sorted, and the pattern members (resources and actions only),
// sorted by their text. There are none for an id that is no
// group.
func (g *Graph) Members(id int32) (groups []int32, names []string, patterns []pattern.Pattern) {
	if !g.has(id) {
		return nil, nil, nil
	}
	g.once.Do(g.indexMembers)
	return g.children[id], g.leaves[id], g.pats[id]
}

// indexMembers inverts the member-to-group edges the policy keeps for
// decisions, once, for Members.
func (g *Graph) indexMembers() {
	m := g.m
	n := len(m.names)
	g.children = make([][]int32, n)
	g.leaves = make([][]string, n)
	g.pats = make([][]pattern.Pattern, n)
	for member, ps := range m.parents {
		for _, p := range ps {
			g.children[p] = append(g.children[p], int32(member))
		}
	}
	var leaves []string
	for name, e := range m.lookup {
		if e.group < 0 && len(e.parents) > 0 {
			leaves = append(leaves, name)
		}
	}
	slices.Sort(leaves)
	for _, name := range leaves {
		for _, p := range m.lookup[name].parents {
			g.leaves[p] = append(g.leaves[p], name)
		}
	}
	for slot, groups := range m.patternGroups {
		for _, p := range groups {
			g.pats[p] = append(g.pats[p], m.patternList[slot])
		}
	}
	for _, ps := range g.pats {
		slices.SortFunc(ps, func(a, b pattern.Pattern) int { return strings.Compare(a.String(), b.String()) })
	}
}

// Chain returns one shortest chain of membership from name to group,
// name first and the group last, as explanations print it (SPEC 5.4):
// ["alice", "staff", "admin"]. Among chains of one length it takes the
// one through the groups declared first (SPEC 5.5). It is [name] when
// name is the group, and nil when name does not reach it. It allocates.
func (g *Graph) Chain(name string, group int32) []string {
	if !g.has(group) || name == "" {
		return nil
	}
	if g.m.names[group] == name {
		return []string{name}
	}
	v := kindView{m: g.m}
	steps := v.paths(name, nil)
	if _, ok := steps[group]; !ok {
		return nil
	}
	return v.chain(name, group, steps)
}

// Cycles returns the strongly connected components of the graph that hold
// a cycle (SPEC 3.2): groups that reach one another, or a group that lists
// itself. Each is ascending, and they are ordered by their first group.
func (g *Graph) Cycles() [][]int32 {
	if m := g.mem(); m != nil {
		return m.cycles
	}
	return nil
}
