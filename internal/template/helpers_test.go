package template_test

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// label makes a readable, bounded subtest name from arbitrary input.
func label(s string) string {
	if s == "" {
		return "empty"
	}
	if len(s) > 40 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		q := strconv.Quote(s)
		if len(q) > 40 {
			q = q[:40] + fmt.Sprintf("…(%d bytes)", len(s))
		}
		return q
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// quotedPrefix is the start of how error messages quote s: Go-quoted, so
// a message naming s contains this much of it whatever the truncation.
func quotedPrefix(s string) string {
	cut := min(len(s), 20)
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSuffix(strconv.Quote(s[:cut]), `"`)
}
