package template

import (
	"encoding"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/warden-authz/warden/internal/pattern"
)

// ErrInvalidReference is wrapped by every Resolve error: a placeholder no
// source has, a value of a type that has no single text form, or a value
// that is not exactly one valid segment.
var ErrInvalidReference = errors.New("invalid reference")

// Error is the error Resolve returns. It wraps ErrInvalidReference and, when
// a value broke the name rules, the pattern.ErrInvalidName error saying how.
type Error struct {
	Template    string // the template as written
	Placeholder string // the dotted path that failed; "" when the whole result did
	Reason      string
	Err         error // the underlying cause, if any
}

func (e *Error) Error() string {
	if e == nil {
		return ErrInvalidReference.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v: template %s: ", ErrInvalidReference, quote(e.Template))
	if e.Placeholder != "" {
		b.WriteString("{" + e.Placeholder + "}: ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	if e == nil {
		return []error{ErrInvalidReference}
	}
	if e.Err != nil {
		return []error{ErrInvalidReference, e.Err}
	}
	return []error{ErrInvalidReference}
}

// Source is one place placeholder values come from. It is a small value,
// not an interface, so that building one and passing several to Resolve
// allocates nothing, and so that the built-in sources can hand Resolve a
// field's string or integer directly instead of boxing it into an any.
// The zero Source has no values.
type Source struct {
	v    any
	kind sourceKind
}

type sourceKind uint8

const (
	srcReflect  sourceKind = iota // a struct, pointer or map, read by reflection
	srcAnyMap                     // map[string]any, read without reflection
	srcStrMap                     // map[string]string
	srcValues                     // Values: dotted keys first
	srcLookuper                   // a Lookuper
	srcRequest                    // an *http.Request
	srcBare                       // Bare: one value, named "value"
)

// Lookuper is a custom source. Lookup receives the placeholder's path split
// at the dots; it must not modify or retain the slice, which belongs to the
// template. ok reports whether the source has the path at all: when it is
// true the value is used, and if Resolve rejects it no later source is
// asked.
type Lookuper interface {
	Lookup(path []string) (value any, ok bool)
}

// LookupFunc adapts a function to Lookuper. A nil LookupFunc has no
// values.
type LookupFunc func(path []string) (value any, ok bool)

func (f LookupFunc) Lookup(path []string) (any, bool) {
	if f == nil {
		return nil, false
	}
	return f(path)
}

// Value makes a source of v:
//
//   - a Source or a Lookuper is used as is;
//   - an *http.Request is Request(v), never its struct fields;
//   - a struct, or a pointer to one, yields its fields, named as encoding/json
//     names them (the json tag's name, else the field name; `json:"-"` and
//     unexported fields are hidden; embedded structs' fields are promoted);
//   - a map with string keys yields its entries;
//   - each further path element walks into the field's or entry's value, and
//     pointers and interfaces on the way are followed.
//
// Anything else, and a nil v, has no values.
func Value(v any) Source {
	switch x := v.(type) {
	case Source:
		return x
	case Lookuper:
		return Source{v: x, kind: srcLookuper}
	case *http.Request:
		return Request(x)
	case map[string]any:
		return Source{v: x, kind: srcAnyMap}
	case map[string]string:
		return Source{v: x, kind: srcStrMap}
	}
	return Source{v: v}
}

// Values makes a source of explicit values, such as a guarded function's
// named arguments. A key may be a whole dotted path ("user.id"), which wins;
// otherwise the path's first element is the key and the rest walks into its
// value as Value does.
func Values(m map[string]any) Source {
	return Source{v: m, kind: srcValues}
}

// Bare makes a source of one value with no names of its own, such as a
// guarded function's string or integer argument: it fills the placeholder
// "{value}" and no other, as Values(map[string]any{"value": v}) does,
// without making the map.
func Bare(v any) Source {
	return Source{v: v, kind: srcBare}
}

// Resolve fills the template and returns the resource name. Sources are
// tried in order for each placeholder; the first that has the path supplies
// the value, and a bad value there is an error rather than a reason to look
// further, because falling through would let one source's hostile value
// silently turn into another's.
//
// A value may be a string, an integer of any kind, a bool, or implement
// encoding.TextMarshaler or fmt.Stringer (preferred in that order over its
// kind); pointers and interfaces are followed. It must then be exactly one
// valid segment (SPEC 7.4). Every failure is an *Error wrapping
// ErrInvalidReference, and the returned string is then empty.
//
// The only allocation is the result string; templates without placeholders
// return their own text and allocate nothing.
func (t *Template) Resolve(sources ...Source) (string, error) {
	if t == nil {
		return "", nil
	}
	if len(t.holes) == 0 {
		return t.text, nil
	}
	var arr [256]byte // results are short; a long one just moves to the heap
	buf, err := t.append(arr[:0], sources)
	if err != nil {
		return "", err
	}
	// No second pass over the whole name: each literal segment passed
	// pattern.CheckName at Parse, each value passed it alone, none is empty
	// or holds a ':', the segment count is the template's (at most 64) and
	// append enforced the byte limit. The property and fuzz tests check
	// every result with CheckName; re-checking here would cost a quarter of
	// the call.
	return string(buf), nil
}

// srcState caches, per Resolve, a reflected source's plan and its root
// with the leading pointers already followed, so that a template with
// several placeholders does that work once.
type srcState struct {
	root    reflect.Value
	plan    *plan
	nilRoot bool // a nil pointer on the way to the root: the placeholders the type has are errors
}

func (t *Template) append(buf []byte, sources []Source) ([]byte, error) {
	var states [4]srcState
	for i := range t.holes {
		buf = append(buf, t.lits[i]...)
		h := &t.holes[i]
		found := false
		for j := range sources {
			var st *srcState
			if j < len(states) {
				st = &states[j]
			} else {
				st = new(srcState)
			}
			var err error
			buf, found, err = t.lookup(buf, i, &sources[j], st)
			if err != nil {
				return nil, t.holeErr(h, err)
			}
			if found {
				break
			}
		}
		if !found {
			return nil, &Error{Template: t.text, Placeholder: h.text, Reason: "no source has a value for it" + missingHint(sources, h.path)}
		}
		if len(buf) > pattern.MaxBytes {
			// Stop before appending more: the name can only grow.
			return nil, &Error{Template: t.text, Reason: fmt.Sprintf("resolved name is over the limit of %d bytes", pattern.MaxBytes)}
		}
	}
	buf = append(buf, t.lits[len(t.holes)]...)
	if len(buf) > pattern.MaxBytes {
		return nil, &Error{Template: t.text, Reason: fmt.Sprintf("resolved name is %d bytes, over the limit of %d", len(buf), pattern.MaxBytes)}
	}
	return buf, nil
}

// valueError is an internal failure before the placeholder is known.
type valueError struct {
	reason string
	err    error
}

func (e *valueError) Error() string { return e.reason }

func (t *Template) holeErr(h *hole, err error) error {
	ve, ok := err.(*valueError)
	if !ok {
		return &Error{Template: t.text, Placeholder: h.text, Reason: "lookup failed", Err: err}
	}
	return &Error{Template: t.text, Placeholder: h.text, Reason: ve.reason, Err: ve.err}
}

// lookup appends hole i's value from one source. found reports whether the
// source has the path; err, whether the value it has is unusable.
func (t *Template) lookup(buf []byte, i int, s *Source, st *srcState) (_ []byte, found bool, _ error) {
	h := &t.holes[i]
	switch s.kind {
	case srcAnyMap:
		return lookupAny(buf, s.v.(map[string]any), h.path)
	case srcStrMap:
		if len(h.path) != 1 {
			return buf, false, nil
		}
		v, ok := s.v.(map[string]string)[h.path[0]]
		if !ok {
			return buf, false, nil
		}
		buf, err := appendString(buf, v)
		return buf, true, err
	case srcValues:
		m := s.v.(map[string]any)
		if x, ok := m[h.text]; ok {
			buf, err := appendAny(buf, x)
			return buf, true, err
		}
		if len(h.path) == 1 {
			return buf, false, nil
		}
		return lookupAny(buf, m, h.path)
	case srcLookuper:
		x, ok := s.v.(Lookuper).Lookup(h.path)
		if !ok {
			return buf, false, nil
		}
		buf, err := appendAny(buf, x)
		return buf, true, err
	case srcBare:
		if h.path[0] != "value" {
			return buf, false, nil
		}
		if len(h.path) == 1 {
			buf, err := appendAny(buf, s.v)
			return buf, true, err
		}
		return lookupAny(buf, map[string]any{"value": s.v}, h.path)
	case srcRequest:
		v, ok, err := lookupRequest(s.v.(*http.Request), h.path)
		if !ok || err != nil {
			return buf, ok, err
		}
		buf, err = appendString(buf, v)
		return buf, true, err
	}
	if s.v == nil {
		return buf, false, nil
	}
	if st.plan == nil {
		root := reflect.ValueOf(s.v)
		st.plan = t.planFor(root.Type())
		for range st.plan.derefs {
			if root.IsNil() {
				st.nilRoot = true
				break
			}
			root = root.Elem()
		}
		st.root = root
	}
	a := &st.plan.holes[i]
	if a.absent {
		return buf, false, nil
	}
	if st.nilRoot {
		return buf, true, nilErr(st.root)
	}
	return a.append(buf, st.root)
}

// lookupAny walks nested map[string]any values, the shape decoded JSON has,
// without reflection, and hands anything else to the reflective walker.
func lookupAny(buf []byte, m map[string]any, path []string) ([]byte, bool, error) {
	x, ok := m[path[0]]
	if !ok {
		return buf, false, nil
	}
	for n := 1; n < len(path); n++ {
		if x == nil {
			return buf, true, &valueError{reason: "nil on the way"}
		}
		next, isMap := x.(map[string]any)
		if !isMap {
			v, found, err := walk(reflect.ValueOf(x), path[n:])
			if !found || err != nil {
				return buf, found, err
			}
			buf, err = appendValue(buf, v, leafOf(v.Type()))
			return buf, true, err
		}
		if x, ok = next[path[n]]; !ok {
			return buf, false, nil
		}
	}
	buf, err := appendAny(buf, x)
	return buf, true, err
}

// appendAny writes a value that arrived as an any. The common exact types
// are handled without reflection.
func appendAny(buf []byte, x any) ([]byte, error) {
	switch v := x.(type) {
	case string:
		return appendString(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(buf, v, 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case nil:
		return buf, &valueError{reason: "value is nil"}
	}
	rv := reflect.ValueOf(x)
	return appendValue(buf, rv, leafOf(rv.Type()))
}

// appendString writes a string value after proving it is exactly one
// segment (SPEC 7.4). CheckName alone is not enough: it accepts ':' as a
// separator, and a value containing one would add segments to the name.
func appendString(buf []byte, s string) ([]byte, error) {
	if s == "" {
		return buf, &valueError{reason: "value is empty (it would leave an empty segment)"}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return buf, &valueError{reason: fmt.Sprintf("value %s contains ':' at byte %d (it would add a segment)", quote(s), i)}
	}
	if err := pattern.CheckName(s); err != nil {
		return buf, &valueError{reason: "value is not a valid segment", err: err}
	}
	return append(buf, s...), nil
}

// textOf calls a TextMarshaler or Stringer. Both run user code, so a nil
// pointer is refused first rather than left to panic inside the method.
func textOf(v reflect.Value, k leafKind) (string, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return "", &valueError{reason: fmt.Sprintf("value is a nil %s", v.Type())}
		}
	}
	if !v.CanInterface() {
		return "", &valueError{reason: fmt.Sprintf("value of type %s is not exported", v.Type())}
	}
	if k == leafText {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return "", &valueError{reason: fmt.Sprintf("%s.MarshalText failed", v.Type()), err: err}
		}
		return string(b), nil
	}
	return v.Interface().(fmt.Stringer).String(), nil
}
