package template

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/pattern"
)

// ErrInvalidTemplate is wrapped by every Parse error. A malformed template is
// a programming error in the guard that names it, so it surfaces when the
// guard is made rather than on some later call.
var ErrInvalidTemplate = errors.New("invalid template")

// Template is a parsed index template. It is immutable and safe for
// concurrent use; the reflection plans it caches are an invisible
// optimisation. The nil *Template behaves as the empty template.
type Template struct {
	text string
	// lits surround the placeholders: the result is
	// lits[0] + value(holes[0]) + lits[1] + ... + lits[len(holes)].
	// Adjacent literal segments and their separators are one string, so
	// resolving copies a few long runs instead of many short ones.
	lits  []string
	holes []hole
	// plans and morePlans map the dynamic type of a reflected source to the
	// *plan that reaches each placeholder in it, so that looking fields up
	// by name happens once per type rather than once per call. plansMu
	// serialises adding a plan; readers take no lock.
	plans     atomic.Pointer[[]planEntry]
	morePlans sync.Map // reflect.Type → *plan, past maxListedPlans types
	plansMu   sync.Mutex
}

type hole struct {
	text string   // the dotted path as written, "user.id"
	path []string // its elements, {"user", "id"}
}

// Parse compiles a template (SPEC 7.3). The empty template means "no
// particular resource" and resolves to "". The error names the template and
// the byte where it goes wrong.
func Parse(text string) (*Template, error) {
	t := &Template{text: text}
	if text == "" {
		return t, nil
	}
	if len(text) > pattern.MaxBytes {
		return nil, syntaxErr(text, pattern.MaxBytes, fmt.Sprintf("%d bytes, over the limit of %d", len(text), pattern.MaxBytes))
	}
	litStart := 0 // where the literal run since the last placeholder began
	segs := 0
	for i := 0; ; i++ { // each iteration reads one segment; i++ skips the ':'
		start := i
		if segs++; segs > pattern.MaxSegments {
			return nil, syntaxErr(text, start, fmt.Sprintf("more than %d segments", pattern.MaxSegments))
		}
		if i < len(text) && text[i] == '{' {
			end, err := parsePlaceholder(text, i)
			if err != nil {
				return nil, err
			}
			if end < len(text) && text[end] != ':' {
				return nil, syntaxErr(text, end, "placeholder shares its segment with text (a placeholder fills a whole segment)")
			}
			dotted := text[start+1 : end-1]
			t.lits = append(t.lits, text[litStart:start])
			t.holes = append(t.holes, hole{text: dotted, path: strings.Split(dotted, ".")})
			litStart = end
			i = end
		} else {
			for ; i < len(text) && text[i] != ':'; i++ {
				switch c := text[i]; c {
				case '{':
					return nil, syntaxErr(text, i, "placeholder shares its segment with text (a placeholder fills a whole segment)")
				case '}':
					return nil, syntaxErr(text, i, "'}' without a matching '{'")
				case '*', ',':
					return nil, syntaxErr(text, i, fmt.Sprintf("pattern character %q (a template names one resource, never a pattern)", c))
				}
			}
			if i == start {
				return nil, syntaxErr(text, i, "empty segment")
			}
			if err := checkLiteral(text, start, i); err != nil {
				return nil, err
			}
		}
		if i == len(text) {
			break
		}
	}
	t.lits = append(t.lits, text[litStart:])
	return t, nil
}

// MustParse is Parse for templates known to be valid; it panics otherwise.
func MustParse(text string) *Template {
	t, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return t
}

