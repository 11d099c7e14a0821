package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/testgen"
)

// bruteGraph answers the Graph's questions straight from the declared
// groups, the slow way: by searching until nothing changes, and by
// pairwise reachability for cycles. It shares nothing with the engine but
// the single-pattern matcher.
type bruteGraph struct {
	groups []engine.Group
	ids    map[string]int32
}

func newBrute(groups []engine.Group) *bruteGraph {
	b := &bruteGraph{groups: groups, ids: map[string]int32{}}
	for i, g := range groups {
		b.ids[g.Name] = int32(i)
	}
	return b
}

func isPattern(member string) bool { return strings.ContainsAny(member, "*,") }

// parents are the groups listing name by name, or by a pattern member
// matching it.
func (b *bruteGraph) parents(name string) []int32 {
	var out []int32
	for i, g := range b.groups {
		for _, m := range g.Members {
			if m.Name == name || isPattern(m.Name) && pattern.MustParse(m.Name).Match(name) {
				out = append(out, int32(i))
				break
			}
		}
	}
	return out
}

// up is every group reachable from start by name, start included.
func (b *bruteGraph) up(start []int32) []int32 {
	in := map[int32]bool{}
	for _, s := range start {
		in[s] = true
	}
	for changed := true; changed; {
		changed = false
		for i, g := range b.groups {
			if in[int32(i)] {
				continue
			}
			for _, m := range g.Members {
				if id, ok := b.ids[m.Name]; ok && in[id] {
					in[int32(i)] = true
					changed = true
					break
				}
			}
		}
	}
	out := make([]int32, 0, len(in))
	for id := range in {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (b *bruteGraph) reach(name string) []int32 {
	start := b.parents(name)
	if id, ok := b.ids[name]; ok {
		start = append(start, id)
	}
	if len(start) == 0 {
		return nil
	}
	return b.up(start)
}

// cycles pairs groups that reach each other.
func (b *bruteGraph) cycles() [][]int32 {
	var out [][]int32
	done := map[int32]bool{}
	for i := range b.groups {
		id := int32(i)
		if done[id] {
			continue
		}
		mine := b.up([]int32{id})
		comp := []int32{id}
		for _, j := range mine {
			if j != id && slices.Contains(b.up([]int32{j}), id) {
				comp = append(comp, j)
			}
		}
		slices.Sort(comp)
		for _, j := range comp {
			done[j] = true
		}
		self := slices.ContainsFunc(b.groups[i].Members, func(m engine.Member) bool { return m.Name == b.groups[i].Name })
		if len(comp) > 1 || self {
			out = append(out, comp)
		}
	}
	return out
}

func (b *bruteGraph) members(id int32) (groups []int32, names, pats []string) {
	for _, m := range b.groups[id].Members {
		switch g, ok := b.ids[m.Name]; {
		case ok:
			groups = append(groups, g)
		case isPattern(m.Name):
			pats = append(pats, m.Name)
		default:
			names = append(names, m.Name)
		}
	}
	for _, s := range []*[]string{&names, &pats} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	slices.Sort(groups)
	return slices.Compact(groups), names, pats
}

// known: a group, or a member written by name.
func (b *bruteGraph) known(name string) bool {
	if _, ok := b.ids[name]; ok {
		return true
	}
	for _, g := range b.groups {
		if slices.ContainsFunc(g.Members, func(m engine.Member) bool { return m.Name == name }) {
			return true
		}
	}
	return false
}

// distance is the number of groups on a shortest chain from name to
// group: 1 when a group lists name, by name or by pattern; -1 when name
// does not reach group.
func (b *bruteGraph) distance(name string, group int32) int {
	if b.groups[group].Name == name {
		return 0
	}
	frontier := b.parents(name)
	seen := map[int32]bool{}
	for d := 1; len(frontier) > 0; d++ {
		var next []int32
		for _, g := range frontier {
			if g == group {
				return d
			}
			seen[g] = true
		}
		for _, g := range frontier {
			for i, p := range b.groups {
				if !seen[int32(i)] && slices.ContainsFunc(p.Members, func(m engine.Member) bool { return m.Name == b.groups[g].Name }) {
					next = append(next, int32(i))
				}
			}
		}
		frontier = next
	}
	return -1
}

// checkChain: a chain starts at name, ends at group, each step is listed
// by the next (the first by name or pattern, the rest by name), and it is
// as short as any.
func (b *bruteGraph) checkChain(name string, group int32, chain []string) error {
	d := b.distance(name, group)
	switch {
	case d < 0 && chain == nil:
		return nil
	case d < 0 || len(chain) != d+1:
		return fmt.Errorf("chain %q, want %d steps", chain, d)
	case chain[0] != name || chain[len(chain)-1] != b.groups[group].Name:
		return fmt.Errorf("chain %q does not run from %q to %q", chain, name, b.groups[group].Name)
	}
	for i := 1; i < len(chain); i++ {
		id := b.ids[chain[i]]
		ok := slices.Contains(b.parents(chain[i-1]), id)
		if i > 1 {
			ok = slices.ContainsFunc(b.groups[id].Members, func(m engine.Member) bool { return m.Name == chain[i-1] })
		}
		if !ok {
			return fmt.Errorf("chain %q: %q does not list %q", chain, chain[i], chain[i-1])
		}
	}
	return nil
}

// TestGraphMatchesBruteForce holds every answer of the compiled membership
// graph to the brute-force one, on random groups of every kind with
// nesting, cycles, self-listing and pattern members (SPEC 3–4).
func TestGraphMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		names := []string{"g1", "g2", "g3", "ab", "a:b", "g6"}[:rapid.IntRange(1, 6).Draw(t, "groups")]
		pool := []string{"u1", "u2", "a", "a:b", "ab:a", "b"}
		src := &engine.Source{
			Groups:    testgen.Groups(t, "groups", names, false, pool),
			Resources: testgen.Groups(t, "resources", names, true, pool),
			Actions:   testgen.Groups(t, "actions", names, true, pool),
		}
		testgen.DropRoleMembers(src)
		p, errs := engine.Compile(src)
		if len(errs) > 0 {
			t.Fatalf("generated source does not compile: %v", errs)
		}
		for _, k := range []engine.Kind{engine.Subjects, engine.Resources, engine.Actions} {
			groups := [][]engine.Group{src.Groups, src.Resources, src.Actions}[k]
			checkGraph(t, k, p.Graph(k), newBrute(groups))
		}
	})
}

