package pattern_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/pattern"
)

// wantSlots is the brute-force answer: every slot whose pattern matches.
func wantSlots(pats []pattern.Pattern, name string) []int32 {
	var want []int32
	for i, p := range pats {
		if p.Match(name) {
			want = append(want, int32(i))
		}
	}
	return want
}

// checkAppend compares ix.Append with the brute force, reporting misses,
// extras and duplicates.
func checkAppend(t interface{ Fatalf(string, ...any) }, ix *pattern.Index, pats []pattern.Pattern, name string) {
	prefix := []int32{-7, -8} // Append must keep what dst holds
	got := ix.Append(slices.Clone(prefix), name)
	if !slices.Equal(got[:len(prefix)], prefix) {
		t.Fatalf("Append(%q) overwrote dst: %v", name, got)
	}
	got = got[len(prefix):]
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if len(slices.Compact(slices.Clone(sorted))) != len(sorted) {
		t.Fatalf("Append(%q) = %v, has duplicates", name, got)
	}
	want := wantSlots(pats, name)
	if diff := cmp.Diff(want, sorted, cmpopts.EquateEmpty()); diff != "" {
		var srcs []string
		for _, p := range pats {
			srcs = append(srcs, p.String())
		}
		t.Fatalf("Append(%q) slots (-want +got):\n%s\npatterns by slot: %q", name, diff, srcs)
	}
}

func TestIndexAddSlots(t *testing.T) {
	t.Parallel()
	var ix pattern.Index
	if ix.Len() != 0 || len(ix.Append(nil, "a")) != 0 || len(ix.Append(nil, "")) != 0 {
		t.Fatalf("zero Index is not empty")
	}
	srcs := []string{"a", "b:*", "*", "a", "read,write", "b:*", "*", "write,read", "a,a"}
	want := []int32{0, 1, 2, 0, 3, 1, 2, 4, 5}
	var got []int32
	for _, s := range srcs {
		got = append(got, ix.Add(pattern.MustParse(s)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Add slots (-want +got):\n%s", diff)
	}
	if ix.Len() != 6 {
		t.Errorf("Len() = %d, want 6", ix.Len())
	}
}

func TestIndexTable(t *testing.T) {
	t.Parallel()
	srcs := []string{
		"*", "a", "a:b", "a:*", "a:*:c", "*:b", "a,b", "a,b:c", "a*", "*b",
		"a,a", "x:a,a:*", "get*,list*", "a:b,c:d,e:f,g:h,i", "a:b*:*", "**",
		"a:b:c:d:e", "a,b,ab:a,b,ab:a,b,ab:a,b,ab:a,b,ab",
	}
	pats := make([]pattern.Pattern, len(srcs))
	var ix pattern.Index
	for i, s := range srcs {
		pats[i] = pattern.MustParse(s)
		if slot := ix.Add(pats[i]); slot != int32(i) {
			t.Fatalf("Add(%q) = %d, want %d", s, slot, i)
		}
	}
	names := []string{
		"", "a", "b", "ab", "x", "a:b", "a:c", "b:b", "a:b:c", "a:x:c", "a:b:c:d",
		"x:a:b", "getX", "list", "a:c:e:g:i", "a:b:d:f:h", "a:bb:c", "a:b:c:d:e",
		"ab:b:a:ab:b", "a:a:a:a:a", "a:a:a:a", "a:a:a:a:a:a",
	}
	for _, name := range names {
		t.Run(label(name), func(t *testing.T) {
			t.Parallel()
			checkAppend(t, &ix, pats, name)
		})
	}
}

// TestIndexProperty checks Append against brute-force Match on random
// pattern sets, including wide alternatives past the expansion limit.
func TestIndexProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		srcs := rapid.SliceOfN(rapid.OneOf(patternGen(), patternGen(), patternGen(), wideAltsGen()), 0, 40).Draw(t, "patterns")
		var ix pattern.Index
		var pats []pattern.Pattern
		for _, s := range srcs {
			p := pattern.MustParse(s)
			slot := ix.Add(p)
			switch {
			case int(slot) == len(pats):
				pats = append(pats, p)
			case int(slot) > len(pats) || pats[slot].String() != s:
				t.Fatalf("Add(%q) = %d, but slot %d is not that pattern", s, slot, slot)
			}
		}
		if ix.Len() != len(pats) {
			t.Fatalf("Len() = %d, want %d distinct patterns", ix.Len(), len(pats))
		}
		names := rapid.SliceOfN(nameGen(), 1, 20).Draw(t, "names")
		for _, src := range srcs {
			names = append(names, nameNear(t, src))
		}
		names = append(names, "")
		for _, name := range names {
			checkAppend(t, &ix, pats, name)
		}
	})
}

