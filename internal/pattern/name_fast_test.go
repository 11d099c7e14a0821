package pattern

import (
	"strings"
	"testing"
)

// TestCheckNameFastPath: the fast path accepts exactly what the full check
// accepts, and every refusal carries the full check's message, on names
// built at each boundary the fast path handles itself.
func TestCheckNameFastPath(t *testing.T) {
	t.Parallel()
	names := []string{
		"", "a", ":", "a:", ":a", "a::b", "a:b", "alice", "articles:cat507:42",
		"a b", "a*", "a,b", "a{b}", "a\x00", "a\x7f", "caf\u00e9", "cafe\u0301", "\xff",
		strings.Repeat("a", MaxBytes), strings.Repeat("a", MaxBytes+1),
		strings.Repeat("a:", MaxSegments-1) + "a", strings.Repeat("a:", MaxSegments) + "a",
		strings.Repeat("a:", MaxSegments),
	}
	for c := range 256 {
		names = append(names, "x"+string(rune(c))+"y", string([]byte{byte(c)}))
	}
	for _, s := range names {
		fast, full := CheckName(s), checkName(s)
		if (fast == nil) != (full == nil) || (fast != nil && fast.Error() != full.Error()) {
			t.Errorf("CheckName(%q) = %v, the full check says %v", s, fast, full)
		}
	}
}

// FuzzCheckNameFastPath holds the fast path to the full check on every
// input.
func FuzzCheckNameFastPath(f *testing.F) {
	for _, s := range []string{"a:b", "a::b", "caf\u00e9", "a*", strings.Repeat("a:", MaxSegments)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, full := CheckName(s), checkName(s)
		if (fast == nil) != (full == nil) || (fast != nil && fast.Error() != full.Error()) {
			t.Fatalf("CheckName(%q) = %v, the full check says %v", s, fast, full)
		}
	})
}
