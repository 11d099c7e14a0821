package pattern_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/pattern"
)

type matchCase struct {
	pattern string
	match   []string
	noMatch []string
}

// matchCases go beyond the conformance file (SPEC 2.1–2.2).
var matchCases = []matchCase{
	{"*", []string{"", "a", "a:b", "a:b:c:d", "日本", segments(64)}, nil},
	{"a", []string{"a"}, []string{"", "b", "aa", "a:b", "b:a", "A"}},
	{"a:b", []string{"a:b"}, []string{"", "a", "a:b:c", "a:bb", "b:a"}},
	{"set*", []string{"set", "setName", "set*x", "settings"}, []string{"", "se", "Set", "aset", "set:x", "x:set"}},
	{"*Name", []string{"Name", "getName", "NameName"}, []string{"", "name", "Names", "get:Name"}},
	{"a*b*c", []string{"abc", "aXbYc", "abbc", "abcbc", "a-b-c", "aaabbbccc"}, []string{"", "ab", "bc", "ac", "abcd", "xabc", "a:b:c"}},
	{"*a*", []string{"a", "ba", "ab", "bab"}, []string{"", "b", "bb", "b:a"}},
	{"**", []string{"a", "anything"}, []string{"", "a:b"}},
	{"a**b", []string{"ab", "axb"}, []string{"a", "ba"}},
	{"é*", []string{"é", "éa", "éé"}, []string{"e", "aé"}},
	{"*é", []string{"é", "aé"}, []string{"éa", "e"}},
	// '*' in the middle is exactly one segment.
	{"a:*:c", []string{"a:b:c", "a:bb:c", "a:*x:c"}, []string{"", "a:c", "a:b:b:c", "a:b:c:d", "x:b:c"}},
	{"*:b", []string{"a:b", "x:b"}, []string{"b", "a:a:b", "a:b:c"}},
	{"*:*", []string{"a:b", "a:b:c"}, []string{"", "a"}},
	{"*:*:*", []string{"a:b:c", "a:b:c:d"}, []string{"a", "a:b"}},
	// '*' last is one or more segments.
	{"users:*", []string{"users:a", "users:g:sg:1"}, []string{"", "users", "user:a", "usersx:a", "x:users:a"}},
	{"a:*:c:*", []string{"a:b:c:d", "a:b:c:d:e"}, []string{"a:b:c", "a:b:d:e"}},
	// Alternatives match one segment matching any of them.
	{"read,write", []string{"read", "write"}, []string{"", "readwrite", "read,write", "read:write", "execute"}},
	{"a:read,write:b", []string{"a:read:b", "a:write:b"}, []string{"a:read", "a:read:write:b"}},
	{"get*,list*", []string{"get", "getX", "list", "listAll"}, []string{"", "gelist", "xget", "delete", "get:x"}},
	{"a,b*,*c", []string{"a", "b", "bx", "c", "xc"}, []string{"", "x", "ab", "cx"}},
	{"read,*", []string{"read", "x", "y"}, []string{"", "a:b"}},
	// Duplicates in alternatives change nothing.
	{"a,a", []string{"a"}, []string{"", "a,a", "b"}},
	{"x:a,a", []string{"x:a"}, []string{"x:a,a", "x"}},
	{"x:a,a:*", []string{"x:a:b", "x:a:b:c"}, []string{"x:a", "x:a,a:b"}},
	{"a,b,a", []string{"a", "b"}, []string{"c"}},
	{"a*,a*", []string{"a", "ab"}, []string{"b"}},
	{"*,*", []string{"a"}, []string{"", "a:b"}},
	// A literal with unusual characters is still literal.
	{"alice@example.com", []string{"alice@example.com"}, []string{"alice@example,com", "alice"}},
	{"/api/v1:GET", []string{"/api/v1:GET"}, []string{"/api/v1"}},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases {
		t.Run(tc.pattern, func(t *testing.T) {
			t.Parallel()
			p, err := pattern.Parse(tc.pattern)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.pattern, err)
			}
			if p.String() != tc.pattern {
				t.Errorf("Parse(%q).String() = %q", tc.pattern, p.String())
			}
			for _, name := range tc.match {
				if !p.Match(name) {
					t.Errorf("Parse(%q).Match(%q) = false, want true", tc.pattern, name)
				}
				if !refMatch(tc.pattern, name) {
					t.Errorf("reference: %q should match %q", tc.pattern, name)
				}
			}
			for _, name := range tc.noMatch {
				if p.Match(name) {
					t.Errorf("Parse(%q).Match(%q) = true, want false", tc.pattern, name)
				}
				if pattern.CheckName(name) == nil && refMatch(tc.pattern, name) {
					t.Errorf("reference: %q should not match %q", tc.pattern, name)
				}
			}
		})
	}
}

func TestEmptyNameMatchesOnlyMatchAll(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := patternGen().Draw(t, "pattern")
		p := pattern.MustParse(src)
		if got, want := p.Match(""), src == "*"; got != want {
			t.Fatalf("Parse(%q).Match(\"\") = %v, want %v", src, got, want)
		}
	})
}

