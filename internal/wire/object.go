package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/warden-authz/warden/types"
)

// Reading answers: the strict reader the decoders of decisions, batches,
// error objects, audit pages and readiness share.

// object is one JSON object split into its members, read field by field.
// Reading exact keys, rather than json.Unmarshal into a struct, is what
// makes the decoding strict: encoding/json matches keys without regard to
// case and lets a later duplicate win, so {"allowed":false,"Allowed":true}
// would allow.
type object struct {
	members []member // in document order; objects here have a few
	// index finds members by key once there are more than a few, so a
	// hostile answer with a million keys costs linear time, not
	// quadratic.
	index map[string]int
	err   error // the first problem; later reads do nothing
}

// smallObject is how many members are searched one by one.
const smallObject = 16

type member struct {
	key string
	val []byte // the value's JSON text, a slice of the answer
}

// parseObject splits data, which must be exactly one JSON object, into its
// members. A key that appears twice, and anything after the object, are
// errors.
//
// The text is checked with json.Valid first, which also bounds nesting
// depth, and then split by hand: a json.Decoder per object and per field
// took about ten times the time and memory, which a full batch of 10,000
// decisions felt.
func parseObject(data []byte) (*object, error) {
	if !json.Valid(data) {
		var v json.RawMessage
		return nil, notJSON(json.Unmarshal(data, &v))
	}
	return members(data)
}

// members is parseObject for text already checked: a value within an
// answer that parseObject or parseArray has split.
func members(data []byte) (*object, error) {
	o := &object{}
	if err := o.split(data); err != nil {
		return nil, err
	}
	return o, nil
}

// split fills o with the members of data, text already checked, reusing
// o's space: a batch decodes all its items with one object.
func (o *object) split(data []byte) error {
	o.members, o.index, o.err = o.members[:0], nil, nil
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return fmt.Errorf("want a JSON object, not %s", describeValue(data[i]))
	}
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := skipValue(data, i) // the key, a string
		key := unquote(data[i:end])
		if o.has(key) {
			return fmt.Errorf("field %q appears twice", clip(key, 64))
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		end = skipValue(data, i)
		o.members = append(o.members, member{key, data[i:end]})
		if o.index != nil {
			o.index[key] = len(o.members) - 1
		} else if len(o.members) > smallObject {
			o.index = make(map[string]int, 2*len(o.members))
			for j, m := range o.members {
				o.index[m.key] = j
			}
		}
		i = skipSpace(data, end)
	}
	return nil
}

// parseArray splits data, which must be one JSON array, into its
// elements' text. Like members, it takes text already checked.
func parseArray(data []byte) ([][]byte, error) {
	if data[0] != '[' {
		return nil, fmt.Errorf("want an array, not %s", describeValue(data[0]))
	}
	var out [][]byte
	i := skipSpace(data, 1)
	for data[i] != ']' {
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := skipValue(data, i)
		out = append(out, data[i:end])
		i = skipSpace(data, end)
	}
	return out, nil
}

// The scanner below works only on text json.Valid accepted, so it can
// take the grammar for granted: it never looks past the end, and it finds
// the end of each value by its first byte.

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the value starting at i.
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch data[i] {
			case '"':
				i = skipString(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(data) && !bytes.ContainsRune([]byte(" \t\n\r,]}"), rune(data[i])) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at i.
func skipString(data []byte, i int) int {
	for i++; data[i] != '"'; i++ {
		if data[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// unquote decodes the text of a JSON string that json.Valid accepted,
// exactly as encoding/json does (a fuzz test holds it to that): escapes,
// surrogate pairs, and U+FFFD for invalid UTF-8 and lone surrogates. It
// exists because json.Unmarshal costs an allocation of its own state per
// string, which dominated decoding a batch.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i++
			switch s[i] {
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
				r := hex4(s[i+1:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						r2 = hex4(s[i+3:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default: // '"', '\\' and '/' stand for themselves
				b = append(b, s[i])
			}
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for an invalid byte
			i += size
		}
	}
	return string(b)
}

// hex4 reads the four hex digits of a \u escape, which json.Valid has
// checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func describeValue(first byte) string {
	switch first {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func (o *object) get(key string) ([]byte, bool) {
	if o.index != nil {
		j, ok := o.index[key]
		if !ok {
			return nil, false
		}
		return o.members[j].val, true
	}
	for _, m := range o.members {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

func (o *object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

// field decodes member key into dst. A missing member is an error when
// required, and null is always one: encoding/json would leave dst as it
// was, turning "allowed": null into a silent false.
func (o *object) field(key string, required bool, dst any) {
	if o.err != nil {
		return
	}
	raw, ok := o.get(key)
	switch {
	case !ok && required:
		o.err = fmt.Errorf("field %q is missing", key)
		return
	case !ok:
		return
	case string(raw) == "null":
		o.err = fmt.Errorf("field %q is null", key)
		return
	}
	var err error
	switch dst := dst.(type) {
	case *bool: // the common cases, without reflection
		*dst, err = raw[0] == 't', nil
		if raw[0] != 't' && raw[0] != 'f' {
			err = errors.New("not a boolean")
		}
	case *string:
		if raw[0] != '"' {
			err = errors.New("not a string")
		} else {
			*dst = unquote(raw)
		}
	case *types.Effect:
		if raw[0] != '"' {
			err = errors.New("not a string")
		} else if bytes.IndexByte(raw, '\\') < 0 {
			err = dst.UnmarshalText(raw[1 : len(raw)-1])
		} else {
			err = dst.UnmarshalText([]byte(unquote(raw)))
		}
	case *int:
		// Valid JSON numbers only; Atoi refuses fractions and exponents,
		// as decoding into an int would.
		*dst, err = strconv.Atoi(string(raw))
	case *uint64:
		*dst, err = strconv.ParseUint(string(raw), 10, 64)
	case *map[string]any:
		// Numbers in free-form values (audit fields) stay as written
		// rather than rounded through float64.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		err = dec.Decode(dst)
	case *[]types.ConditionError:
		*dst, err = conditionErrors(raw)
	default:
		err = json.Unmarshal(raw, dst)
	}
	if err != nil {
		o.err = fmt.Errorf("field %q: want %s", key, describeType(dst))
	}
}

func describeType(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *types.Effect:
		return `"allow", "deny" or "none"`
	case *bool:
		return "true or false"
	case *int, *int64:
		return "an integer"
	case *uint64:
		return "a whole number, 0 or more"
	case *[]string:
		return "an array of strings"
	case *time.Time:
		return "an RFC 3339 time"
	case *map[string]any:
		return "an object"
	case *[]types.ConditionError:
		return `an array of {"rule", "when", "error"} objects`
	}
	return fmt.Sprintf("%T", dst)
}

func notJSON(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON: %v (at byte %d)", err, syn.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON: unexpected end")
	}
	return fmt.Errorf("not valid JSON: %w", err)
}

// conditionErrors decodes a decision's condition_errors with the same
// strictness as the decision itself: exact keys, each one required.
func conditionErrors(raw []byte) ([]types.ConditionError, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]types.ConditionError, 0, len(elems))
	for _, e := range elems {
		o, err := members(e)
		if err != nil {
			return nil, err
		}
		var ce types.ConditionError
		o.field("rule", true, &ce.Rule)
		o.field("when", true, &ce.When)
		o.field("error", true, &ce.Error)
		if o.err != nil {
			return nil, o.err
		}
		out = append(out, ce)
	}
	return out, nil
}
