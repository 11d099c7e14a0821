package engine

import (
	"hash/maphash"
	"slices"
	"strings"
)

// pmap is a persistent map from strings to V: a write makes a new map and
// leaves the old one as it was, sharing all but the path it changed. It is
// how runtime data reaches the compiled policy without a recompile and
// without a lock: a reader holds one version, a writer builds the next.
//
// The shape is a fixed two-level trie on a key's hash, 256 by 256, whose
// leaves are short arrays sorted by the rest of the hash. A lookup is one
// hash, two pointer loads, a binary search of a few integers and one
// string comparison; a write copies two 256-pointer nodes and one leaf. With a million keys a leaf holds about fifteen, so writes
// stay around a microsecond, where copying one big map would take
// milliseconds.
//
// The zero pmap is empty and ready to read. Writes go through a ptxn,
// which copies each node once per transaction and then changes its own
// copy in place, so loading a million records costs a million leaf
// inserts, not a million path copies.
type pmap[V any] struct {
	root *pnode[V]
	n    int
}

type pnode[V any] struct {
	kids  [256]*pmid[V]
	owner *ptxnTag
}

type pmid[V any] struct {
	leaves [256]*pleaf[V]
	owner  *ptxnTag
}

type pleaf[V any] struct {
	hashes []uint64 // ascending; keys and vals in the same order
	keys   []string
	vals   []V
	owner  *ptxnTag
}

// ptxnTag marks the nodes a transaction copied and may change in place.
type ptxnTag struct{ _ byte }

var pseed = maphash.MakeSeed()

func phash(key string) (a, b uint8, h uint64) {
	h = maphash.String(pseed, key)
	return uint8(h >> 56), uint8(h >> 48), h
}

// find returns where key is, or would go, in the leaf: the first entry
// whose hash is not below h, then past the entries of equal hash whose
// keys sort before key.
func (l *pleaf[V]) find(h uint64, key string) (int, bool) {
	i, j := 0, len(l.hashes)
	for i < j {
		m := int(uint(i+j) >> 1)
		if l.hashes[m] < h {
			i = m + 1
		} else {
			j = m
		}
	}
	for ; i < len(l.hashes) && l.hashes[i] == h; i++ {
		switch {
		case l.keys[i] == key:
			return i, true
		case l.keys[i] > key:
			return i, false
		}
	}
	return i, false
}

// Len returns the number of keys.
func (m *pmap[V]) Len() int { return m.n }

// get returns the value of key and whether the map holds it.
func (m *pmap[V]) get(key string) (V, bool) {
	var zero V
	if m.root == nil {
		return zero, false
	}
	a, b, h := phash(key)
	mid := m.root.kids[a]
	if mid == nil {
		return zero, false
	}
	l := mid.leaves[b]
	if l == nil {
		return zero, false
	}
	i, ok := l.find(h, key)
	if !ok {
		return zero, false
	}
	return l.vals[i], true
}

// each calls fn with every key and value, in no particular order, until
// fn returns false.
func (m *pmap[V]) each(fn func(string, V) bool) {
	if m.root == nil {
		return
	}
	for _, mid := range m.root.kids {
		if mid == nil {
			continue
		}
		for _, l := range mid.leaves {
			if l == nil {
				continue
			}
			for i, k := range l.keys {
				if !fn(k, l.vals[i]) {
					return
				}
			}
		}
	}
}

// ptxn changes a pmap: set and del apply to the transaction's own copy,
// and done returns it. The map the transaction started from never
// changes. A ptxn is for one goroutine.
type ptxn[V any] struct {
	m   pmap[V]
	tag *ptxnTag
}

func (m pmap[V]) txn() *ptxn[V] { return &ptxn[V]{m: m, tag: new(ptxnTag)} }

// done ends the transaction and returns the new map; the transaction must
// not be used again.
func (t *ptxn[V]) done() pmap[V] {
	m := t.m
	t.tag = nil
	return m
}

