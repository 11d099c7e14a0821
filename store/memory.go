package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Memory is a Store that keeps everything in memory: the reference
// store, for tests and for a single process that need not survive a
// restart. It implements Notifier.
//
// Make one with NewMemory. The zero Memory, like a nil *Memory, is a
// closed store: every call returns ErrClosed and Close returns nil, as
// for every Store, so a Memory that was never made cannot be mistaken
// for an empty one. A Memory is safe for concurrent use; readers share a
// lock, writers take it alone.
type Memory struct {
	mu      sync.RWMutex
	open    bool
	rev     Revision
	live    map[string]*entry // by Write.Key
	order   []*entry          // every entry added, in (Added, Index) order; removed ones are dead
	dead    int               // removed entries still in order
	changes []Change          // the changelog, in (Revision, Index) order
	wake    chan struct{}     // closed, and replaced, at each commit and at Close
	// policies is the policy history, oldest first (Policies).
	policies []PolicyVersion
}

// entry is a record as Memory holds it. rec and its Membership or Grant
// never change once made; dead is guarded by Memory.mu.
type entry struct {
	rec  Record
	dead bool
}

// NewMemory returns an empty store at revision 0.
func NewMemory() *Memory {
	return &Memory{open: true, live: map[string]*entry{}, wake: make(chan struct{})}
}

// Write implements Store.
func (m *Memory) Write(ctx context.Context, b Batch) (Revision, error) {
	if m == nil {
		return 0, ErrClosed
	}
	if err := b.Check(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return 0, ErrClosed
	}
	if b.IfRevision != nil && *b.IfRevision != m.rev {
		return 0, fmt.Errorf("%w: the store is at revision %d, not %d", ErrRevisionConflict, m.rev, *b.IfRevision)
	}
	m.rev++
	for i, w := range b.Writes {
		key := w.Key()
		e, ok := m.live[key]
		switch {
		case w.Op == OpAdd && !ok:
			e = &entry{rec: Record{Membership: copyMembership(w.Membership), Grant: copyGrant(w.Grant), Added: m.rev, Index: i}}
			m.live[key] = e
			m.order = append(m.order, e)
		case w.Op == OpRemove && ok:
			e.dead = true
			m.dead++
			delete(m.live, key)
		default:
			continue // adding what exists, removing what is absent: no change
		}
		m.changes = append(m.changes, Change{Revision: m.rev, Index: i, Op: w.Op, Membership: e.rec.Membership, Grant: e.rec.Grant})
	}
	if m.dead > len(m.order)/2 {
		m.compact()
	}
	m.wakeAll()
	return m.rev, nil
}

// wakeAll wakes every waiter, of data and of policies; it is called with
// mu held for writing.
func (m *Memory) wakeAll() {
	close(m.wake)
	m.wake = make(chan struct{})
}

// compact drops the removed entries from order.
func (m *Memory) compact() {
	kept := m.order[:0]
	for _, e := range m.order {
		if !e.dead {
			kept = append(kept, e)
		}
	}
	clear(m.order[len(kept):])
	m.order, m.dead = kept, 0
}

// Snapshot implements Store. fn runs without the store's lock, so it may
// call the store, writes included.
func (m *Memory) Snapshot(ctx context.Context, fn func(Record) error) (Revision, error) {
	if m == nil {
		return 0, ErrClosed
	}
	m.mu.RLock()
	if !m.open {
		m.mu.RUnlock()
		return 0, ErrClosed
	}
	rev := m.rev
	recs := make([]*Record, 0, len(m.live))
	for _, e := range m.order {
		if !e.dead {
			recs = append(recs, &e.rec)
		}
	}
	m.mu.RUnlock()
	for i, r := range recs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("store: snapshot: %w", err)
			}
		}
		if err := fn(copyRecord(r)); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// Changes implements Store.