func checkGraph(t *rapid.T, k engine.Kind, g *engine.Graph, b *bruteGraph) {
	fail := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v graph: %s = %v, want %v", k, what, got, want)
		}
	}
	var names []string
	for _, grp := range b.groups {
		names = append(names, grp.Name)
	}
	fail("Names()", g.Names(), names)
	fail("Len()", g.Len(), len(names))
	fail("Cycles()", g.Cycles(), b.cycles())

	declared := map[string]bool{}
	for i, grp := range b.groups {
		id := int32(i)
		declared[grp.Name] = true
		if got, ok := g.Group(grp.Name); !ok || got != id || g.Name(id) != grp.Name {
			t.Fatalf("%v graph: Group(%q) = %d, %v; Name(%d) = %q", k, grp.Name, got, ok, id, g.Name(id))
		}
		fail(fmt.Sprintf("Closure(%s)", grp.Name), g.Closure(id), b.up([]int32{id}))
		gs, ns, ps := g.Members(id)
		var pats []string
		for _, p := range ps {
			pats = append(pats, p.String())
		}
		wg, wn, wp := b.members(id)
		fail(fmt.Sprintf("Members(%s)", grp.Name), fmt.Sprint(gs, ns, pats), fmt.Sprint(wg, wn, wp))
		for _, n := range ns {
			declared[n] = true
		}
	}
	var got []string
	for n := range g.Declared() {
		got = append(got, n)
	}
	slices.Sort(got)
	want := make([]string, 0, len(declared))
	for n := range declared {
		want = append(want, n)
	}
	slices.Sort(want)
	fail("Declared()", got, want)

	probes := append(slices.Clone(names), "u1", "u2", "a", "b", "ab", "a:b", "ab:a", "a:a", "b:ab:a", "a:ab", "zz", "")
	for _, n := range probes {
		fail(fmt.Sprintf("Reach(%q)", n), g.Reach(n), b.reach(n))
		fail(fmt.Sprintf("Parents(%q)", n), g.Parents(n), b.parents(n))
		fail(fmt.Sprintf("Known(%q)", n), g.Known(n), n != "" && b.known(n))
		for id := range int32(len(names)) {
			if err := b.checkChain(n, id, g.Chain(n, id)); n != "" && err != nil {
				t.Fatalf("%v graph: Chain(%q, %s): %v", k, n, names[id], err)
			}
		}
	}
}