func (t *ptxn[V]) leaf(key string, create bool) *pleaf[V] {
	a, b, _ := phash(key)
	root := t.m.root
	switch {
	case root == nil && !create:
		return nil
	case root == nil:
		root = &pnode[V]{owner: t.tag}
	case root.owner != t.tag:
		c := *root
		c.owner = t.tag
		root = &c
	}
	t.m.root = root
	mid := root.kids[a]
	switch {
	case mid == nil && !create:
		return nil
	case mid == nil:
		mid = &pmid[V]{owner: t.tag}
	case mid.owner != t.tag:
		c := *mid
		c.owner = t.tag
		mid = &c
	}
	root.kids[a] = mid
	l := mid.leaves[b]
	switch {
	case l == nil && !create:
		return nil
	case l == nil:
		l = &pleaf[V]{owner: t.tag}
	case l.owner != t.tag:
		l = &pleaf[V]{hashes: slices.Clone(l.hashes), keys: slices.Clone(l.keys), vals: slices.Clone(l.vals), owner: t.tag}
	}
	mid.leaves[b] = l
	return l
}

// get reads through the transaction's own changes.
func (t *ptxn[V]) get(key string) (V, bool) { return t.m.get(key) }

// set makes key hold v.
func (t *ptxn[V]) set(key string, v V) {
	l := t.leaf(key, true)
	_, _, h := phash(key)
	i, ok := l.find(h, key)
	if ok {
		l.vals[i] = v
		return
	}
	l.hashes = slices.Insert(l.hashes, i, h)
	l.keys = slices.Insert(l.keys, i, strings.Clone(key))
	l.vals = slices.Insert(l.vals, i, v)
	t.m.n++
}

// del removes key, if the map holds it.
func (t *ptxn[V]) del(key string) {
	if _, ok := t.m.get(key); !ok {
		return // no copy for a key that is absent
	}
	l := t.leaf(key, false)
	_, _, h := phash(key)
	i, _ := l.find(h, key)
	var zero V
	l.vals[i] = zero // let the collector have it
	l.hashes = slices.Delete(l.hashes, i, i+1)
	l.keys = slices.Delete(l.keys, i, i+1)
	l.vals = slices.Delete(l.vals, i, i+1)
	t.m.n--
}

// pvec is a persistent vector indexed from 0, grown by appending, read
// and written by index: group ids to their names, closures and index
// slots. It is a two-level array of 256-element chunks; a write copies
// the chunk table and one chunk. The zero pvec is empty.
type pvec[T any] struct {
	chunks []*pchunk[T]
	n      int
}

type pchunk[T any] struct {
	v     [256]T
	owner *ptxnTag
}

func (v *pvec[T]) Len() int { return v.n }

// at returns element i, which must be below Len.
func (v *pvec[T]) at(i int) T { return v.chunks[i>>8].v[i&255] }

// vtxn changes a pvec, like ptxn does a pmap.
type vtxn[T any] struct {
	v         pvec[T]
	tag       *ptxnTag
	ownChunks bool // the chunk table is the transaction's own copy
}

func (v pvec[T]) txn() *vtxn[T] { return &vtxn[T]{v: v, tag: new(ptxnTag)} }

func (t *vtxn[T]) done() pvec[T] {
	v := t.v
	t.tag = nil
	return v
}

func (t *vtxn[T]) chunk(i int) *pchunk[T] {
	if !t.ownChunks {
		t.v.chunks = slices.Clone(t.v.chunks)
		t.ownChunks = true
	}
	c := t.v.chunks[i>>8]
	if c.owner != t.tag {
		cp := *c
		cp.owner = t.tag
		c = &cp
		t.v.chunks[i>>8] = c
	}
	return c
}

// set makes element i, below Len, hold x.
func (t *vtxn[T]) set(i int, x T) { t.chunk(i).v[i&255] = x }

func (t *vtxn[T]) at(i int) T { return t.v.at(i) }

// push appends x and returns its index.
func (t *vtxn[T]) push(x T) int {
	i := t.v.n
	if i>>8 == len(t.v.chunks) {
		if !t.ownChunks {
			t.v.chunks = slices.Clone(t.v.chunks)
			t.ownChunks = true
		}
		t.v.chunks = append(t.v.chunks, &pchunk[T]{owner: t.tag})
	}
	t.v.n++
	t.set(i, x)
	return i
}
