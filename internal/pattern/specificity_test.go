package pattern_test

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/pattern"
)

func sign(n int) int { return cmp.Compare(n, 0) }

// TestCompareOrder lists pairs (more, less) where more is strictly more
// specific than less (SPEC 2.4).
func TestCompareOrder(t *testing.T) {
	t.Parallel()
	pairs := []struct{ more, less string }{
		// literal > alternatives > glob (more literal characters first) >
		// middle '*' > last '*'
		{"a:b", "a:b,c"},
		{"a:b,c", "a:bc*"},
		{"a:b,c", "a:*b*c*d"},
		{"a:set*", "a:s*"},
		{"a:a*b", "a:a*"},
		{"a:ab*", "a:é*"},   // characters, not bytes: é is two bytes
		{"a:abc*", "a:日本*"}, // 3 characters beat 2 (of 6 bytes)
		{"a:get*,list*", "a:ge*"},
		{"a:s*", "a:*:c"},
		{"a:**", "a:*:c"},
		{"a:*:c", "a:*"},
		{"a", "a,b"},
		{"a,b", "a*"},
		{"a*", "*:a"},
		{"*:a", "*:*"},
		// The leftmost difference decides.
		{"a:*", "*:b"},
		{"a:b,c:*", "a:b*:c"},
		{"a:*:*", "a:*"},
		// Longer beats shorter when the prefix ties.
		{"a:b:c", "a:b"},
		{"a:b:*", "a:b"},
		{"a,b:*:c:d", "a,b:*:c"},
		// Duplicated alternatives are one literal.
		{"a,a", "a,b"},
		// The match-all is least specific.
		{"a", "*"},
		{"a*", "*"},
		{"*:*", "*"},
		{"a:*", "*"},
		{"**", "*"},
	}
	for _, tc := range pairs {
		t.Run(tc.more+">"+tc.less, func(t *testing.T) {
			t.Parallel()
			a, b := pattern.MustParse(tc.more), pattern.MustParse(tc.less)
			if c := pattern.Compare(a, b); c <= 0 {
				t.Errorf("Compare(%q, %q) = %d, want > 0", tc.more, tc.less, c)
			}
			if c := pattern.Compare(b, a); c >= 0 {
				t.Errorf("Compare(%q, %q) = %d, want < 0", tc.less, tc.more, c)
			}
		})
	}
}

func TestCompareEqual(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{"*", "*"},
		{"a", "b"},
		{"a:b", "x:y"},
		{"a,b", "c,d,e"},
		{"x*", "y*"},
		{"a*b", "*ab"},
		{"é*", "a*"},
		{"a:*:c", "b:*:d"},
		{"a:*", "b:*"},
	}
	for _, tc := range pairs {
		t.Run(tc[0]+"="+tc[1], func(t *testing.T) {
			t.Parallel()
			a, b := pattern.MustParse(tc[0]), pattern.MustParse(tc[1])
			if c := pattern.Compare(a, b); c != 0 {
				t.Errorf("Compare(%q, %q) = %d, want 0", tc[0], tc[1], c)
			}
		})
	}
}

// TestCompareChain sorts the SPEC 2.4 ladder and expects it back in order.
func TestCompareChain(t *testing.T) {
	t.Parallel()
	want := []string{"*", "x:*", "x:*:y", "x:*b", "x:a*b", "x:a,b", "x:a", "x:a:b"}
	pats := make([]pattern.Pattern, len(want))
	for i, s := range want {
		pats[len(want)-1-i] = pattern.MustParse(s)
	}
	slices.SortStableFunc(pats, pattern.Compare)
	var got []string
	for _, p := range pats {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("sorted by Compare: %q, want %q", got, want)
	}
}

func anyPatternGen() *rapid.Generator[string] {
	return rapid.OneOf(patternGen(), patternGen(), wideAltsGen())
}

func TestCompareProperties(t *testing.T) {
	t.Parallel()
	t.Run("reflexive and antisymmetric", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			a := pattern.MustParse(anyPatternGen().Draw(t, "a"))
			b := pattern.MustParse(anyPatternGen().Draw(t, "b"))
			if c := pattern.Compare(a, a); c != 0 {
				t.Fatalf("Compare(%q, itself) = %d", a, c)
			}
			if ab, ba := pattern.Compare(a, b), pattern.Compare(b, a); sign(ab) != -sign(ba) {
				t.Fatalf("Compare(%q, %q) = %d but Compare(b, a) = %d", a, b, ab, ba)
			}
		})
	})
	t.Run("transitive", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			var p [3]pattern.Pattern
			for i := range p {
				p[i] = pattern.MustParse(anyPatternGen().Draw(t, "p"))
			}
			// Order the three so that a >= b >= c, then a >= c must hold,
			// with equality only if both steps are equal.
			slices.SortFunc(p[:], func(x, y pattern.Pattern) int { return pattern.Compare(y, x) })
			ab, bc, ac := pattern.Compare(p[0], p[1]), pattern.Compare(p[1], p[2]), pattern.Compare(p[0], p[2])
			if ab < 0 || bc < 0 {
				t.Fatalf("sort left %q, %q, %q out of order: %d, %d", p[0], p[1], p[2], ab, bc)
			}
			if ac < 0 || (ac == 0) != (ab == 0 && bc == 0) {
				t.Fatalf("not transitive: %q vs %q = %d, %q vs %q = %d, %q vs %q = %d",
					p[0], p[1], ab, p[1], p[2], bc, p[0], p[2], ac)
			}
		})
	})
	t.Run("match-all is least", func(t *testing.T) {
		t.Parallel()
		all := pattern.MustParse("*")
		rapid.Check(t, func(t *rapid.T) {
			p := pattern.MustParse(anyPatternGen().Draw(t, "p"))
			if p.IsAll() {
				return
			}
			if c := pattern.Compare(p, all); c <= 0 {
				t.Fatalf("Compare(%q, \"*\") = %d, want > 0", p, c)
			}
		})
	})
	t.Run("sorted order is consistent", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			srcs := rapid.SliceOfN(anyPatternGen(), 2, 12).Draw(t, "patterns")
			pats := make([]pattern.Pattern, len(srcs))
			for i, s := range srcs {
				pats[i] = pattern.MustParse(s)
			}
			slices.SortFunc(pats, pattern.Compare)
			for i := range pats {
				for j := i + 1; j < len(pats); j++ {
					if c := pattern.Compare(pats[i], pats[j]); c > 0 {
						t.Fatalf("after sorting, %q (at %d) > %q (at %d): %d", pats[i], i, pats[j], j, c)
					}
				}
			}
		})
	})
}