// TestGraphZero: the zero Graph, a nil one, a nil policy's and an unknown
// kind's are all the empty graph, and none of their methods panics.
func TestGraphZero(t *testing.T) {
	t.Parallel()
	var nilPolicy *engine.Policy
	p, errs := engine.Compile(&engine.Source{Groups: []engine.Group{{Name: "g", Members: []engine.Member{{Name: "u"}}}}})
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name string
		g    *engine.Graph
	}{
		{"zero", &engine.Graph{}},
		{"nil", nil},
		{"nil policy", nilPolicy.Graph(engine.Subjects)},
		{"unknown kind", p.Graph(engine.Kind(9))},
		{"no groups of the kind", p.Graph(engine.Actions)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := tt.g
			gs, ns, ps := g.Members(0)
			_, ok := g.Group("g")
			declared := 0
			for range g.Declared() {
				declared++
			}
			if g.Len() != 0 || g.Names() != nil || g.Name(0) != "" || ok || g.Known("u") || g.Known("g") ||
				g.Reach("u") != nil || g.Parents("u") != nil || g.Closure(0) != nil || g.Cycles() != nil || g.Chain("u", 0) != nil ||
				gs != nil || ns != nil || ps != nil || declared != 0 {
				t.Fatal("the empty graph has content")
			}
		})
	}
	g := p.Graph(engine.Subjects)
	if g.Name(-1) != "" || g.Name(1) != "" || g.Closure(5) != nil {
		t.Error("an id that is no group names something")
	}
	if gs, ns, _ := g.Members(1); gs != nil || ns != nil {
		t.Error("an id that is no group has members")
	}
}

// TestGraphConcurrentMembers: goroutines sharing one Graph all see the
// same members while the index is built on first use (run with -race).
func TestGraphConcurrentMembers(t *testing.T) {
	t.Parallel()
	p, errs := engine.Compile(&engine.Source{Resources: []engine.Group{
		{Name: "docs", Members: []engine.Member{{Name: "doc:*"}, {Name: "readme"}, {Name: "all"}}},
		{Name: "all", Members: []engine.Member{{Name: "docs"}}},
	}})
	if errs != nil {
		t.Fatal(errs)
	}
	g := p.Graph(engine.Resources)
	done := make(chan string)
	for range 8 {
		go func() {
			gs, ns, ps := g.Members(0)
			done <- fmt.Sprintf("%v %v %s", gs, ns, ps[0].String())
		}()
	}
	for range 8 {
		if got := <-done; got != "[1] [readme] doc:*" {
			t.Errorf("Members(docs) = %s", got)
		}
	}
	if c := g.Cycles(); fmt.Sprint(c) != "[[0 1]]" {
		t.Errorf("Cycles() = %v", c)
	}
}
