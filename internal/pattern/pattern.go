package pattern

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPattern is wrapped by every error that rejects a pattern.
var ErrInvalidPattern = errors.New("invalid pattern")

type segKind uint8

// The order of the kinds is their specificity (SPEC 2.4), least first.
const (
	segRest    segKind = iota // '*' as the last segment: one or more segments
	segAny                    // '*' elsewhere: exactly one segment
	segGlob                   // one segment, alternatives at least one of which has '*'
	segAlts                   // one segment, two or more literal alternatives
	segLiteral                // exactly this segment
)

// segment is one compiled ':'-separated part of a pattern.
type segment struct {
	kind segKind
	text string   // the source text of the segment; for a literal, the literal
	alts []string // segAlts, segGlob: the alternatives, deduplicated, in source order
	// lits is the number of literal characters (runes, not bytes) a glob
	// needs, the smallest over its alternatives: "set*" needs 3. It orders
	// globs (SPEC 2.4).
	lits int
}

// Pattern is a compiled pattern. The zero Pattern matches nothing, so an
// uninitialised pattern fails closed.
type Pattern struct {
	src string
	all bool // the match-all "*"
	// lit marks a pattern that matches exactly one name, name: every
	// segment is literal, perhaps spelled as repeated alternatives
	// ("a,a"), so it ranks and matches as the literal it is.
	lit  bool
	name string
	segs []segment
}

// Parse compiles a pattern (SPEC 2). The error names the pattern and the
// byte where it goes wrong; callers add where the pattern was written.
func Parse(src string) (Pattern, error) {
	if src == "*" {
		return Pattern{src: src, all: true}, nil
	}
	if src == "" {
		return Pattern{}, fmt.Errorf("%w: empty pattern", ErrInvalidPattern)
	}
	if len(src) > MaxBytes {
		return Pattern{}, fmt.Errorf("%w: %q: %d bytes, over the limit of %d", ErrInvalidPattern, truncate(src), len(src), MaxBytes)
	}
	p := Pattern{src: src, lit: true}
	start := 0
	for start <= len(src) {
		end := strings.IndexByte(src[start:], ':')
		last := end < 0
		if last {
			end = len(src)
		} else {
			end += start
		}
		if len(p.segs) == MaxSegments {
			return Pattern{}, fmt.Errorf("%w: %q has more than %d segments", ErrInvalidPattern, truncate(src), MaxSegments)
		}
		seg, err := parseSegment(src, start, end, last)
		if err != nil {
			return Pattern{}, err
		}
		if seg.kind != segLiteral {
			p.lit = false
		}
		p.segs = append(p.segs, seg)
		start = end + 1
	}
	if err := checkNFC(src); err != nil {
		return Pattern{}, fmt.Errorf("%w: %q %v", ErrInvalidPattern, truncate(src), err)
	}
	if p.lit {
		p.name = src
		if strings.IndexByte(src, ',') >= 0 {
			texts := make([]string, len(p.segs))
			for i, seg := range p.segs {
				texts[i] = seg.text
			}
			p.name = strings.Join(texts, ":")
		}
	}
	return p, nil
}

func patErr(src string, at int, what string) error {
	return fmt.Errorf("%w: %q: %s at byte %d", ErrInvalidPattern, truncate(src), what, at)
}

