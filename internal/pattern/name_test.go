package pattern_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
)

// segments returns n one-letter segments joined by ':'.
func segments(n int) string {
	return strings.TrimSuffix(strings.Repeat("s:", n), ":")
}

var validNames = []string{
	"alice@example.com",
	"/api/v1",
	"GET",
	"a:b:c",
	"a",
	"user1",
	"héllo",
	"日本語:文書",
	"Ωμέγα:λ",
	"ÄÖÜ:ß",
	"_", "-", ".", "/", "@", "+", "=", "~", "#", "$", "%", "!",
	"_-./@+=~#$%!",
	"a:_:-:.:/:@:+:=:~:#:$:%:!",
	"articles:animals:42",
	"users:by_group:g1:42",
	"emoji🙂",
	"x" + strings.Repeat("y", pattern.MaxBytes-1), // exactly 1024 bytes
	strings.Repeat("é", pattern.MaxBytes/2),       // 1024 bytes of 2-byte runes
	segments(pattern.MaxSegments),                 // exactly 64 segments
}

func TestCheckNameValid(t *testing.T) {
	t.Parallel()
	for _, name := range validNames {
		t.Run(label(name), func(t *testing.T) {
			t.Parallel()
			if err := pattern.CheckName(name); err != nil {
				t.Errorf("CheckName(%q) = %v, want nil", name, err)
			}
		})
	}
}

type badName struct {
	desc, name string
	msg        []string // substrings the error must contain
}

var invalidNames = []badName{
	{"empty", "", []string{"empty"}},
	{"empty middle segment", "a::b", []string{`"a::b"`, "empty segment", "byte 2"}},
	{"leading colon", ":a", []string{`":a"`, "empty segment", "byte 0"}},
	{"trailing colon", "a:", []string{`"a:"`, "empty segment", "byte 2"}},
	{"only colon", ":", []string{"empty segment"}},
	{"star", "*", []string{`"*"`, "pattern character", "'*'"}},
	{"glob", "a*", []string{"pattern character", "'*'", "byte 1"}},
	{"star segment", "users:*", []string{"pattern character", "'*'"}},
	{"comma", "a,b", []string{"pattern character", "','"}},
	{"braces", "{x}", []string{"brace", "'{'"}},
	{"closing brace", "x}", []string{"brace", "'}'"}},
	{"space", "a b", []string{"space", "byte 1"}},
	{"leading space", " a", []string{"space", "byte 0"}},
	{"tab", "a\tb", []string{"U+0009"}},
	{"newline", "a\nb", []string{"U+000A"}},
	{"carriage return", "a\rb", []string{"U+000D"}},
	{"NUL", "a\x00b", []string{"U+0000"}},
	{"escape", "a\x1bb", []string{"U+001B"}},
	{"DEL", "a\x7fb", []string{"U+007F"}},
	{"C1 control", "a\u0085b", []string{"U+0085"}},
	{"no-break space", "a\u00a0b", []string{"U+00A0"}},
	{"line separator", "a\u2028b", []string{"U+2028"}},
	{"paragraph separator", "a\u2029b", []string{"U+2029"}},
	{"ideographic space", "a\u3000b", []string{"U+3000"}},
	{"zero width space", "a\u200bb", []string{"U+200B"}},
	{"hangul filler", "a\u3164b", []string{"blank character U+3164"}},
	{"decomposed accent (NFD)", "files:cafe\u0301", []string{"normalization form C"}},
	{"blank braille", "a\u2800b", []string{"blank character U+2800"}},
	{"replacement character", "a\ufffdb", []string{"U+FFFD"}},
	{"zero width joiner", "a\u200db", []string{"U+200D"}},
	{"right-to-left override", "a\u202eb", []string{"U+202E"}},
	{"byte order mark", "\ufeffa", []string{"U+FEFF"}},
	{"invalid UTF-8", "a\xffb", []string{"invalid UTF-8", "byte 1"}},
	{"truncated rune", "a\xc3", []string{"invalid UTF-8"}},
	{"encoded surrogate", "a\xed\xa0\x80", []string{"invalid UTF-8"}},
	{"1025 bytes", strings.Repeat("x", pattern.MaxBytes+1), []string{"1025 bytes", "1024"}},
	{"65 segments", segments(pattern.MaxSegments + 1), []string{"more than 64 segments"}},
	{"65 empty-free segments then junk", segments(pattern.MaxSegments+1) + " ", nil},
}

func TestCheckNameInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidNames {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := pattern.CheckName(tc.name)
			if err == nil {
				t.Fatalf("CheckName(%q) = nil, want an error", tc.name)
			}
			if !errors.Is(err, pattern.ErrInvalidName) {
				t.Errorf("CheckName(%q) = %v, does not wrap ErrInvalidName", tc.name, err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("CheckName(%q) = %q, want the message to contain %q", tc.name, err, m)
				}
			}
			if len(err.Error()) > 300 {
				t.Errorf("CheckName error is %d bytes long, want it truncated: %q", len(err.Error()), err)
			}
		})
	}
}

// label makes a short, readable subtest name.
func label(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-10:]
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