func (m *Memory) Changes(ctx context.Context, after Revision, limit int) ([]Change, Revision, error) {
	if m == nil {
		return nil, 0, ErrClosed
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: changes: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return nil, 0, ErrClosed
	}
	if after > m.rev {
		return nil, 0, fmt.Errorf("%w: revision %d is beyond the latest, %d", ErrRevisionUnavailable, after, m.rev)
	}
	from := sort.Search(len(m.changes), func(i int) bool { return m.changes[i].Revision > after })
	rest := m.changes[from:]
	through := m.rev
	if len(rest) > limit {
		// Stop before the revision the limit would cut, unless it is the
		// first: then the page is that revision, whole.
		cut := rest[limit].Revision
		end := sort.Search(limit, func(i int) bool { return rest[i].Revision >= cut })
		if end == 0 {
			end = sort.Search(len(rest), func(i int) bool { return rest[i].Revision > cut })
			through = cut
		} else {
			through = cut - 1
		}
		rest = rest[:end]
	}
	out := make([]Change, len(rest))
	for i, c := range rest {
		out[i] = c
		out[i].Membership, out[i].Grant = copyMembership(c.Membership), copyGrant(c.Grant)
	}
	return out, through, nil
}

// List implements Store. It reads every record from the cursor on until
// the page is full, which is fast enough for a store held in memory.
func (m *Memory) List(ctx context.Context, f Filter) ([]Record, string, error) {
	if m == nil {
		return nil, "", ErrClosed
	}
	if err := f.Check(); err != nil {
		return nil, "", err
	}
	limit, _ := pageLimit(f.Limit) // Check bounded it
	var after Revision
	afterIndex := -1
	if f.After != "" {
		after, afterIndex, _ = ParseCursor(f.After) // Check parsed it
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return nil, "", ErrClosed
	}
	from := sort.Search(len(m.order), func(i int) bool {
		r := &m.order[i].rec
		return r.Added > after || (r.Added == after && r.Index > afterIndex)
	})
	var out []Record
	for _, e := range m.order[from:] {
		if e.dead || !f.match(&e.rec) {
			continue
		}
		if len(out) == limit {
			last := out[len(out)-1]
			return out, Cursor(last.Added, last.Index), nil
		}
		out = append(out, copyRecord(&e.rec))
	}
	return out, "", nil
}

// match reports whether f selects r. Names are compared as they are:
// Check made sure that f holds no patterns.
func (f *Filter) match(r *Record) bool {
	if m := r.Membership; m != nil {
		return f.Kind != Grants && f.Rule == "" && f.Subject == "" &&
			(f.Member == "" || f.Member == m.Member) &&
			(f.Resource == "" || f.Resource == m.Resource) &&
			(f.Group == "" || f.Group == m.Group)
	}
	g := r.Grant
	return f.Kind != Memberships && f.Member == "" && f.Group == "" &&
		(f.Resource == "" || f.Resource == g.Resource) &&
		(f.Rule == "" || f.Rule == g.Rule) &&
		(f.Subject == "" || f.Subject == g.Subject)
}

// Revision implements Store.
func (m *Memory) Revision(ctx context.Context) (Revision, error) {
	if m == nil {
		return 0, ErrClosed
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return 0, ErrClosed
	}
	return m.rev, nil
}

// Wait implements Notifier.
func (m *Memory) Wait(ctx context.Context, after Revision) (Revision, error) {
	if m == nil {
		return 0, ErrClosed
	}
	for {
		m.mu.RLock()
		open, rev, wake := m.open, m.rev, m.wake
		m.mu.RUnlock()
		switch {
		case !open:
			return 0, ErrClosed
		case rev > after:
			return rev, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close implements Store: it drops the data and wakes every Wait.
func (m *Memory) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return nil
	}
	m.open = false
	m.live, m.order, m.changes, m.policies = nil, nil, nil, nil
	close(m.wake)
	return nil
}

// pageLimit applies the default and bounds of a page size.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLimit, nil
	case limit < 0 || limit > MaxLimit:
		return 0, fmt.Errorf("%w: limit %d is outside 0 to %d", ErrInvalid, limit, MaxLimit)
	}
	return limit, nil
}

func copyMembership(m *Membership) *Membership {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}

func copyGrant(g *Grant) *Grant {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

func copyRecord(r *Record) Record {
	return Record{Membership: copyMembership(r.Membership), Grant: copyGrant(r.Grant), Added: r.Added, Index: r.Index}
}
