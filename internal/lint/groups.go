package lint

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
)

// kind is one namespace (subjects, resources or actions) as lint needs
// it: the compiled membership graph, which decisions walk too, beside the
// declarations it was compiled from, for their positions. The source
// compiled, so it declares each group once and group i of the graph is
// groups[i].
type kind struct {
	groups []engine.Group
	graph  *engine.Graph
	typos  *typoIndex // built on first use
}

// index returns the position of group name among the kind's groups, which
// is its id in the compiled graph (a policy that compiled declares each
// group once).
func (k *kind) index(name string) (int, bool) {
	id, ok := k.graph.Group(name)
	return int(id), ok
}

// mustIndex is index for a name known to be a group.
func (k *kind) mustIndex(name string) int {
	id, _ := k.index(name)
	return id
}

// closure returns the groups every request with name among its keys
// reaches (SPEC 3.1, 4.1), name itself included when it is a group. For a
// group that is its closure by name alone: a pattern member matching the
// group's name reaches a request naming the group, but not the group's
// members, whose requests name them.
func (k *kind) closure(name string) []int32 {
	if id, ok := k.graph.Group(name); ok {
		return k.graph.Closure(id)
	}
	return k.graph.Reach(name)
}

// groups reports empty groups and cycles of every kind.
func (l *linter) groups() {
	for kd, k := range l.kinds {
		for _, g := range k.groups {
			if len(g.Members) == 0 {
				l.add(Warning, CodeEmptyGroup, g.Pos,
					fmt.Sprintf("add members to %q, or remove it and the rules that name it; if runtime data gives it members, lint with --store to see them", g.Name),
					"%s %q has no members, so rules that name it match nothing but the name %q itself", section(g), g.Name, g.Name)
			}
		}
		for _, scc := range k.graph.Cycles() {
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
