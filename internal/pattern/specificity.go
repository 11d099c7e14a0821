package pattern

// Compare orders two patterns by specificity (SPEC 2.4). It returns a
// positive number when a is more specific than b, a negative one when it is
// less specific, and zero when neither is.
//
// Segments compare from the left: literal > alternatives of literals > glob
// (the one needing more literal characters first) > '*' in the middle > '*'
// as the last segment. When one pattern runs out first, the longer one is
// more specific. The match-all is less specific than everything else.
func Compare(a, b Pattern) int {
	switch {
	case a.all && b.all:
		return 0
	case a.all:
		return -1
	case b.all:
		return 1
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if c := compareSegment(&a.segs[i], &b.segs[i]); c != 0 {
			return c
		}
	}
	return len(a.segs) - len(b.segs)
}

func compareSegment(a, b *segment) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	if a.kind == segGlob {
		return a.lits - b.lits
	}
	return 0
}

// CompareName is Compare(MustParse(name), p) for a literal name, without
// compiling name: runtime grants name literals, and a million of them
// should not each keep a compiled pattern to be ranked against rules.
func CompareName(name string, p Pattern) int {
	if p.all {
		return 1
	}
	n := countSegments(name)
	for i := 0; i < n && i < len(p.segs); i++ {
		if c := int(segLiteral) - int(p.segs[i].kind); c != 0 {
			return c
		}
	}
	return n - len(p.segs)
}

// CompareNames is Compare for two literal names: the one with more
// segments is more specific.
func CompareNames(a, b string) int {
	return countSegments(a) - countSegments(b)
}

func countSegments(s string) int {
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			n++
		}
	}
	return n
}
