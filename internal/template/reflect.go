package template

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// field is a struct field reachable by name, possibly through embedded
// structs: index is as for reflect.Value.FieldByIndex.
type field struct {
	index []int
}

// structFields maps a struct reflect.Type to its map[string]field. It is
// filled once per type, so name lookups after the first are a map read.
var structFields sync.Map

func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := structFields.Load(t); ok {
		return f.(map[string]field)
	}
	f, _ := structFields.LoadOrStore(t, typeFields(t))
	return f.(map[string]field)
}

// typeFields names a struct's fields the way encoding/json does, because
// the struct a guard reads is usually the one its handler decoded from or
// encodes to JSON, and `{user.id}` should mean what the JSON says. Embedded
// structs are promoted breadth first; for each name the shallowest field
// wins, a tagged one breaks a tie, and a tie that remains hides the name.
func typeFields(t reflect.Type) map[string]field {
	type candidate struct {
		name   string
		index  []int
		depth  int
		tagged bool
	}
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	var cands []candidate
	visited := map[reflect.Type]bool{}
	next := []embedded{{typ: t}}
	for depth := 0; len(next) > 0; depth++ {
		current := next
		next = nil
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := range e.typ.NumField() {
				sf := e.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				index := append(slices.Clip(e.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, embedded{typ: ft, index: index})
					continue
				}
				if !sf.IsExported() {
					continue // an unexported embedded struct is only a container
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				cands = append(cands, candidate{name: name, index: index, depth: depth, tagged: tagged})
			}
		}
	}
	// Candidates arrive in depth order, so the first of a name is the
	// shallowest; rivals at the same depth decide whether it survives.
	out := make(map[string]field)
	for i, c := range cands {
		if _, seen := out[c.name]; seen {
			continue
		}
		winner, ambiguous := c, false
		for _, r := range cands[i+1:] {
			if r.depth != c.depth {
				break
			}
			if r.name != c.name {
				continue
			}
			switch {
			case r.tagged && !winner.tagged:
				winner, ambiguous = r, false
			case r.tagged == winner.tagged:
				ambiguous = true
			}
		}
		if !ambiguous {
			out[c.name] = field{index: winner.index}
		} else {
			out[c.name] = field{} // present but hidden, so deeper rivals lose too
		}
	}
	for name, f := range out {
		if f.index == nil {
			delete(out, name)
		}
	}
	return out
}

// plan is how a Template reads each of its placeholders from one root type.
type plan struct {
	derefs int // pointers to follow from the root to the value the accesses start at
	holes  []access
}

// access reaches one placeholder. The static prefix of the path, the part
// that goes through struct fields and pointers whose types are known from
// the root type, is compiled to ops; only maps and interfaces, whose
// contents are known at run time alone, need the dynamic walker for the rest.
type access struct {
	ops    []op
	rest   []string // path elements left for walk
	absent bool     // the root type cannot have this path
	leaf   leafKind // how to write the value, when rest is empty
}

// op is a field index, or deref to follow a pointer.
type op int32

const deref op = -1

// maxListedPlans bounds the copy-on-write list a Template scans before its
// sync.Map: a guard sees one or a few argument types, and comparing a few
// type pointers is several times cheaper than hashing an interface key.
const maxListedPlans = 8

type planEntry struct {
	typ  reflect.Type
	plan *plan
}

func (t *Template) planFor(rt reflect.Type) *plan {
	if list := t.plans.Load(); list != nil {
		for i := range *list {
			if (*list)[i].typ == rt {
				return (*list)[i].plan
			}
		}
	}
	if p, ok := t.morePlans.Load(rt); ok {
		return p.(*plan)
	}
	return t.addPlan(rt)
}

func (t *Template) addPlan(rt reflect.Type) *plan {
	t.plansMu.Lock()
	defer t.plansMu.Unlock()
	var list []planEntry
	if cur := t.plans.Load(); cur != nil {
		list = *cur
	}
	for _, e := range list {
		if e.typ == rt {
			return e.plan
		}
	}
	if p, ok := t.morePlans.Load(rt); ok {
		return p.(*plan)
	}
	p := t.compilePlan(rt)
	if len(list) < maxListedPlans {
		next := append(slices.Clip(list), planEntry{typ: rt, plan: p})
		t.plans.Store(&next)
	} else {
		t.morePlans.Store(rt, p)
	}
	return p
}

