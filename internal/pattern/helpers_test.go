package pattern_test

import (
	"regexp"
	"strings"

	"pgregory.net/rapid"
)

// refMatch is an independent reference for SPEC 2.1–2.2. It translates the
// pattern into a regular expression, segment by segment, following the
// table of SPEC 2.2 literally, and never looks at the package's internals.
// It assumes src is a valid pattern and name a valid name or "".
func refMatch(src, name string) bool {
	if src == "*" {
		return true // SPEC 2.1: every name, and the empty resource
	}
	if name == "" {
		return false
	}
	return refRegexp(src).MatchString(name)
}

const (
	refSegment = `[^:]+`            // one whole name segment
	refInSeg   = `[^:]*`            // a '*' inside a glob: any run within the segment
	refRest    = `[^:]+(?::[^:]+)*` // one or more remaining segments
)

func refRegexp(src string) *regexp.Regexp {
	segs := strings.Split(src, ":")
	var b strings.Builder
	b.WriteString(`^`)
	for i, seg := range segs {
		if i > 0 {
			b.WriteString(`:`)
		}
		switch {
		case seg == "*" && i == len(segs)-1:
			b.WriteString(refRest)
		case seg == "*":
			b.WriteString(refSegment)
		default:
			alts := strings.Split(seg, ",")
			for j, alt := range alts {
				alts[j] = globRegexp(alt)
			}
			b.WriteString(`(?:` + strings.Join(alts, `|`) + `)`)
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// globRegexp translates one alternative, where '*' is any run of
// characters within the segment, possibly empty.
func globRegexp(alt string) string {
	parts := strings.Split(alt, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, refInSeg)
}

// Generators over a small alphabet, so that matches are frequent.
//
// Every generator is made afresh by a function, never shared in a package
// variable: a rapid.Generator initialises its description lazily without
// synchronisation (rapid v1.3.0, generator.go:73 vs :35), so one shared by
// parallel tests is a data race under -race.

func litGen() *rapid.Generator[string] { return rapid.SampledFrom([]string{"a", "b", "ab"}) }

func globGen() *rapid.Generator[string] {
	return rapid.SampledFrom([]string{"a*", "*b", "a*b", "*a*", "b*a", "**", "ab*", "*ab", "a**b"})
}

func nameGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		segs := rapid.SliceOfN(litGen(), 1, 5).Draw(t, "segs")
		return strings.Join(segs, ":")
	})
}

// altGen draws one alternative: a literal or, sometimes, a glob.
func altGen() *rapid.Generator[string] { return rapid.OneOf(litGen(), litGen(), globGen()) }

// segGen draws one pattern segment: a literal, a glob, alternatives
// (possibly duplicated, possibly with globs), or '*'.
func segGen() *rapid.Generator[string] { return rapid.Custom(drawSegment) }

func drawSegment(t *rapid.T) string {
	switch rapid.IntRange(0, 6).Draw(t, "kind") {
	case 0, 1:
		return litGen().Draw(t, "lit")
	case 2:
		return globGen().Draw(t, "glob")
	case 3:
		return strings.Join(rapid.SliceOfN(litGen(), 2, 3).Draw(t, "alts"), ",")
	case 4:
		return strings.Join(rapid.SliceOfN(altGen(), 2, 3).Draw(t, "galts"), ",")
	case 5:
		return "*"
	default: // duplicated alternatives, one literal in disguise
		lit := litGen().Draw(t, "dup")
		return lit + "," + lit
	}
}

func patternGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		if rapid.IntRange(0, 19).Draw(t, "all") == 0 {
			return "*"
		}
		segs := rapid.SliceOfN(segGen(), 1, 5).Draw(t, "segs")
		return strings.Join(segs, ":")
	})
}

// wideAltsGen draws a pattern of 3 to 5 segments of three alternatives
// each, which expands past the index's literal-expansion limit.
func wideAltsGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		n := rapid.IntRange(3, 5).Draw(t, "n")
		segs := make([]string, n)
		for i := range segs {
			if rapid.IntRange(0, 4).Draw(t, "plain") == 0 {
				segs[i] = segGen().Draw(t, "seg")
				continue
			}
			segs[i] = strings.Join(rapid.SliceOfN(altGen(), 3, 3).Draw(t, "alts"), ",")
		}
		return strings.Join(segs, ":")
	})
}

// nameNear draws a name built from src so that it often matches: each
// pattern segment becomes a segment that it (probably) matches, with an
// occasional mutation. Whether it matches is left to the reference.
func nameNear(t *rapid.T, src string) string {
	if src == "*" {
		return nameGen().Draw(t, "name")
	}
	segs := strings.Split(src, ":")
	var out []string
	for i, seg := range segs {
		switch {
		case seg == "*" && i == len(segs)-1:
			out = append(out, rapid.SliceOfN(litGen(), 1, 3).Draw(t, "rest")...)
		case seg == "*":
			out = append(out, litGen().Draw(t, "any"))
		default:
			alts := strings.Split(seg, ",")
			alt := rapid.SampledFrom(alts).Draw(t, "alt")
			var b strings.Builder
			for j, part := range strings.Split(alt, "*") {
				if j > 0 {
					b.WriteString(rapid.SampledFrom([]string{"", "a", "b", "ba"}).Draw(t, "fill"))
				}
				b.WriteString(part)
			}
			s := b.String()
			if s == "" {
				s = "b"
			}
			out = append(out, s)
		}
	}
	switch rapid.IntRange(0, 9).Draw(t, "mutate") {
	case 0:
		out = out[:len(out)-1]
	case 1:
		out = append(out, litGen().Draw(t, "extra"))
	case 2:
		out[0] += "a"
	}
	if len(out) == 0 {
		return "a"
	}
	return strings.Join(out, ":")
}
