package pattern_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/pattern"
)

// seedPatterns gathers every pattern the tables use, valid and invalid.
func seedPatterns() []string {
	var seeds []string
	for _, tc := range matchCases {
		seeds = append(seeds, tc.pattern)
	}
	for _, tc := range invalidPatterns {
		seeds = append(seeds, tc.src)
	}
	seeds = append(seeds, validNames...)
	seeds = append(seeds, "test:*st:te*", "a,b,ab:a,b,ab:a,b,ab:a,b,ab:a,b,ab", "a:*:*", "*,*:*")
	return seeds
}

func seedNames() []string {
	var seeds []string
	seeds = append(seeds, validNames...)
	for _, tc := range invalidNames {
		seeds = append(seeds, tc.name)
	}
	for _, tc := range matchCases {
		seeds = append(seeds, tc.match...)
		seeds = append(seeds, tc.noMatch...)
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range seedPatterns() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := pattern.Parse(src)
		if err != nil {
			if !errors.Is(err, pattern.ErrInvalidPattern) {
				t.Fatalf("Parse(%q) = %v, does not wrap ErrInvalidPattern", src, err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("Parse(%q) error is %d bytes long", src, len(err.Error()))
			}
			return
		}
		if p.String() != src {
			t.Fatalf("Parse(%q).String() = %q", src, p.String())
		}
		if len(src) > pattern.MaxBytes || strings.Count(src, ":") >= pattern.MaxSegments {
			t.Fatalf("Parse(%q) accepted a pattern over the limits", src)
		}
		if !utf8.ValidString(src) || strings.ContainsAny(src, "{} ") {
			t.Fatalf("Parse(%q) accepted a forbidden character", src)
		}
		if p.IsAll() != (src == "*") {
			t.Fatalf("Parse(%q).IsAll() = %v", src, p.IsAll())
		}
		if p.Match("") != (src == "*") {
			t.Fatalf("Parse(%q).Match(\"\") = %v", src, p.Match(""))
		}
		nameErr := pattern.CheckName(src)
		if nameErr == nil {
			// A valid name is a literal pattern matching exactly its text.
			if !p.IsLiteral() || !p.Match(src) {
				t.Fatalf("Parse(%q): IsLiteral=%v Match(itself)=%v, want true, true", src, p.IsLiteral(), p.Match(src))
			}
			for _, other := range []string{src + "x", "x" + src, src + ":x", "x:" + src} {
				if p.Match(other) {
					t.Fatalf("literal %q matches %q", src, other)
				}
			}
		}
		if p.IsLiteral() {
			// A literal, perhaps spelled with repeated alternatives
			// ("a,a"), matches exactly one valid name: Literal().
			lit := p.Literal()
			if err := pattern.CheckName(lit); err != nil || !p.Match(lit) || !refMatch(src, lit) {
				t.Fatalf("Parse(%q).Literal() = %q: valid %v, Match %v, reference %v", src, lit, err, p.Match(lit), refMatch(src, lit))
			}
			if strings.Contains(src, "*") {
				t.Fatalf("Parse(%q).IsLiteral() = true with a '*'", src)
			}
		} else if nameErr == nil {
			t.Fatalf("Parse(%q) of a valid name is not literal", src)
		}
		if got, want := p.Match(src), refMatch(src, src); nameErr == nil && got != want {
			t.Fatalf("Parse(%q).Match(itself) = %v, reference %v", src, got, want)
		}
		if pattern.Compare(p, p) != 0 {
			t.Fatalf("Compare(%q, itself) != 0", src)
		}
	})
}

func FuzzCheckName(f *testing.F) {
	for _, s := range seedNames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := pattern.CheckName(name)
		if err != nil {
			if !errors.Is(err, pattern.ErrInvalidName) {
				t.Fatalf("CheckName(%q) = %v, does not wrap ErrInvalidName", name, err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("CheckName(%q) error is %d bytes long", name, len(err.Error()))
			}
			return
		}
		if name == "" || len(name) > pattern.MaxBytes || strings.Count(name, ":") >= pattern.MaxSegments {
			t.Fatalf("CheckName accepted %q over the limits", name)
		}
		if !utf8.ValidString(name) {
			t.Fatalf("CheckName accepted invalid UTF-8 %q", name)
		}
		if strings.ContainsAny(name, "*,{}") {
			t.Fatalf("CheckName accepted pattern syntax in %q", name)
		}
		for _, seg := range strings.Split(name, ":") {
			if seg == "" {
				t.Fatalf("CheckName accepted an empty segment in %q", name)
			}
		}
		for i, r := range name {
			if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("CheckName accepted %U at byte %d of %q", r, i, name)
			}
		}
		// A valid name parses as a literal pattern.
		p, err := pattern.Parse(name)
		if err != nil || !p.IsLiteral() || !p.Match(name) {
			t.Fatalf("valid name %q: Parse = %v, %v", name, p, err)
		}
	})
}

func FuzzMatch(f *testing.F) {
	pats, names := seedPatterns(), seedNames()
	for i := range max(len(pats), len(names)) {
		f.Add(pats[i%len(pats)], names[i%len(names)])
	}
	for _, tc := range matchCases {
		for _, n := range tc.match {
			f.Add(tc.pattern, n)
		}
	}
	f.Fuzz(func(t *testing.T, src, name string) {
		p, err := pattern.Parse(src)
		if err != nil {
			return
		}
		got := p.Match(name) // must not panic, whatever name is
		if name != "" && pattern.CheckName(name) != nil {
			return
		}
		if want := refMatch(src, name); got != want {
			t.Fatalf("Parse(%q).Match(%q) = %v, reference %v", src, name, got, want)
		}
		var ix pattern.Index
		ix.Add(p)
		if slots := ix.Append(nil, name); len(slots) != map[bool]int{true: 1}[got] {
			t.Fatalf("Index{%q}.Append(%q) = %v, Match = %v", src, name, slots, got)
		}
	})
}
