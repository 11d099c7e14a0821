package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// kind is the membership graph of one namespace (subjects, resources or
// actions), as lint needs it: which names are declared, and which groups a
// name reaches.
type kind struct {
	groups   []engine.Group
	ids      map[string]int   // group name to index in groups, first declaration
	parents  map[string][]int // name to the groups listing it by name
	declared map[string]bool  // group names and literal members
	patterns pattern.Index    // pattern members, resources and actions only
	patGroup [][]int          // slot to the groups holding that pattern
	closures map[string][]int // memo of closure
	typos    *typoIndex       // built on first use
}

func newKind(groups []engine.Group, patterns bool) *kind {
	n := len(groups)
	for _, g := range groups {
		n += len(g.Members)
	}
	k := &kind{
		groups:   groups,
		ids:      make(map[string]int, len(groups)),
		parents:  make(map[string][]int, n),
		declared: make(map[string]bool, n),
		closures: make(map[string][]int),
	}
	for i, g := range groups {
		if _, dup := k.ids[g.Name]; !dup {
			k.ids[g.Name] = i
		}
		k.declared[g.Name] = true
	}
	for i, g := range groups {
		if k.ids[g.Name] != i {
			continue
		}
		for _, m := range g.Members {
			if patterns && strings.ContainsAny(m.Name, "*,") {
				p, err := pattern.Parse(m.Name)
				if err != nil {
					continue
				}
				s := int(k.patterns.Add(p))
				for len(k.patGroup) <= s {
					k.patGroup = append(k.patGroup, nil)
				}
				k.patGroup[s] = append(k.patGroup[s], i)
				continue
			}
			k.declared[m.Name] = true
			k.parents[m.Name] = append(k.parents[m.Name], i)
		}
	}
	return k
}

// isDeclared reports whether name is a group, a member, or matched by a
// pattern member.
func (k *kind) isDeclared(name string) bool {
	if k.declared[name] {
		return true
	}
	if k.patterns.Len() == 0 {
		return false
	}
	var buf [8]int32
	return len(k.patterns.Append(buf[:0], name)) > 0
}

// closure returns the groups name reaches (SPEC 3.1, 4.1), not including
// name itself, ascending by declaration. Pattern members count only for
// names that are not groups, as in the engine.
func (k *kind) closure(name string) []int {
	if c, ok := k.closures[name]; ok {
		return c
	}
	if len(k.parents[name]) == 0 && k.patterns.Len() == 0 {
		return nil // most names: nothing to walk, nothing worth remembering
	}
	var out []int
	seen := make(map[int]bool)
	var queue []int
	push := func(g int) {
		if !seen[g] {
			seen[g] = true
			queue = append(queue, g)
		}
	}
	for _, g := range k.parents[name] {
		push(g)
	}
	if _, isGroup := k.ids[name]; !isGroup && k.patterns.Len() > 0 {
		for _, s := range k.patterns.Append(nil, name) {
			for _, g := range k.patGroup[s] {
				push(g)
			}
		}
	}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		out = append(out, g)
		for _, p := range k.parents[k.groups[g].Name] {
			push(p)
		}
	}
	if id, isGroup := k.ids[name]; isGroup {
		// A group in a cycle reaches itself; "itself" is already the name.
		out = removeInt(out, id)
	}
	k.closures[name] = out
	return out
}

func removeInt(s []int, x int) []int {
	for i, v := range s {
		if v == x {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

// groups reports empty groups and cycles of every kind.
func (l *linter) groups() {
	for kd, k := range l.kinds {
		for i, g := range k.groups {
			if k.ids[g.Name] != i {
				continue
			}
			if len(g.Members) == 0 {
				l.add(Warning, CodeEmptyGroup, g.Pos,
					fmt.Sprintf("add members to %q, or remove it and the rules that name it", g.Name),
					"%s %q has no members, so rules that name it match nothing but the name %q itself", section(g), g.Name, g.Name)
			}
		}
		for _, scc := range cycles(k) {
			first := k.groups[scc[0]]
			names := make([]string, 0, min(len(scc), 6))
			for _, g := range scc[:min(len(scc), 5)] {
				names = append(names, fmt.Sprintf("%q", k.groups[g].Name))
			}
			if len(scc) > 5 {
				names = append(names, fmt.Sprintf("%d more", len(scc)-5))
			}
			what := fmt.Sprintf("%s %s form a cycle", plural(engine.Kind(kd)), strings.Join(names, ", "))
			if len(scc) == 1 {
				what = fmt.Sprintf("%s %q lists itself", section(first), first.Name)
			}
			l.add(Info, CodeCycle, first.Pos,
				"if they are meant to be one group, declare one; otherwise remove the member that closes the cycle",
				"%s: every member of one is a member of all, so they are equivalent (SPEC 3.2)", what)
		}
	}
}

// cycles returns the strongly connected components of the group graph
// that hold a cycle, each ascending, ordered by their first group
// (Tarjan's algorithm, iterative so that deep nesting cannot exhaust the
// stack).
func cycles(k *kind) [][]int {
	n := len(k.groups)
	// Edges run from a group to the groups it lists.
	edges := make([][]int, n)
	self := make([]bool, n)
	for i, g := range k.groups {
		if k.ids[g.Name] != i {
			continue
		}
		for _, m := range g.Members {
			if j, ok := k.ids[m.Name]; ok {
				edges[i] = append(edges[i], j)
				if j == i {
					self[i] = true
				}
			}
		}
	}
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	type frame struct{ v, e int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		on[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(edges[f.v]) {
				w := edges[f.v][f.e]
				f.e++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					on[w] = true
					call = append(call, frame{w, 0})
				case on[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			var scc []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			if len(scc) > 1 || self[v] {
				slices.Sort(scc)
				out = append(out, scc)
			}
		}
	}
	// Ordered by first group, so findings and their messages are stable.
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

func section(g engine.Group) string {
	switch {
	case g.Role:
		return "role"
	case g.Section == "resources":
		return "resource group"
	case g.Section == "actions":
		return "action group"
	}
	return "group"
}

func plural(k engine.Kind) string {
	switch k {
	case engine.Resources:
		return "resource groups"
	case engine.Actions:
		return "action groups"
	}
	return "groups and roles"
}