// parsePlaceholder reads the placeholder whose '{' is at open and returns
// the offset just past its '}'. Paths are restricted to dotted identifiers so
// that a placeholder can never be confused with literal text or a pattern,
// and so that every path element is something a struct field, JSON name or
// map key can be.
func parsePlaceholder(text string, open int) (int, error) {
	elem := open + 1 // start of the current path element
	for i := open + 1; ; i++ {
		if i == len(text) {
			return 0, syntaxErr(text, open, "unclosed '{'")
		}
		c := text[i]
		switch {
		case c == '}':
			if i == open+1 {
				return 0, syntaxErr(text, open, "empty placeholder {}")
			}
			if i == elem {
				return 0, syntaxErr(text, i, "empty element in placeholder path")
			}
			return i + 1, nil
		case c == '.':
			if i == elem {
				return 0, syntaxErr(text, i, "empty element in placeholder path")
			}
			elem = i + 1
		case c == '{':
			return 0, syntaxErr(text, i, "nested '{'")
		case c == ':':
			return 0, syntaxErr(text, open, "unclosed '{' (a placeholder cannot span ':')")
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9':
			if i == elem {
				return 0, syntaxErr(text, i, "placeholder path element starts with a digit")
			}
		default:
			return 0, syntaxErr(text, i, fmt.Sprintf("%s in placeholder path (use letters, digits, '_' and '.')", describeByte(text, i)))
		}
	}
}

// checkLiteral validates the literal segment text[start:end] with the name
// rules (SPEC 1.1) and, when they reject it, finds the offending character so
// the error can point at it in the template rather than in the segment.
func checkLiteral(text string, start, end int) error {
	seg := text[start:end]
	err := pattern.CheckName(seg)
	if err == nil {
		return nil
	}
	// Separators, pattern characters and braces were rejected already, so
	// CheckName objects to a single character; checking each one alone
	// finds it without restating the name rules here.
	for i := 0; i < len(seg); {
		_, size := utf8.DecodeRuneInString(seg[i:])
		if cerr := pattern.CheckName(seg[i : i+size]); cerr != nil {
			return &syntaxError{text: text, at: start + i, what: describeByte(text, start+i) + " is not allowed in a name", err: cerr}
		}
		i += size
	}
	return &syntaxError{text: text, at: start, what: "invalid literal segment", err: err}
}

// describeByte names the character at text[i] for an error message, in
// words when quoting it would show nothing useful.
func describeByte(text string, i int) string {
	r, size := utf8.DecodeRuneInString(text[i:])
	switch {
	case r == utf8.RuneError && size <= 1:
		return "invalid UTF-8"
	case r == ' ':
		return "space"
	case r < 0x20 || r == 0x7f || r >= utf8.RuneSelf:
		return fmt.Sprintf("character %U", r)
	}
	return fmt.Sprintf("%q", r)
}

type syntaxError struct {
	text string
	at   int
	what string
	err  error // the name rule that rejected a literal, if any
}

func syntaxErr(text string, at int, what string) error {
	return &syntaxError{text: text, at: at, what: what}
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%v: %s: %s at byte %d", ErrInvalidTemplate, quote(e.text), e.what, e.at)
}

// Unwrap exposes the name error too, so callers can tell a literal that
// breaks SPEC 1.1 from a broken placeholder.
func (e *syntaxError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalidTemplate, e.err}
	}
	return []error{ErrInvalidTemplate}
}

// String returns the template as written.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.text
}

// Placeholders returns the dotted path of each placeholder, in order,
// repeats included. The slice is the caller's.
func (t *Template) Placeholders() []string {
	if t == nil || len(t.holes) == 0 {
		return nil
	}
	out := make([]string, len(t.holes))
	for i, h := range t.holes {
		out[i] = h.text
	}
	return out
}

// quote renders text for an error message: Go-quoted, so that control
// characters, invisible characters and invalid UTF-8 are visible and cannot
// forge log lines, and cut to about 80 bytes of output, because escapes
// can make a short hostile input many times longer once quoted.
func quote(s string) string {
	const max = 80
	q := strconv.Quote(s)
	if len(q) <= max+2 {
		return q
	}
	b := []byte{'"'}
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		r := strconv.Quote(s[i : i+size])
		if len(b)+len(r)-2 > max {
			break
		}
		b = append(b, r[1:len(r)-1]...)
		i += size
	}
	return string(b) + `…"`
}