func TestZeroPatternMatchesNothing(t *testing.T) {
	t.Parallel()
	var p pattern.Pattern
	for _, name := range []string{"", "a", "a:b", "*"} {
		if p.Match(name) {
			t.Errorf("Pattern{}.Match(%q) = true, want false", name)
		}
	}
	if p.IsAll() || p.IsLiteral() {
		t.Errorf("Pattern{}: IsAll=%v IsLiteral=%v, want false, false", p.IsAll(), p.IsLiteral())
	}
}

func TestPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src          string
		all, literal bool
	}{
		{"*", true, false},
		{"a", false, true},
		{"a:b:c", false, true},
		{"alice@example.com", false, true},
		{"a*", false, false},
		{"a:*", false, false},
		{"*:a", false, false},
		{"a,b", false, false},
		// Duplicated alternatives match one name, so the pattern is a
		// literal (ranked and matched as "a"), though not its own text.
		{"a,a", false, true},
		{"**", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			p := pattern.MustParse(tc.src)
			got := [2]bool{p.IsAll(), p.IsLiteral()}
			if diff := cmp.Diff([2]bool{tc.all, tc.literal}, got); diff != "" {
				t.Errorf("Parse(%q) [IsAll IsLiteral] (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

type badPattern struct {
	desc, src string
	msg       []string
}

var invalidPatterns = []badPattern{
	{"empty", "", []string{"empty"}},
	{"empty middle segment", "a::b", []string{"empty segment", "byte 2"}},
	{"leading colon", ":a", []string{"empty segment", "byte 0"}},
	{"trailing colon", "a:", []string{"empty segment", "byte 2"}},
	{"only colon", ":", []string{"empty segment"}},
	{"star then colon", "*:", []string{"empty segment"}},
	{"decomposed accent (NFD)", "files:cafe\u0301*", []string{"normalization form C"}},
	{"trailing comma", "a,", []string{"empty alternative", "byte 2"}},
	{"leading comma", ",a", []string{"empty alternative", "byte 0"}},
	{"double comma", "a,,b", []string{"empty alternative", "byte 2"}},
	{"lone comma", ",", []string{"empty alternative"}},
	{"empty alternative before colon", "a,:b", []string{"empty alternative"}},
	{"empty alternative in later segment", "x:a,b,", []string{"empty alternative"}},
	{"space", "a b", []string{"space", "byte 1"}},
	{"space after comma", "read, write", []string{"space"}},
	{"tab", "a\tb", []string{"U+0009"}},
	{"newline", "a:\n", []string{"U+000A"}},
	{"no-break space", "a\u00a0", []string{"U+00A0"}},
	{"line separator", "a\u2028", []string{"U+2028"}},
	{"zero width space", "a:\u200b", []string{"U+200B"}},
	{"NUL", "a\x00", []string{"U+0000"}},
	{"DEL", "a\x7f", []string{"U+007F"}},
	{"open brace", "{a}", []string{"'{'"}},
	{"close brace", "a:b}", []string{"'}'"}},
	{"placeholder", "articles:{id}", []string{"'{'"}},
	{"invalid UTF-8", "a:\xff", []string{"invalid UTF-8"}},
	{"1025 bytes", strings.Repeat("x", pattern.MaxBytes+1), []string{"1025 bytes", "1024"}},
	{"1025 bytes of stars", strings.Repeat("*", pattern.MaxBytes+1), []string{"1025 bytes"}},
	{"65 segments", segments(pattern.MaxSegments + 1), []string{"more than 64 segments"}},
	{"65 star segments", strings.TrimSuffix(strings.Repeat("*:", pattern.MaxSegments+1), ":"), []string{"more than 64 segments"}},
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidPatterns {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			p, err := pattern.Parse(tc.src)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, nil; want an error", tc.src, p)
			}
			if !errors.Is(err, pattern.ErrInvalidPattern) {
				t.Errorf("Parse(%q) = %v, does not wrap ErrInvalidPattern", tc.src, err)
			}
			msg := err.Error()
			// SPEC 2.3: the error names the pattern (shortened when long).
			if tc.src != "" {
				quoted := strconv.Quote(tc.src)
				if len(tc.src) > 80 {
					quoted = strconv.Quote(tc.src[:40])
					quoted = quoted[:len(quoted)-1]
				}
				if !strings.Contains(msg, quoted) {
					t.Errorf("Parse(%q) = %q, want the message to quote the pattern", tc.src, msg)
				}
			}
			for _, m := range tc.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("Parse(%q) = %q, want the message to contain %q", tc.src, msg, m)
				}
			}
			if len(msg) > 300 {
				t.Errorf("Parse error is %d bytes long, want it truncated: %q", len(msg), msg)
			}
			if p.Match("a") || p.Match("") || p.IsAll() {
				t.Errorf("Parse(%q) returned a non-zero pattern with its error", tc.src)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		strings.Repeat("x", pattern.MaxBytes),
		strings.Repeat("*", pattern.MaxBytes),
		segments(pattern.MaxSegments),
		strings.TrimSuffix(strings.Repeat("*:", pattern.MaxSegments), ":"),
	} {
		t.Run(label(src), func(t *testing.T) {
			t.Parallel()
			p, err := pattern.Parse(src)
			if err != nil {
				t.Fatalf("Parse(%d bytes): %v", len(src), err)
			}
			if p.String() != src {
				t.Errorf("String() does not round-trip")
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, pattern.ErrInvalidPattern) {
			t.Errorf("MustParse(\"a::b\") panicked with %v, want an ErrInvalidPattern", r)
		}
	}()
	pattern.MustParse("a::b")
}

// Every valid name is a valid pattern that matches itself and nothing else
// among related names.
func TestValidNamesAreLiteralPatterns(t *testing.T) {
	t.Parallel()
	for _, name := range validNames {
		t.Run(label(name), func(t *testing.T) {
			t.Parallel()
			p, err := pattern.Parse(name)
			if err != nil {
				t.Fatalf("Parse(%q): %v", name, err)
			}
			if !p.IsLiteral() || !p.Match(name) || p.Match(name+"x") || p.Match(name+":x") {
				t.Errorf("Parse(%q) is not a literal matching only itself", name)
			}
		})
	}
}

// TestMatchReference checks the compiled matcher against the regexp
// reference on generated names and patterns (SPEC 2.2).
func TestMatchReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := rapid.OneOf(patternGen(), wideAltsGen()).Draw(t, "pattern")
		var name string
		switch rapid.IntRange(0, 9).Draw(t, "how") {
		case 0:
			name = ""
		case 1, 2, 3:
			name = nameGen().Draw(t, "name")
		default:
			name = nameNear(t, src)
		}
		p, err := pattern.Parse(src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if got, want := p.Match(name), refMatch(src, name); got != want {
			t.Fatalf("Parse(%q).Match(%q) = %v, reference says %v", src, name, got, want)
		}
	})
}

// TestMatchReferenceCounts makes sure the generators give both outcomes
// often, so the reference comparison above is not vacuous.
func TestMatchReferenceCounts(t *testing.T) {
	t.Parallel()
	var yes, no int
	rapid.Check(t, func(t *rapid.T) {
		src := patternGen().Draw(t, "pattern")
		name := nameGen().Draw(t, "name")
		if refMatch(src, name) {
			yes++
		} else {
			no++
		}
	})
	// Each outcome must be at least a tenth of the cases, whatever number
	// of cases rapid runs (-short runs fewer).
	if total := yes + no; yes*10 < total || no*10 < total {
		t.Errorf("generated %d matches and %d non-matches; want both frequent", yes, no)
	}
}

// TestPrefix: every name a pattern matches starts with its prefix, and a
// literal's prefix is the one name it matches.
func TestPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src, prefix string
		literal     bool
	}{
		{"articles:42", "articles:42", true},
		{"a,a:b", "a:b", true},
		{"articles:*", "articles:", false},
		{"articles:set*", "articles:set", false},
		{"test:*:name", "test:", false},
		{"doc:read,rename", "doc:re", false},
		{"get*,list*", "", false},
		{"*", "", false},
		{"docs:é*,è", "docs:\xc3", false},
	} {
		p := pattern.MustParse(tc.src)
		prefix, literal := p.Prefix()
		if prefix != tc.prefix || literal != tc.literal {
			t.Errorf("Prefix(%q) = %q, %v; want %q, %v", tc.src, prefix, literal, tc.prefix, tc.literal)
		}
		for _, name := range []string{"articles:42", "articles:setX", "test:x:name", "doc:read", "getAll", "docs:éa", "a:b"} {
			if p.Match(name) && !strings.HasPrefix(name, prefix) {
				t.Errorf("%q matches %q, which does not start with the prefix %q", tc.src, name, prefix)
			}
		}
	}
}

// TestCompareName: ranking a literal name against a pattern without
// compiling the name agrees with Compare on the compiled name.
func TestCompareName(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		name := nameGen().Draw(t, "name")
		other := nameGen().Draw(t, "other")
		p, err := pattern.Parse(patternGen().Draw(t, "pattern"))
		if err != nil {
			t.Skip()
		}
		n := pattern.MustParse(name)
		if got, want := sign(pattern.CompareName(name, p)), sign(pattern.Compare(n, p)); got != want {
			t.Fatalf("CompareName(%q, %q) = %d, Compare says %d", name, p.String(), got, want)
		}
		if got, want := sign(pattern.CompareNames(name, other)), sign(pattern.Compare(n, pattern.MustParse(other))); got != want {
			t.Fatalf("CompareNames(%q, %q) = %d, Compare says %d", name, other, got, want)
		}
	})
}