func (t *Template) compilePlan(rt reflect.Type) *plan {
	p := &plan{holes: make([]access, len(t.holes))}
	for rt.Kind() == reflect.Pointer {
		if p.derefs++; p.derefs > maxIndirections {
			// type P *P: every placeholder is absent rather than a hang.
			for i := range p.holes {
				p.holes[i].absent = true
			}
			p.derefs = 0
			return p
		}
		rt = rt.Elem()
	}
	for i, h := range t.holes {
		p.holes[i] = compile(rt, h.path)
	}
	return p
}

// maxIndirections bounds the pointers and interfaces followed in a row, so
// that a self-referential type (type P *P) or value (x = &x) cannot make
// resolving loop forever.
const maxIndirections = 32

var errIndirections = &valueError{reason: fmt.Sprintf("more than %d pointers or interfaces in a row", maxIndirections)}

func compile(t reflect.Type, path []string) access {
	var ops []op
	for n, name := range path {
		for hops := 0; t.Kind() == reflect.Pointer; hops++ {
			if hops == maxIndirections {
				return access{absent: true}
			}
			ops = append(ops, deref)
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
		case reflect.Interface:
			return access{ops: ops, rest: path[n:]}
		case reflect.Map:
			if t.Key().Kind() != reflect.String {
				return access{absent: true}
			}
			return access{ops: ops, rest: path[n:]}
		default:
			return access{absent: true}
		}
		f, ok := fieldsOf(t)[name]
		if !ok {
			return access{absent: true}
		}
		for j, idx := range f.index {
			if j > 0 && t.Kind() == reflect.Pointer { // an embedded *T; never **T
				ops = append(ops, deref)
				t = t.Elem()
			}
			ops = append(ops, op(idx))
			t = t.Field(idx).Type
		}
	}
	return access{ops: ops, leaf: leafOf(t)}
}

func (a *access) append(buf []byte, v reflect.Value) ([]byte, bool, error) {
	for _, o := range a.ops {
		if o == deref {
			if v.IsNil() {
				return buf, true, nilErr(v)
			}
			v = v.Elem()
		} else {
			v = v.Field(int(o))
		}
	}
	if a.leaf == leafString && len(a.rest) == 0 {
		buf, err := appendString(buf, v.String())
		return buf, true, err
	}
	leaf := a.leaf
	if len(a.rest) > 0 {
		var found bool
		var err error
		if v, found, err = walk(v, a.rest); !found || err != nil {
			return buf, found, err
		}
		leaf = leafOf(v.Type())
	}
	buf, err := appendValue(buf, v, leaf)
	return buf, true, err
}

func nilErr(v reflect.Value) error {
	return &valueError{reason: fmt.Sprintf("nil %s on the way", v.Type())}
}

