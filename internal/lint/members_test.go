package lint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// TestMemberTyposBruteForce holds memberTypos, with its index and its
// two-byte filter, to a direct comparison of every member with every
// group name, over random policies whose names are close to each other.
func TestMemberTyposBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []byte("abAB1é")
	word := func() string {
		n := 3 + rng.IntN(4)
		b := make([]byte, 0, n)
		for len(b) < n {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		return strings.ToValidUTF8(string(b), "x")
	}
	mutate := func(s string) string {
		i := rng.IntN(len(s))
		switch rng.IntN(4) {
		case 0:
			return s[:i] + s[i+1:]
		case 1:
			return s[:i] + string(alphabet[rng.IntN(2)]) + s[i:]
		case 2:
			return s[:i] + string(alphabet[rng.IntN(4)]) + s[i+1:]
		}
		if i+1 < len(s) {
			return s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
		}
		return strings.ToUpper(s)
	}
	for round := range 2000 {
		src := &engine.Source{}
		var names []string
		for range 2 + rng.IntN(5) {
			names = append(names, word())
		}
		for gi, name := range names {
			g := engine.Group{Name: name, Section: "groups", Role: gi%2 == 1}
			for range rng.IntN(4) {
				m := names[rng.IntN(len(names))]
				if rng.IntN(3) > 0 {
					m = mutate(m)
				}
				if m == "" {
					continue
				}
				g.Members = append(g.Members, engine.Member{Name: m})
			}
			src.Groups = append(src.Groups, g)
		}
		// Lint reads a compiled policy's graph: keep each name's first
		// declaration and drop roles listed in groups, as the compiler
		// requires, so every round compiles.
		src.Groups = compilable(src.Groups)
		p, errs := engine.Compile(src)
		if errs != nil {
			t.Fatalf("round %d: %v", round, errs)
		}
		l := &linter{src: src}
		l.kinds[engine.Subjects] = &kind{groups: src.Groups, graph: p.Graph(engine.Subjects)}
		l.memberTypos()
		var got []string
		for _, f := range l.out {
			got = append(got, f.Message)
		}
		want := bruteMemberTypos(src)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d, groups %+v:\ngot  %q\nwant %q", round, src.Groups, got, want)
		}
	}
}

// compilable keeps each group name's first declaration and drops the
// roles that groups list and the members that are not valid names.
func compilable(groups []engine.Group) []engine.Group {
	seen := map[string]bool{}
	roles := map[string]bool{}
	var out []engine.Group
	for _, g := range groups {
		if !seen[g.Name] {
			seen[g.Name] = true
			roles[g.Name] = g.Role
			out = append(out, g)
		}
	}
	for i := range out {
		out[i].Members = slices.DeleteFunc(slices.Clone(out[i].Members), func(m engine.Member) bool {
			return !out[i].Role && roles[m.Name] || pattern.CheckName(m.Name) != nil
		})
	}
	return out
}

// bruteMemberTypos states memberTypos's rule directly: each member of a
// group's first declaration that is not a group, at least four bytes
// long, against every group name.
func bruteMemberTypos(src *engine.Source) []string {
	first := map[string]int{}
	for i, g := range src.Groups {
		if _, ok := first[g.Name]; !ok {
			first[g.Name] = i
		}
	}
	var out []string
	for i, g := range src.Groups {
		if first[g.Name] != i {
			continue
		}
		for _, m := range g.Members {
			if _, isGroup := first[m.Name]; isGroup || len(m.Name) < 4 || len(m.Name) > maxTypoLen {
				continue
			}
			best := ""
			for _, c := range src.Groups {
				if c.Name == g.Name || osa(strings.ToLower(m.Name), strings.ToLower(c.Name)) != 1 && strings.ToLower(m.Name) != strings.ToLower(c.Name) ||
					digitEdit(m.Name, c.Name) || listsMember(src.Groups[first[c.Name]], m.Name) || len(strings.ToLower(c.Name)) > maxTypoLen+1 {
					continue
				}
				if best == "" || c.Name < best {
					best = c.Name
				}
			}
			if best == "" {
				continue
			}
			what := "group"
			if src.Groups[first[best]].Role {
				what = "role"
			}
			out = append(out, fmt.Sprintf("member %q of %s %q is not a group or role, so it adds one user of that name; %s %q is one letter away", m.Name, g.Section, g.Name, what, best))
		}
	}
	return out
}
