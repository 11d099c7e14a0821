// Package faithful writes and reads JSON that carries any Go string
// unchanged, invalid UTF-8 included, where encoding/json replaces each
// invalid byte with U+FFFD.
//
// An invalid byte b (always 0x80 or more: bytes below are ASCII) is
// written as the escape \udcXX, XX being b in hex: a lone low surrogate,
// which no valid UTF-8 string can contain, so the mapping is one to one
// (the escape Python calls surrogateescape). Everything else is written as
// encoding/json writes it, except that <, > and & are not HTML-escaped:
// NUL as \u0000, '"' and '\' escaped, control characters as escapes. JSON
// written by encoding/json never holds such an escape (it writes \ufffd),
// so text written before reads back as it always did.
//
// Decode reads any JSON value: objects as map[string]any, arrays as []any,
// numbers as json.Number (exact), and \udc80 to \udcff back into bytes.
// Raw invalid UTF-8 in the input is kept as it is, not replaced.
package faithful

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', 'd', 'c', hex[c>>4], hex[c&0xf])
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// As encoding/json: some JavaScript parsers take them for line ends.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ErrUnencodable is wrapped by Append's error for a value JSON cannot
// carry unchanged.
var ErrUnencodable = errors.New("faithful: value cannot be written as JSON unchanged")

// Append appends v as JSON. Maps with string keys are written with their
// keys sorted, as encoding/json does. Types other than the JSON kinds
// (map[string]any, []any, string, json.Number, bool, nil, Go numbers) go
// through encoding/json, and are refused (ErrUnencodable) if it would
// alter a string of theirs.
func Append(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return AppendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case json.Number:
		if v == "" {
			return append(b, '0'), nil // as encoding/json
		}
		if !validNumber(string(v)) {
			return b, fmt.Errorf("%w: invalid number %q", ErrUnencodable, string(v))
		}
		return append(b, v...), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("%w: unsupported value %v", ErrUnencodable, v)
		}
		j, _ := json.Marshal(v) // encoding/json's float format
		return append(b, j...), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = Append(b, v[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, x)
		}
		return append(b, ']'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = Append(b, x); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrUnencodable, err)
	}
	if replaced(j) {
		return b, fmt.Errorf("%w: a string of a %T is not valid UTF-8", ErrUnencodable, v)
	}
	return append(b, j...), nil
}

func validNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// replaced reports whether JSON text written by encoding/json has a
// \ufffd escape, which it writes only in place of invalid UTF-8.
func replaced(b []byte) bool {
	for i := 0; i+6 <= len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if string(b[i:i+6]) == `\ufffd` {
			return true
		}
		i++ // skip the escaped character, so \\ufffd is not taken for one
	}
	return false
}

// SyntaxError is Decode's error: what is wrong, and at which byte.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset) }

// maxDepth bounds nesting, as encoding/json does, so hostile input cannot
// exhaust the stack.
const maxDepth = 10000

// Decode reads exactly one JSON value from data (surrounded by optional
// whitespace).
func Decode(data []byte) (any, error) {
	d := decoder{s: data}
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.s) {
		return nil, d.fail("unexpected data after the JSON value")
	}
	return v, nil
}

type decoder struct {
	s []byte
	i int
}

func (d *decoder) fail(msg string) error { return &SyntaxError{Msg: msg, Offset: d.i} }

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.fail("JSON nested too deeply")
	}
	if d.i >= len(d.s) {
		return nil, d.fail("unexpected end of JSON")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.ws()
			if d.i >= len(d.s) || d.s[d.i] != '"' {
				return nil, d.fail("want an object key")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.i >= len(d.s) || d.s[d.i] != ':' {
				return nil, d.fail("want ':' after an object key")
			}
			d.i++
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v // a repeated key: the last wins, as in encoding/json
			d.ws()
			if d.i >= len(d.s) {
				return nil, d.fail("unexpected end of JSON")
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == '}' {
				d.i++
				return m, nil
			}
			return nil, d.fail("want ',' or '}' in an object")
		}
	case c == '[':
		d.i++
		a := []any{}
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			return a, nil
		}
		for {
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.ws()
			if d.i >= len(d.s) {
				return nil, d.fail("unexpected end of JSON")
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == ']' {
				d.i++
				return a, nil
			}
			return nil, d.fail("want ',' or ']' in an array")
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.num()
	}
	return nil, d.fail(fmt.Sprintf("invalid character %q looking for a value", d.s[d.i]))
}

func (d *decoder) lit(w string) error {
	if len(d.s)-d.i < len(w) || string(d.s[d.i:d.i+len(w)]) != w {
		return d.fail("invalid literal")
	}
	d.i += len(w)
	return nil
}

func (d *decoder) num() (json.Number, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.s) && d.s[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return "", d.fail("invalid number")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return "", d.fail("invalid number")
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return "", d.fail("invalid number")
		}
	}
	return json.Number(d.s[start:d.i]), nil
}

// str reads a string at d.s[d.i] == '"'.
func (d *decoder) str() (string, error) {
	d.i++
	start := d.i
	// Fast path: no escapes.
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c == '"' {
			s := string(d.s[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.i++
	}
	b := append([]byte(nil), d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", d.fail("control character in a string")
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			return "", d.fail("unexpected end of JSON")
		}
		e := d.s[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.fail("invalid \\u escape")
			}
			switch {
			case r >= 0xdc80 && r <= 0xdcff:
				b = append(b, byte(r-0xdc00)) // an escaped invalid byte
			case utf16.IsSurrogate(r):
				// A pair, or a lone surrogate read as encoding/json does.
				if r < 0xdc00 && d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if r2, ok := d.hex4(); ok {
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							b = utf8.AppendRune(b, c)
							break
						}
					}
					d.i = save
				}
				b = utf8.AppendRune(b, utf8.RuneError)
			default:
				b = utf8.AppendRune(b, r)
			}
		default:
			return "", d.fail("invalid escape in a string")
		}
	}
	return "", d.fail("unexpected end of JSON")
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.s)-d.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.s[d.i:d.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.i += 4
	return rune(n), true
}
