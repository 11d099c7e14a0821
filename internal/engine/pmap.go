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

// pfan is the fan-out of each of the trie's three levels: 64, so a write
// copies three 512-byte nodes, and 262,144 leaves hold a few keys each at
// a million.
const pfan = 64

type pnode[V any] struct {
	kids  [pfan]*pmid[V]
	owner *ptxnTag
}

type pmid[V any] struct {
	kids  [pfan]*plow[V]
	owner *ptxnTag
}

// plow is the last level: its leaves are slices held in the node itself,
// so a lookup loads the node, then the leaf's entries, then (on a hit)
// the key: three cache lines for a name among millions.
type plow[V any] struct {
	leaves [pfan]pleaf[V]
	owner  *ptxnTag
}

// pleaf holds its entries side by side, ascending by hash, so a lookup
// reads one array: the hashes it searches and the key it compares share
// cache lines. owned marks entries a transaction copied and may change in
// place; a copied node shares its leaves' arrays until then.
type pleaf[V any] struct {
	ents  []pent[V]
	owner *ptxnTag
}

type pent[V any] struct {
	h   uint64
	key string
	val V
}

// ptxnTag marks the nodes a transaction copied and may change in place.
type ptxnTag struct{ _ byte }

var pseed = maphash.MakeSeed()

func phash(key string) (a, b, c uint8, h uint64) {
	h = maphash.String(pseed, key)
	return uint8(h >> 58), uint8(h>>52) & (pfan - 1), uint8(h>>46) & (pfan - 1), h
}

// find returns where key is, or would go, in the leaf: the first entry
// whose hash is not below h, then past the entries of equal hash whose
// keys sort before key.
func (l *pleaf[V]) find(h uint64, key string) (int, bool) {
	ents := l.ents
	i, j := 0, len(ents)
	for i < j {
		m := int(uint(i+j) >> 1)
		if ents[m].h < h {
			i = m + 1
		} else {
			j = m
		}
	}
	for ; i < len(ents) && ents[i].h == h; i++ {
		switch {
		case ents[i].key == key:
			return i, true
		case ents[i].key > key:
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
	a, b, c, h := phash(key)
	mid := m.root.kids[a]
	if mid == nil {
		return zero, false
	}
	low := mid.kids[b]
	if low == nil {
		return zero, false
	}
	l := &low.leaves[c]
	i, ok := l.find(h, key)
	if !ok {
		return zero, false
	}
	return l.ents[i].val, true
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
		for _, low := range mid.kids {
			if low == nil {
				continue
			}
			for _, l := range low.leaves {
				for _, e := range l.ents {
					if !fn(e.key, e.val) {
						return
					}
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

// txnTagged starts a transaction that shares tag with others: one batch
// changes several maps and vectors, and one tag marks them all.
func (m pmap[V]) txnTagged(tag *ptxnTag) ptxn[V] { return ptxn[V]{m: m, tag: tag} }

// done ends the transaction and returns the new map; the transaction must
// not be used again.
func (t *ptxn[V]) done() pmap[V] {
	m := t.m
	t.tag = nil
	return m
}

func (t *ptxn[V]) leaf(key string, create bool) *pleaf[V] {
	a, b, c, _ := phash(key)
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
	low := mid.kids[b]
	switch {
	case low == nil && !create:
		return nil
	case low == nil:
		low = &plow[V]{owner: t.tag}
	case low.owner != t.tag:
		c := *low
		c.owner = t.tag
		low = &c
	}
	mid.kids[b] = low
	l := &low.leaves[c]
	if l.owner != t.tag {
		l.ents = slices.Clone(l.ents)
		l.owner = t.tag
	}
	return l
}

// get reads through the transaction's own changes.
func (t *ptxn[V]) get(key string) (V, bool) { return t.m.get(key) }

// set makes key hold v.
func (t *ptxn[V]) set(key string, v V) {
	l := t.leaf(key, true)
	_, _, _, h := phash(key)
	i, ok := l.find(h, key)
	if ok {
		l.ents[i].val = v
		return
	}
	l.ents = slices.Insert(l.ents, i, pent[V]{h: h, key: strings.Clone(key), val: v})
	t.m.n++
}

// del removes key, if the map holds it.
func (t *ptxn[V]) del(key string) {
	if _, ok := t.m.get(key); !ok {
		return // no copy for a key that is absent
	}
	l := t.leaf(key, false)
	_, _, _, h := phash(key)
	i, _ := l.find(h, key)
	l.ents = slices.Delete(l.ents, i, i+1) // clears the tail, for the collector
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

func (v pvec[T]) txnTagged(tag *ptxnTag) vtxn[T] { return vtxn[T]{v: v, tag: tag} }

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