// TestIndexWideAlternatives pins the case past the literal-expansion
// limit: 3^5 = 243 literal names from one pattern.
func TestIndexWideAlternatives(t *testing.T) {
	t.Parallel()
	srcs := []string{
		"a,b,ab:a,b,ab:a,b,ab:a,b,ab:a,b,ab",
		"a,b,ab:a,b,ab:a,b,ab:a,b,ab:*",
		"a,b,ab:a*,b,ab:a,b,ab:a,b,ab:a,b",
		"a,b,ab:a,b,ab:a,b,ab", // 27 names
		"a,b:a,b:a,b:a,b",      // exactly 16
		"a,b:a,b:a,b:a,b:a*",
		"a,b,a:a,b,a:a,b,a:a,b,a:a,b", // 16 distinct after deduplication
	}
	var ix pattern.Index
	var pats []pattern.Pattern
	for _, s := range srcs {
		p := pattern.MustParse(s)
		ix.Add(p)
		pats = append(pats, p)
	}
	alphabet := []string{"a", "b", "ab", "c"}
	var names []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		if depth > 0 {
			names = append(names, prefix)
		}
		if depth == 6 {
			return
		}
		for _, s := range alphabet {
			if depth == 0 {
				gen(s, 1)
			} else {
				gen(prefix+":"+s, depth+1)
			}
		}
	}
	gen("", 0)
	names = append(names, "")
	var matched int
	for _, name := range names {
		checkAppend(t, &ix, pats, name)
		matched += len(wantSlots(pats, name))
	}
	if matched < 243 {
		t.Errorf("only %d matches over %d names; the test is too weak", matched, len(names))
	}
}

// bigIndex builds n patterns spread over spaces ':' namespaces, in the mix
// a policy of rules would have.
func bigIndex(tb testing.TB, n, spaces int) *pattern.Index {
	tb.Helper()
	var ix pattern.Index
	for i := range n {
		ns := fmt.Sprintf("ns%d", i%spaces)
		var src string
		switch (i / spaces) % 10 { // every namespace gets every kind
		case 0:
			src = fmt.Sprintf("%s:sub%d:*", ns, i)
		case 1:
			src = fmt.Sprintf("%s:items:item%d*", ns, i)
		case 2:
			src = fmt.Sprintf("%s:*:doc%d", ns, i)
		case 3:
			src = fmt.Sprintf("%s:read%d,write%d", ns, i, i)
		default:
			src = fmt.Sprintf("%s:items:item%d", ns, i)
		}
		ix.Add(pattern.MustParse(src))
	}
	if ix.Len() != n {
		tb.Fatalf("Len() = %d, want %d", ix.Len(), n)
	}
	return &ix
}

func TestIndexZeroPattern(t *testing.T) {
	t.Parallel()
	var ix pattern.Index
	zero := ix.Add(pattern.Pattern{})
	if again := ix.Add(pattern.Pattern{}); again != zero {
		t.Errorf("Add(Pattern{}) twice gave slots %d and %d", zero, again)
	}
	a := ix.Add(pattern.MustParse("a"))
	for _, name := range []string{"", "a", "b", "a:b"} {
		got := ix.Append(nil, name)
		if slices.Contains(got, zero) {
			t.Errorf("Append(%q) = %v reports the zero Pattern (slot %d), which matches nothing", name, got, zero)
		}
		if want := name == "a"; slices.Contains(got, a) != want {
			t.Errorf("Append(%q) = %v, want slot %d: %v", name, got, a, want)
		}
	}
}

// TestIndexConcurrentAppend runs Appends from many goroutines on a built
// index; with -race it proves Append only reads.
func TestIndexConcurrentAppend(t *testing.T) {
	t.Parallel()
	ix := bigIndex(t, 2_000, 20)
	names := []string{"ns7:items:item87", "ns3:items:item23x", "ns1:sub1:x", "ns2:q:doc42", "ns3:write63", "ns9:none"}
	want := make([][]int32, len(names))
	for i, n := range names {
		want[i] = ix.Append(nil, n)
		if (len(want[i]) == 0) != (n == "ns9:none") {
			t.Fatalf("Append(%q) = %v; the test's names are out of step with bigIndex", n, want[i])
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var buf []int32
			for i := range 200 {
				k := (g + i) % len(names)
				buf = ix.Append(buf[:0], names[k])
				if !slices.Equal(buf, want[k]) {
					t.Errorf("concurrent Append(%q) = %v, want %v", names[k], buf, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}
