package postgres

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// PostgreSQL text holds neither NUL nor invalid UTF-8, and an audit event
// must be stored as it was, never refused or altered for holding them (a
// subject with a NUL is exactly what an attacker sends). So every text
// column but the id holds its string escaped: a backslash as \\, a NUL as
// \x00, and each byte of invalid UTF-8 as \xHH (lower-case hex). Every
// other character is itself, so ordinary text reads as it is, and the
// mapping is one to one because the backslash itself is escaped. Schema
// version 2 escaped the backslashes of rows written before.

const hexDigits = "0123456789abcdef"

// escapeText returns s as stored.
func escapeText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\\' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean || (utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, '\\') < 0) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
			i++
		case c == 0:
			b.WriteString(`\x00`)
			i++
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}

var errBadEscape = errors.New("stored text holds an invalid escape")

// unescapeText reverses escapeText.
func unescapeText(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			b = append(b, '\\')
			i++
		case i+3 < len(s) && s[i+1] == 'x':
			h, l := unhex(s[i+2]), unhex(s[i+3])
			if h < 0 || l < 0 {
				return "", errBadEscape
			}
			b = append(b, byte(h<<4|l))
			i += 3
		default:
			return "", errBadEscape
		}
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
