// Package pattern implements warden's name and pattern language (SPEC 1–2).
//
// A name is one or more segments joined by ':'. A pattern names a set of
// names segment by segment:
//
//	articles          a literal segment matches exactly that segment
//	set*  *Name  a*b  a glob matches one segment; '*' is any run of characters
//	read,write        alternatives match one segment that matches any of them
//	a:*:c             '*' in the middle matches exactly one segment
//	users:*           '*' as the last segment matches one or more segments
//	*                 the match-all: every name, and the empty resource
//
// Parsing, matching, specificity and the pattern-set index each live in their
// own file. Matching never uses regular expressions and never allocates.
package pattern

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits bound the work a hostile name or pattern can cause (SPEC 1.2).
const (
	MaxBytes    = 1024
	MaxSegments = 64
)

// ErrInvalidName is wrapped by every error that rejects a request name.
var ErrInvalidName = errors.New("invalid name")

// reserved marks the ASCII bytes that may not appear in a segment: the
// separator, the pattern syntax, spaces and control characters.
var reserved = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t[0x7f] = true
	for _, c := range ":*,{} " {
		t[c] = true
	}
	return t
}()

// reservedRune reports whether a non-ASCII rune is forbidden: Unicode
// spaces and control characters look like nothing (or like a separator) in
// logs and reasons, so they could disguise one name as another.
func reservedRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) ||
		unicode.Is(unicode.Cf, r) || blank(r)
}

// blank lists letters and symbols that render as empty space although
// Unicode does not class them as spaces (Hangul fillers, the blank Braille
// pattern).
func blank(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return false
}

// plain classes each byte for CheckName's fast path: 0 for the bytes a
// segment may hold as they are, 1 for the separator, 2 for everything
// the full check must look at (reserved ASCII, and every non-ASCII byte).
var plain = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == ':':
			t[c] = 1
		case c >= utf8.RuneSelf || reserved[c]:
			t[c] = 2
		}
	}
	return t
}()

// CheckName reports whether s is a valid literal name (SPEC 1.1–1.3). The
// empty string is not a name; callers that accept an empty resource check
// for it first. It does not allocate unless it returns an error.
//
// Every request name passes through it, so it first tries the common
// case, plain ASCII segments, with one table lookup a byte; anything
// else, a reserved byte or any non-ASCII one, sends the whole name to the
// full check.
func CheckName(s string) error {
	if len(s) == 0 || len(s) > MaxBytes {
		return checkName(s)
	}
	segs, start := 1, 0
	for i := 0; i < len(s); i++ {
		switch plain[s[i]] {
		case 0:
		case 1:
			if i == start {
				return checkName(s)
			}
			segs++
			start = i + 1
		default:
			return checkName(s)
		}
	}
	if start == len(s) || segs > MaxSegments {
		return checkName(s)
	}
	return nil
}

// checkName is CheckName's full check, which also says what is wrong.
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(s) > MaxBytes {
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidName, len(s), MaxBytes)
	}
	segs := 1
	start := 0
	ascii := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ':' {
				if i == start {
					return nameErr(s, i, "empty segment")
				}
				segs++
				if segs > MaxSegments {
					return fmt.Errorf("%w: %q has more than %d segments", ErrInvalidName, truncate(s), MaxSegments)
				}
				start = i + 1
			} else if reserved[c] {
				return nameErr(s, i, describe(rune(c)))
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRuneInString(s[i:])
		if reservedRune(r) {
			if r == utf8.RuneError && size <= 1 {
				return nameErr(s, i, "invalid UTF-8")
			}
			return nameErr(s, i, describe(r))
		}
		i += size
	}
	if start == len(s) {
		return nameErr(s, len(s), "empty segment")
	}
	if !ascii && !isNFC(s) {
		return fmt.Errorf("%w: %q is not in Unicode normalization form C; normalize it (NFC) first", ErrInvalidName, truncate(s))
	}
	return nil
}

// Names must be in Unicode normalization form C (NFC) because two spellings
// of one name, "café" precomposed and "cafe" with a combining accent, look
// the same and must not be told apart by rules: a deny on one would not
// stop the other. Rejecting rather than normalizing keeps the name the
// caller asked about the name that was decided.
func checkNFC(s string) error {
	if isASCII(s) || isNFC(s) {
		return nil
	}
	return fmt.Errorf("is not in Unicode normalization form C; normalize it (NFC) first")
}

// isNFC asks the quick check first, which decides almost every string
// without allocating; only a "maybe" pays for the full check.
func isNFC(s string) bool {
	return norm.NFC.QuickSpanString(s) == len(s) || norm.NFC.IsNormalString(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func nameErr(s string, at int, what string) error {
	return fmt.Errorf("%w: %q: %s at byte %d", ErrInvalidName, truncate(s), what, at)
}

// describe names a forbidden character in words, because quoting a control
// character or a space in an error message shows the user nothing.
func describe(r rune) string {
	switch r {
	case ':':
		return "empty segment"
	case '*', ',':
		return fmt.Sprintf("pattern character %q in a literal name", r)
	case '{', '}':
		return fmt.Sprintf("brace %q (reserved for guard templates)", r)
	case ' ':
		return "space"
	}
	if unicode.IsSpace(r) {
		return fmt.Sprintf("white space %U", r)
	}
	if r == utf8.RuneError {
		return "replacement character U+FFFD (the name was mis-decoded somewhere)"
	}
	if blank(r) {
		return fmt.Sprintf("blank character %U", r)
	}
	return fmt.Sprintf("control or invisible character %U", r)
}

// Shorten cuts s to about 80 bytes, on a character boundary, so that error
// messages stay readable when the input is huge.
func Shorten(s string) string { return truncate(s) }

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