// walk follows path from v through struct fields, string-keyed map entries,
// pointers and interfaces, for the parts of a path whose types are only
// known at run time.
func walk(v reflect.Value, path []string) (reflect.Value, bool, error) {
	for _, name := range path {
		for hops := 0; v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface; hops++ {
			if hops == maxIndirections {
				return v, true, errIndirections
			}
			if v.IsNil() {
				return v, true, nilErr(v)
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			f, ok := fieldsOf(v.Type())[name]
			if !ok {
				return v, false, nil
			}
			for j, idx := range f.index {
				if j > 0 && v.Kind() == reflect.Pointer {
					if v.IsNil() {
						return v, true, nilErr(v)
					}
					v = v.Elem()
				}
				v = v.Field(idx)
			}
		case reflect.Map:
			kt := v.Type().Key()
			if kt.Kind() != reflect.String {
				return v, false, nil
			}
			e := v.MapIndex(reflect.ValueOf(name).Convert(kt))
			if !e.IsValid() {
				return v, false, nil
			}
			v = e
		default:
			return v, false, nil
		}
	}
	return v, true, nil
}

// leafKind is how a value of some type is written into a name.
type leafKind uint8

const (
	leafInvalid  leafKind = iota
	leafText              // encoding.TextMarshaler
	leafStringer          // fmt.Stringer
	leafString
	leafInt
	leafUint
	leafBool
	leafIndirect // a pointer or interface: follow it and decide again
)

var (
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	stringerType      = reflect.TypeFor[fmt.Stringer]()
)

// leafKinds caches leafKind per reflect.Type: Implements walks method sets.
var leafKinds sync.Map

// leafOf decides how to write a type. Methods win over the kind because a
// type that defines its text form (an enum's name, a UUID) means that form,
// not its underlying number or bytes; TextMarshaler wins over Stringer
// because it is the form meant for machines, Stringer the one for people.
// Floats are refused: their text form is not canonical (1e6, 1000000, 1e+06)
// so one resource could be named several ways.
func leafOf(t reflect.Type) leafKind {
	if k, ok := leafKinds.Load(t); ok {
		return k.(leafKind)
	}
	k := computeLeaf(t)
	leafKinds.Store(t, k)
	return k
}

func computeLeaf(t reflect.Type) leafKind {
	if t.Kind() != reflect.Interface {
		if t.Implements(textMarshalerType) {
			return leafText
		}
		if t.Implements(stringerType) {
			return leafStringer
		}
	}
	switch t.Kind() {
	case reflect.String:
		return leafString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return leafInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return leafUint
	case reflect.Bool:
		return leafBool
	case reflect.Pointer, reflect.Interface:
		return leafIndirect
	}
	return leafInvalid
}

func appendValue(buf []byte, v reflect.Value, k leafKind) ([]byte, error) {
	for hops := 0; ; hops++ {
		switch k {
		case leafString:
			return appendString(buf, v.String())
		case leafInt:
			return strconv.AppendInt(buf, v.Int(), 10), nil
		case leafUint:
			return strconv.AppendUint(buf, v.Uint(), 10), nil
		case leafBool:
			return strconv.AppendBool(buf, v.Bool()), nil
		case leafText, leafStringer:
			s, err := textOf(v, k)
			if err != nil {
				return buf, err
			}
			return appendString(buf, s)
		case leafIndirect:
			if hops == maxIndirections {
				return buf, errIndirections
			}
			if v.IsNil() {
				return buf, &valueError{reason: fmt.Sprintf("value is a nil %s", v.Type())}
			}
			v = v.Elem()
			k = leafOf(v.Type())
		default:
			return buf, &valueError{reason: fmt.Sprintf("value of type %s is not a string, integer, bool, encoding.TextMarshaler or fmt.Stringer", v.Type())}
		}
	}
}

// missingHint says, for a placeholder no source had, which field names the
// struct sources were asked for, at the level where the path left them:
// a struct without json tags is read by its Go field names (Category, not
// category), which is the usual reason. It runs only on that error.
func missingHint(sources []Source, path []string) string {
	var b strings.Builder
	for _, s := range sources {
		if s.kind != srcReflect || s.v == nil {
			continue
		}
		rt, rest := reflect.TypeOf(s.v), path
		for {
			for hops := 0; rt.Kind() == reflect.Pointer && hops <= maxIndirections; hops++ {
				rt = rt.Elem() // bounded: type P *P
			}
			if rt.Kind() != reflect.Struct || len(rest) == 0 {
				break
			}
			fields := fieldsOf(rt)
			f, ok := fields[rest[0]]
			if ok {
				rt, rest = rt.FieldByIndex(f.index).Type, rest[1:]
				continue
			}
			names := make([]string, 0, len(fields))
			near := ""
			for name := range fields {
				names = append(names, name)
				if sf := rt.FieldByIndex(fields[name].index); strings.EqualFold(name, rest[0]) && sf.Name == name && sf.Tag.Get("json") == "" {
					near = name
				}
			}
			slices.Sort(names)
			fmt.Fprintf(&b, "; struct %s has no field %q: fields are looked up by their json names, which are %s", rt, rest[0], quoteNames(names))
			if near != "" {
				fmt.Fprintf(&b, " (a field without a json tag goes by its Go name: tag %s `json:%q` to read it as {%s})", near, rest[0], strings.Join(path, "."))
			}
			break
		}
	}
	return b.String()
}

func quoteNames(names []string) string {
	if len(names) == 0 {
		return "none (no exported field)"
	}
	const most = 20
	q := make([]string, 0, min(len(names), most))
	for _, n := range names[:min(len(names), most)] {
		q = append(q, strconv.Quote(n))
	}
	s := strings.Join(q, ", ")
	if len(names) > most {
		s += fmt.Sprintf(" and %d more", len(names)-most)
	}
	return s
}
