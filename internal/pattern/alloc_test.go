package pattern_test

import (
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
)

// The allocation tests are the only ones that do not call t.Parallel:
// testing.AllocsPerRun reads process-wide counters and panics when called
// from a parallel test. Top-level sequential tests run before any paused
// parallel test resumes, so the counts are not polluted by other tests.

func TestMatchDoesNotAllocate(t *testing.T) {
	cases := []struct{ src, name string }{
		{"*", "a:b"},
		{"*", ""},
		{"articles:animals:42", "articles:animals:42"},
		{"articles:set*", "articles:setKeywords"},
		{"a*b*c", "aXbYcZc"},
		{"users:*", "users:by_group:g1:42"},
		{"test:*:name", "test:set:name"},
		{"articles:read,write", "articles:write"},
		{"get*,list*:x", "listAll:x"},
		{"a,a:*", "a:b"},
		{"users:*", "users"},
		{"a:b", ""},
	}
	for _, tc := range cases {
		t.Run(tc.src+"~"+tc.name, func(t *testing.T) {
			p := pattern.MustParse(tc.src)
			if n := testing.AllocsPerRun(100, func() { p.Match(tc.name) }); n != 0 {
				t.Errorf("Parse(%q).Match(%q) allocates %v times", tc.src, tc.name, n)
			}
		})
	}
}

func TestCheckNameDoesNotAllocate(t *testing.T) {
	for _, name := range validNames {
		t.Run(label(name), func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { _ = pattern.CheckName(name) }); n != 0 {
				t.Errorf("CheckName(%q) allocates %v times", name, n)
			}
		})
	}
}

func TestCompareDoesNotAllocate(t *testing.T) {
	a, b := pattern.MustParse("a:b*:*"), pattern.MustParse("a:bc*:d")
	if n := testing.AllocsPerRun(100, func() { pattern.Compare(a, b) }); n != 0 {
		t.Errorf("Compare allocates %v times", n)
	}
}

func TestIndexAppendDoesNotAllocate(t *testing.T) {
	ix := bigIndex(t, 10_000, 100)
	ix.Add(pattern.MustParse("*"))
	ix.Add(pattern.MustParse("a,b,ab:a,b,ab:a,b,ab:a,b,ab:a,b,ab"))
	names := []string{
		"", "ns7:items:item407", "ns3:items:item103x", "ns1:sub1:x:y", "ns2:z:doc202",
		"ns3:write303", "nope", "a:b:ab:a:b", strings.Repeat("x:", 63) + "x",
	}
	for _, name := range names {
		t.Run(label(name), func(t *testing.T) {
			buf := make([]int32, 0, 1024)
			var got int
			n := testing.AllocsPerRun(100, func() { got = len(ix.Append(buf[:0], name)) })
			if n != 0 {
				t.Errorf("Append(%q) allocates %v times (%d slots)", name, n, got)
			}
			if name != "nope" && got < 1 {
				t.Errorf("Append(%q) found nothing; the check is weak", name)
			}
		})
	}
}

func benchMatch(b *testing.B, src, name string) {
	p := pattern.MustParse(src)
	if !p.Match(name) {
		b.Fatalf("%q does not match %q", src, name)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(name)
	}
}

func BenchmarkMatchLiteral(b *testing.B) {
	benchMatch(b, "articles:animals:42", "articles:animals:42")
}

func BenchmarkMatchGlob(b *testing.B) {
	benchMatch(b, "article:meta:set*", "article:meta:setKeywords")
}

func BenchmarkMatchGlobBacktrack(b *testing.B) {
	benchMatch(b, "a*b*c*d", strings.Repeat("ab", 100)+"cd")
}

func BenchmarkMatchTrailingStar(b *testing.B) {
	benchMatch(b, "users:*", "users:by_group:g1:42")
}

func BenchmarkMatchMiddleStar(b *testing.B) {
	benchMatch(b, "test:*:name", "test:set:name")
}

func BenchmarkMatchAlternatives(b *testing.B) {
	benchMatch(b, "articles:read,write,delete", "articles:delete")
}

func BenchmarkCheckName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = pattern.CheckName("users:by_group:g1:alice@example.com")
	}
}

func benchIndex(b *testing.B, name string) {
	ix := bigIndex(b, 100_000, 1_000)
	buf := make([]int32, 0, 64)
	if len(ix.Append(buf[:0], name)) == 0 && name != "ns9:none" {
		b.Fatalf("%q matches nothing", name)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = ix.Append(buf[:0], name)
	}
}

// With 100,000 patterns over 1,000 namespaces, pattern i lives in
// namespace i%1000 and has kind (i/1000)%10 (see bigIndex).

func BenchmarkIndexAppendLiteral(b *testing.B) { benchIndex(b, "ns7:items:item95007") }

func BenchmarkIndexAppendGlob(b *testing.B) { benchIndex(b, "ns7:items:item91007x") }

func BenchmarkIndexAppendTrailingStar(b *testing.B) { benchIndex(b, "ns7:sub90007:x:y") }

func BenchmarkIndexAppendMiddleStar(b *testing.B) { benchIndex(b, "ns7:any:doc92007") }

func BenchmarkIndexAppendMiss(b *testing.B) { benchIndex(b, "ns9:none") }

func BenchmarkIndexBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		bigIndex(b, 100_000, 1_000)
	}
}
