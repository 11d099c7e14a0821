package diag

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// TOMLStringOffsets maps each byte of a TOML string's decoded text to the
// offset in raw, the string as written with its quotes, that it came
// from, with one more entry for the end; nil when raw cannot be followed
// to text. It lets an error found in a string's value point at the file.
func TOMLStringOffsets(raw, text string) []int {
	base := 0
	var out []int
	switch {
	case len(raw) >= 6 && raw[:3] == "'''":
		start := 3
		if strings.HasPrefix(raw[3:], "\r\n") {
			start += 2
		} else if len(raw) > 3 && raw[3] == '\n' {
			start++
		}
		for i := range len(text) {
			out = append(out, base+start+i)
		}
		out = append(out, base+start+len(text))
	case len(raw) >= 2 && raw[0] == '\'':
		for i := range len(text) + 1 {
			out = append(out, base+1+i)
		}
	case len(raw) >= 6 && raw[:3] == `"""`:
		start := 3
		if strings.HasPrefix(raw[3:], "\r\n") {
			start += 2
		} else if len(raw) > 3 && raw[3] == '\n' {
			start++
		}
		out = basicOffsets(raw[start:len(raw)-3], base+start, true)
	case len(raw) >= 2 && raw[0] == '"':
		out = basicOffsets(raw[1:len(raw)-1], base+1, false)
	default:
		return nil
	}
	if len(out) != len(text)+1 {
		return nil
	}
	return out
}

// basicOffsets follows the escapes of a basic string's content.
func basicOffsets(raw string, base int, multiline bool) []int {
	var out []int
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			out = append(out, base+i)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return nil
		}
		n := 0 // decoded bytes
		width := 2
		switch c := raw[i+1]; c {
		case 'b', 't', 'n', 'f', 'r', '"', '\\', 'e':
			n = 1
		case 'x', 'u', 'U':
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+2+digits > len(raw) {
				return nil
			}
			code, err := strconv.ParseUint(raw[i+2:i+2+digits], 16, 32)
			if err != nil {
				return nil
			}
			n, width = utf8.RuneLen(rune(code)), 2+digits
			if n < 0 {
				return nil
			}
		default:
			if !multiline {
				return nil
			}
			// A line-ending backslash: it and the white space after it,
			// newlines included, vanish.
			j := i + 1
			for j < len(raw) && strings.IndexByte(" \t\r\n", raw[j]) >= 0 {
				j++
			}
			i = j
			continue
		}
		for range n {
			out = append(out, base+i)
		}
		i += width
	}
	return append(out, base+len(raw))
}