func parseSegment(src string, start, end int, last bool) (segment, error) {
	text := src[start:end]
	if text == "" {
		return segment{}, patErr(src, start, "empty segment")
	}
	if text == "*" {
		if last {
			return segment{kind: segRest, text: text}, nil
		}
		return segment{kind: segAny, text: text}, nil
	}
	seg := segment{kind: segLiteral, text: text}
	altStart := start
	for i := start; i <= end; {
		if i == end || src[i] == ',' {
			alt := src[altStart:i]
			if alt == "" {
				return segment{}, patErr(src, i, "empty alternative")
			}
			seg.alts = appendUnique(seg.alts, alt)
			altStart = i + 1
			i++
			continue
		}
		c := src[i]
		if c < utf8.RuneSelf {
			if c != '*' && c != ',' && reserved[c] {
				return segment{}, patErr(src, i, describe(rune(c)))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(src[i:])
		if reservedRune(r) {
			if r == utf8.RuneError && size <= 1 {
				return segment{}, patErr(src, i, "invalid UTF-8")
			}
			return segment{}, patErr(src, i, describe(r))
		}
		i += size
	}
	globs := 0
	seg.lits = MaxBytes
	for _, a := range seg.alts {
		if strings.IndexByte(a, '*') >= 0 {
			globs++
		}
		seg.lits = min(seg.lits, utf8.RuneCountInString(a)-strings.Count(a, "*"))
	}
	switch {
	case globs > 0:
		seg.kind = segGlob
	case len(seg.alts) > 1:
		seg.kind = segAlts
	default:
		// A plain literal compares against text. Duplicated alternatives
		// ("a,a") also leave one literal: text becomes it, not the source.
		seg.text = seg.alts[0]
		seg.alts = nil
	}
	return seg, nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// MustParse is Parse for patterns known at compile time, such as in tests.
func MustParse(src string) Pattern {
	p, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern's source text.
func (p Pattern) String() string { return p.src }

// IsAll reports whether p is the match-all "*".
func (p Pattern) IsAll() bool { return p.all }

// IsLiteral reports whether p matches exactly one name, which Literal
// returns.
func (p Pattern) IsLiteral() bool { return p.lit }

// Prefix returns the bytes every name p matches starts with, and whether p
// is a literal that matches exactly that name: "articles:set*" gives
// "articles:set", "users:*" gives "users:", "doc:read,rename" gives
// "doc:re". Stores use it to narrow a pattern to a range of names. The
// prefix may end inside a UTF-8 sequence when alternatives share only part
// of a character ("é*,è" shares one byte).
func (p Pattern) Prefix() (prefix string, literal bool) {
	if p.lit {
		return p.name, true
	}
	var b strings.Builder
	for _, s := range p.segs {
		if s.kind == segLiteral {
			b.WriteString(s.text)
			b.WriteByte(':')
			continue
		}
		// The first segment that is not literal ends the prefix with
		// what all its alternatives start with before their first '*';
		// a '*' segment has no alternatives and adds nothing.
		var common string
		for i, a := range s.alts {
			if k := strings.IndexByte(a, '*'); k >= 0 {
				a = a[:k]
			}
			if i == 0 {
				common = a
				continue
			}
			n := 0
			for n < len(common) && n < len(a) && common[n] == a[n] {
				n++
			}
			common = common[:n]
		}
		b.WriteString(common)
		break
	}
	return b.String(), false
}

// Literal returns the one name a literal pattern matches: its text, with
// repeated alternatives ("a,a") reduced to one.
func (p Pattern) Literal() string { return p.name }

// Match reports whether name matches p. The empty name (no particular
// resource, SPEC 1.4) matches only the match-all. Match does not check that
// name is valid; requests are checked once, before any matching.
//
// Match is small enough to inline, so the common literal case costs one
// string comparison and never copies the Pattern.
func (p Pattern) Match(name string) bool {
	if p.lit {
		return name == p.name
	}
	return p.all || matchSegments(p.segs, name)
}

func matchSegments(segs []segment, name string) bool {
	if name == "" || len(segs) == 0 {
		return false
	}
	rest := name
	for i := range segs {
		s := &segs[i]
		if s.kind == segRest {
			return rest != ""
		}
		if rest == "" {
			return false
		}
		seg, tail, more := strings.Cut(rest, ":")
		if !s.matchSegment(seg) {
			return false
		}
		if !more {
			// The name is used up: the pattern must be too.
			return i == len(segs)-1
		}
		rest = tail
		if rest == "" {
			return false
		}
	}
	return false // pattern used up, name is not
}

// matchSegment reports whether one name segment (no ':') matches s.
func (s *segment) matchSegment(seg string) bool {
	switch s.kind {
	case segLiteral:
		return seg == s.text
	case segAny, segRest:
		return true
	case segAlts:
		for _, a := range s.alts {
			if seg == a {
				return true
			}
		}
		return false
	}
	for _, a := range s.alts {
		if glob(a, seg) {
			return true
		}
	}
	return false
}

// glob matches a single-segment glob in linear time: on a mismatch it
// backtracks only to the most recent '*', which is enough because a later
// '*' can absorb anything an earlier one could.
func glob(pat, s string) bool {
	px, sx := 0, 0
	star, mark := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pat) && pat[px] == '*':
			star, mark = px, sx
			px++
		case px < len(pat) && pat[px] == s[sx]:
			px++
			sx++
		case star >= 0:
			mark++
			sx = mark
			px = star + 1
		default:
			return false
		}
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}
