package config

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// value is one TOML value and the byte offset where it was written. go-toml's
// decoded maps forget key order and positions, and key order is rule order,
// so the document is rebuilt here from the parser's AST.
type value struct {
	// kind is unstable.Table for every table: [header], inline or implicit.
	kind   unstable.Kind
	origin origin // for tables
	off    int
	str    string // for strings: the decoded text; for booleans: true or false; for integers: as written
	end    int    // for scalars: the offset past the value as written

	fields []*field // tables: in the order the keys were first written
	index  map[string]*field

	elems []*value // arrays
	// tables marks an array made by [[header]] lines, which later headers
	// extend; a static array `k = [...]` cannot be.
	tables bool
}

// origin is how a table came to be, which decides how TOML lets it be
// extended later.
type origin uint8

const (
	implicit origin = iota // only named on the way to a longer [a.header]
	header                 // [header], an element of [[header]], or the root
	dotted                 // made by a dotted key, a.b = 1
	inline                 // { ... }, closed once written
)

type field struct {
	key string
	off int // of the key, as written in the line or header that made it
	val *value
}

func (t *value) get(key string) *field { return t.index[key] }

func (t *value) add(key string, off int, v *value) {
	if t.index == nil {
		t.index = make(map[string]*field)
	}
	f := &field{key: key, off: off, val: v}
	t.fields = append(t.fields, f)
	t.index[key] = f
}

type keyPart struct {
	name     string
	off, end int
}

// notChecked ends the diagnostic of a TOML syntax error: the parser
// cannot go on past it, so no other problem in the file was looked for,
// and a file that shows one problem may have more.
const notChecked = "the TOML parser stops here, so no other check ran"

// readTree parses the whole document into an ordered tree, enforcing TOML's
// rules on defining keys and tables. go-toml's own decoder also enforces
// them, but in time quadratic in the number of keys, which a large or hostile
// policy must not cost. After a syntax error nothing can be trusted, so the
// tree is nil.
func (r *reader) readTree() *value {
	var p unstable.Parser
	p.Reset(r.data)
	root := &value{kind: unstable.Table, origin: header}
	cur, path := root, (*keyPath)(nil)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			r.keyValue(cur, path, e)
		case unstable.Table, unstable.ArrayTable:
			cur, path = r.header(root, e)
		}
	}
	if err := p.Error(); err != nil {
		off := 0
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			// The highlight is a subslice of r.data, whose capacity is its
			// length, so the capacities give the offset.
			off = len(r.data) - cap(perr.Highlight)
		}
		r.errorf(off, "invalid TOML: %s (%s)", err.Error(), notChecked)
		return nil
	}
	return root
}

func (r *reader) keyParts(n *unstable.Node) []keyPart {
	var parts []keyPart
	for it := n.Key(); it.Next(); {
		k := it.Node()
		off := int(k.Raw.Offset)
		parts = append(parts, keyPart{name: string(k.Data), off: off, end: off + int(k.Raw.Length)})
	}
	return parts
}

// header handles a [table] or [[array.of.tables]] line and returns the
// table the following key/value lines go into, and its path.
func (r *reader) header(root *value, e *unstable.Node) (*value, *keyPath) {
	parts := r.keyParts(e)
	detached := &value{kind: unstable.Table, origin: header}
	if len(parts) == 0 {
		return detached, nil
	}
	start := r.headerStart(parts[0].off)
	t, path := root, (*keyPath)(nil)
	for _, k := range parts[:len(parts)-1] {
		if t = r.descend(t, path, k, implicit); t == nil {
			return detached, nil
		}
		path = path.child(k.name)
	}
	last := parts[len(parts)-1]
	path = path.child(last.name)
	f := t.get(last.name)
	if e.Kind == unstable.Table {
		switch {
		case f == nil:
			nt := &value{kind: unstable.Table, origin: header, off: start}
			t.add(last.name, last.off, nt)
			return nt, path
		case f.val.kind == unstable.Table && f.val.origin == implicit:
			f.val.origin = header
			return f.val, path
		case f.val.kind == unstable.Table && f.val.origin == dotted:
			r.redefined(last.off, path, f, "; a table made by dotted keys cannot be reopened with a [header]")
		case f.val.tables:
			r.redefined(last.off, path, f, "; add to an array of tables with [["+path.String()+"]]")
			return detached, path
		default:
			r.redefined(last.off, path, f, "")
		}
		if f.val.kind == unstable.Table {
			// The file is already refused. Reading on into the first
			// definition checks the keys that follow where the user
			// meant them to go, so one run reports them too, rather
			// than a rule said to have no allow because its allow sat
			// under the second header.
			return f.val, path
		}
		return detached, path
	}
	switch {
	case f == nil:
		f = &field{key: last.name, off: last.off, val: &value{kind: unstable.Array, off: start, tables: true}}
		t.add(f.key, f.off, f.val)
		fallthrough
	case f.val.tables:
		nt := &value{kind: unstable.Table, origin: header, off: start}
		f.val.elems = append(f.val.elems, nt)
		return nt, path
	}
	r.redefined(last.off, path, f, "; [["+path.String()+"]] needs an array of tables")
	return detached, path
}

