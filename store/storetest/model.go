package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/warden-authz/warden/store"
)

// model is the reference: a map replaying batches one write at a time,
// as SPEC 10.3 says, with nothing clever in it. It shares only the
// contract's own definitions with the stores (Batch.Check, Write.Key).
type model struct {
	rev     store.Revision
	live    map[string]store.Record
	changes []store.Change
	// ends[r] is len(changes) once revision r committed.
	ends []int
}

func newModel() *model { return &model{live: map[string]store.Record{}, ends: []int{0}} }

var errConflict = errors.New("model: revision conflict")

// write applies b as a store must, and returns its revision.
func (m *model) write(b store.Batch) (store.Revision, error) {
	if err := b.Check(); err != nil {
		return 0, err
	}
	if b.IfRevision != nil && *b.IfRevision != m.rev {
		return 0, errConflict
	}
	m.rev++
	for i, w := range b.Writes {
		k := w.Key()
		_, ok := m.live[k]
		switch {
		case w.Op == store.OpAdd && !ok:
			m.live[k] = store.Record{Membership: cloneM(w.Membership), Grant: cloneG(w.Grant), Added: m.rev, Index: i}
		case w.Op == store.OpRemove && ok:
			delete(m.live, k)
		default:
			continue
		}
		m.changes = append(m.changes, store.Change{Revision: m.rev, Index: i, Op: w.Op, Membership: cloneM(w.Membership), Grant: cloneG(w.Grant)})
	}
	m.ends = append(m.ends, len(m.changes))
	return m.rev, nil
}

// records returns every record, in (Added, Index) order.
func (m *model) records() []store.Record {
	out := slices.Collect(maps.Values(m.live))
	slices.SortFunc(out, byPosition)
	return out
}

// list returns every record f selects (ignoring its After and Limit), in
// List's order.
func (m *model) list(f store.Filter) []store.Record {
	var out []store.Record
	for _, r := range m.records() {
		if selects(f, r) {
			out = append(out, r)
		}
	}
	return out
}

// selects is Filter's meaning, written out field by field.
func selects(f store.Filter, r store.Record) bool {
	kind := store.Memberships
	var member, group, resource, rule, subject string
	if m := r.Membership; m != nil {
		member, group, resource = m.Member, m.Group, m.Resource
	} else {
		kind = store.Grants
		resource, rule, subject = r.Grant.Resource, r.Grant.Rule, r.Grant.Subject
	}
	is := func(want, got string) bool { return want == "" || want == got }
	return (f.Kind == store.AnyKind || f.Kind == kind) &&
		is(f.Member, member) && is(f.Group, group) && is(f.Resource, resource) &&
		is(f.Rule, rule) && is(f.Subject, subject)
}

// changesAfter returns every change after revision after.
func (m *model) changesAfter(after store.Revision) []store.Change {
	if after > m.rev {
		return nil
	}
	return slices.Clone(m.changes[m.ends[after]:])
}

// changesOf returns the changes of revision r alone.
func (m *model) changesOf(r store.Revision) []store.Change {
	if r == 0 || r > m.rev {
		return nil
	}
	return slices.Clone(m.changes[m.ends[r-1]:m.ends[r]])
}

// clone returns an independent copy, to keep the state at a revision.
func (m *model) clone() *model {
	return &model{rev: m.rev, live: maps.Clone(m.live), changes: slices.Clone(m.changes), ends: slices.Clone(m.ends)}
}

func byPosition(a, b store.Record) int {
	return cmp.Or(cmp.Compare(a.Added, b.Added), cmp.Compare(a.Index, b.Index))
}

func cloneM(m *store.Membership) *store.Membership {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}

func cloneG(g *store.Grant) *store.Grant {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

// show renders a record for a failure message.
func show(r store.Record) string {
	return fmt.Sprintf("%s @%d.%d", showRec(r.Membership, r.Grant), r.Added, r.Index)
}

func showRec(m *store.Membership, g *store.Grant) string {
	switch {
	case m != nil && m.Member != "":
		return fmt.Sprintf("member %q in %q", m.Member, m.Group)
	case m != nil:
		return fmt.Sprintf("resource %q in %q", m.Resource, m.Group)
	case g != nil:
		return fmt.Sprintf("grant %s %v %q %q %q", g.Rule, g.Effect, g.Subject, g.Resource, g.Action)
	}
	return "empty record"
}
