package lint

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// segValues are the segment values the brute-force references try; they
// include every literal the generated patterns use.
var segValues = []string{"a", "b", "ab", "ba", "aab", "x"}

// allNames lists every name of 1 to 4 segments over segValues.
func allNames() []string {
	var out []string
	level := []string{""}
	for range 4 {
		var next []string
		for _, prefix := range level {
			for _, s := range segValues {
				n := s
				if prefix != "" {
					n = prefix + ":" + s
				}
				next = append(next, n)
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

func randomPattern(rng *rand.Rand) string {
	if rng.IntN(12) == 0 {
		return "*"
	}
	segChoices := []string{"a", "b", "ab", "*", "a*", "*b", "a*b", "a,b", "ab,ba", "a*,x", "*a*", "aab,a"}
	n := 1 + rng.IntN(3)
	segs := make([]string, n)
	for i := range segs {
		segs[i] = segChoices[rng.IntN(len(segChoices))]
	}
	return strings.Join(segs, ":")
}

// TestCoversAgainstBruteForce: whenever covers says b covers a, every name
// a matches, b matches too; coverage may be missed, never invented, so lint
// never calls a rule shadowed that is not. It also checks that the
// analysis proves the easy cases, so it is not vacuous.
func TestCoversAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 9))
	names := allNames()
	var pats []*lpat
	seen := map[string]bool{}
	for len(pats) < 250 {
		text := randomPattern(rng)
		if seen[text] {
			continue
		}
		seen[text] = true
		p := newPat(text)
		if p == nil {
			t.Fatalf("generated pattern %q does not parse", text)
		}
		pats = append(pats, p)
	}
	proved, true_ := 0, 0
	for _, b := range pats {
		for _, a := range pats {
			claims := covers(b, a)
			really := true
			for _, n := range names {
				if a.p.Match(n) && !b.p.Match(n) {
					really = false
					break
				}
			}
			if claims && !really {
				t.Errorf("covers(%q, %q) is true, but a name matches only the second", b.p, a.p)
			}
			if really {
				true_++
				if claims {
					proved++
				}
			}
		}
	}
	// Over a finite alphabet, brute force sees coverage that holds only
	// for these values; most true coverage must still be proved.
	if proved*10 < true_*6 {
		t.Errorf("covers proved %d of %d coverages seen by brute force", proved, true_)
	}
}

// TestIntersectsAgainstBruteForce: when intersects says a pattern matches
// no name of a schema, no name of that shape built from segValues matches
// it, so no-schema is never reported for a pattern that fits.
func TestIntersectsAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 3))
	schemas := [][]string{{"a", "{id}"}, {"a", "b", "{id}"}, {"{t}", "ab"}, {"x"}, {"{a}", "{b}", "{c}", "{d}"}, {"ba", "{g}", "x"}}
	names := allNames()
	for range 400 {
		p := newPat(randomPattern(rng))
		for _, s := range schemas {
			if intersects(p, s) {
				continue
			}
			for _, n := range names {
				segs := strings.Split(n, ":")
				if len(segs) != len(s) {
					continue
				}
				fits := true
				for i, seg := range s {
					if !isPlaceholder(seg) && seg != segs[i] {
						fits = false
					}
				}
				if fits && p.p.Match(n) {
					t.Errorf("intersects(%q, %q) is false, but %q fits and matches", p.p, strings.Join(s, ":"), n)
				}
			}
		}
	}
}

func TestGlobCovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		b, a string
		want bool
	}{
		{"set*", "set*", true},
		{"se*", "setName*", true},
		{"*", "a*b", true},
		{"*Name", "set*Name", true},
		{"s*e", "s*x*e", true},
		{"set*", "se*", false},
		{"*Name", "*Nam", false},
		{"a*b*c", "a*b*c*", false}, // not provable with one star; never claimed
		{"ab*ba", "ab*", false},
	}
	for _, tt := range tests {
		if got := globCovers(tt.b, tt.a); got != tt.want {
			t.Errorf("globCovers(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestOSA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"admin", "admin", 0}, {"admni", "admin", 1}, {"admn", "admin", 1}, {"admiin", "admin", 1},
		{"adm1n", "admin", 1}, {"", "abc", 3}, {"abc", "", 3}, {"ca", "abc", 3}, {"publish", "update", 6},
	}
	for _, tt := range tests {
		if got := osa(tt.a, tt.b); got != tt.want {
			t.Errorf("osa(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	var members []engine.Member
	for _, n := range []string{"editor", "user2", "alice@example.com", "ops"} {
		members = append(members, engine.Member{Name: n})
	}
	p, errs := engine.Compile(&engine.Source{Groups: []engine.Group{{Name: "admin", Members: members}}})
	if errs != nil {
		t.Fatal(errs)
	}
	k := &kind{graph: p.Graph(engine.Subjects)}
	tests := []struct{ name, want string }{
		{"admni", "admin"},
		{"Admin", "admin"},
		{"edtor", "editor"},
		{"editors", "editor"},
		{"user1", ""},  // numbered, not misspelt
		{"user12", ""}, // likewise
		{"alice@exmaple.com", "alice@example.com"},
		{"opx", ""}, // "ops" is one away, but short names collide by chance
		{"xyzzy", ""},
		{strings.Repeat("a", 65), ""},
		{"", ""},
		{"ädmin", ""}, // two bytes away
	}
	for _, tt := range tests {
		if got := k.suggest(tt.name); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSpanHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want string // hint, or "" for no finding
	}{
		{"articles:read,articles:publish", `write "articles:read,publish": alternatives sit inside one segment`},
		{"articles:read,write,articles:publish", `write "articles:read,write,publish": alternatives sit inside one segment`},
		{"articles:animals:*,articles:plants:*", `write "articles:animals,plants:*": alternatives sit inside one segment`},
		{"a:b:c,a:d:e", `write one rule item for each of "a:b:c", "a:d:e"`},
		{"a:b,a:c:d", `write one rule item for each of "a:b", "a:c:d"`},
		{"users:a,b:c", ""},
		{"articles:publish,delete", ""},
		{"read,write", ""},
		{"a,a:b", ""},
		{"x:y", ""},
	}
	for _, tt := range tests {
		l := &linter{}
		l.span(tt.text, diag.Pos{Line: 1, Col: 1})
		got := ""
		if len(l.out) == 1 {
			got = l.out[0].Hint
		}
		if len(l.out) > 1 || got != tt.want {
			t.Errorf("span(%q): %v, want hint %q", tt.text, l.out, tt.want)
		}
	}
}

func TestCollapses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		x, y string
		want string // the example pattern, or "" when they do not collapse
	}{
		{"users:group:{id}", "users:group:{group}:{id}", "users:group:*"},
		{"users:{group}:{id}", "users:{group}:{sub-group}:{id}", "users:group:*"},
		{"users:{id}", "users:by_group:{group}:{id}", "users:*"},
		{"users:by_id:{id}", "users:by_group:{group}:{id}", ""},
		{"users:{id}", "users:{x}", ""},
		{"{id}", "users:{id}", ""},
		{"{t}:{id}", "{t}:{g}:{id}", ""},
		{"{t}:users:{id}", "acme:users:{g}:{id}", "acme:users:*"},
	}
	for _, tt := range tests {
		got, ok := collapses(strings.Split(tt.x, ":"), strings.Split(tt.y, ":"))
		got2, ok2 := collapses(strings.Split(tt.y, ":"), strings.Split(tt.x, ":"))
		if got != tt.want || ok != (tt.want != "") || ok2 != ok {
			t.Errorf("collapses(%q, %q) = %q, %v (reversed %q, %v); want %q", tt.x, tt.y, got, ok, got2, ok2, tt.want)
		}
	}
}