// descend follows one part of a dotted key (how = dotted) or of a header
// (how = implicit) into the table it names, creating it if needed. It returns
// nil, having reported why, when TOML does not allow that.
func (r *reader) descend(t *value, path *keyPath, k keyPart, how origin) *value {
	f := t.get(k.name)
	if f == nil {
		nt := &value{kind: unstable.Table, origin: how, off: k.off}
		t.add(k.name, k.off, nt)
		return nt
	}
	v := f.val
	switch {
	case how == dotted && v.kind == unstable.Table && v.origin == dotted:
		return v
	case how == dotted && v.kind == unstable.Table && v.origin != inline:
		r.redefined(k.off, path.child(k.name), f, "; dotted keys cannot add to a table defined elsewhere")
	case how == implicit && v.kind == unstable.Table && v.origin != inline:
		return v
	case how == implicit && v.tables:
		// A header path through an array of tables goes into its last table.
		return v.elems[len(v.elems)-1]
	default:
		r.redefined(k.off, path.child(k.name), f, "")
	}
	return nil
}

func (r *reader) redefined(off int, path *keyPath, first *field, hint string) {
	r.errorf(off, "invalid TOML: %s is already defined at %s%s", path, r.pos(first.off), hint)
}

func (r *reader) keyValue(t *value, path *keyPath, kv *unstable.Node) {
	parts := r.keyParts(kv)
	if len(parts) == 0 {
		return
	}
	for _, k := range parts[:len(parts)-1] {
		if t = r.descend(t, path, k, dotted); t == nil {
			return
		}
		path = path.child(k.name)
	}
	last := parts[len(parts)-1]
	path = path.child(last.name)
	if f := t.get(last.name); f != nil {
		r.redefined(last.off, path, f, "")
		return
	}
	v, _ := r.build(kv.Value(), r.valueStart(last.end), path)
	t.add(last.name, last.off, v)
}

// build converts a value node that starts at offset start and returns where
// it ends. The parser records no range for arrays, so their positions are
// found by scanning the text between the elements it does know.
func (r *reader) build(n *unstable.Node, start int, path *keyPath) (*value, int) {
	switch n.Kind {
	case unstable.Array:
		v := &value{kind: unstable.Array, off: start}
		off := r.skipTrivia(start + 1)
		for it := n.Children(); it.Next(); {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			ep := path
			if c.Kind == unstable.Array || c.Kind == unstable.InlineTable {
				// Only containers hold keys that an error could name.
				ep = path.elem(len(v.elems) + 1)
			}
			e, end := r.build(c, off, ep)
			v.elems = append(v.elems, e)
			off = r.skipSeparator(end)
		}
		return v, off + 1 // past ']'
	case unstable.InlineTable:
		v := &value{kind: unstable.Table, origin: inline, off: int(n.Raw.Offset)}
		end := v.off + 1
		for it := n.Children(); it.Next(); {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			r.keyValue(v, path, kv)
			end = int(kv.Raw.Offset + kv.Raw.Length)
		}
		return v, r.skipSeparator(end) + 1 // past '}'
	}
	v := &value{kind: n.Kind, off: int(n.Raw.Offset), end: int(n.Raw.Offset + n.Raw.Length)}
	if n.Kind == unstable.String || n.Kind == unstable.Bool || n.Kind == unstable.Integer {
		v.str = string(n.Data) // a boolean or integer keeps its text
	}
	return v, int(n.Raw.Offset + n.Raw.Length)
}

// skipTrivia skips whitespace, newlines and comments.
func (r *reader) skipTrivia(off int) int {
	for off < len(r.data) {
		switch r.data[off] {
		case ' ', '\t', '\r', '\n':
			off++
		case '#':
			i := bytes.IndexByte(r.data[off:], '\n')
			if i < 0 {
				return len(r.data)
			}
			off += i + 1
		default:
			return off
		}
	}
	return off
}

// skipSeparator skips what may follow an array element or inline-table entry
// up to the next element or the closing bracket: trivia, a comma, trivia.
func (r *reader) skipSeparator(off int) int {
	off = r.skipTrivia(off)
	if off < len(r.data) && r.data[off] == ',' {
		off = r.skipTrivia(off + 1)
	}
	return off
}

// valueStart finds the value of `key = value` from the end of its key.
func (r *reader) valueStart(keyEnd int) int {
	off := r.skipBlanks(keyEnd)
	if off < len(r.data) && r.data[off] == '=' {
		off++
	}
	return r.skipBlanks(off)
}

func (r *reader) skipBlanks(off int) int {
	for off < len(r.data) && (r.data[off] == ' ' || r.data[off] == '\t') {
		off++
	}
	return off
}

// headerStart finds the '[' of a header from its first key, so that a
// header's position is where the line's text begins.
func (r *reader) headerStart(keyOff int) int {
	off := keyOff
	for off > 0 && (r.data[off-1] == ' ' || r.data[off-1] == '\t') {
		off--
	}
	for range 2 {
		if off > 0 && r.data[off-1] == '[' {
			off--
		}
	}
	return off
}

// keyPath is where a key is, for messages. It is a list linked towards the
// root and spelt out only for an error: spelling every path as it is entered
// would cost time quadratic in the nesting.
type keyPath struct {
	up    *keyPath
	key   string
	index int // when > 0, this is the index-th element of the array at up
}

func (p *keyPath) child(key string) *keyPath { return &keyPath{up: p, key: key} }

func (p *keyPath) elem(i int) *keyPath { return &keyPath{up: p, index: i} }

func (p *keyPath) String() string {
	var parts []*keyPath
	for q := p; q != nil; q = q.up {
		parts = append(parts, q)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.index > 0 {
			b.WriteString("[" + strconv.Itoa(q.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteKey(q.key))
	}
	return b.String()
}
