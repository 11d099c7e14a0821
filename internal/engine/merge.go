package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/warden-authz/warden/store"
)

// ErrConflict is wrapped by CheckWrites' error for a membership the
// policy's groups forbid: a role listed in a group (SPEC 3.2, 10.2).
var ErrConflict = errors.New("conflict")

// ErrNotDynamic is wrapped by CheckWrites' error for a grant to a block
// the policy does not declare dynamic, or does not have.
var ErrNotDynamic = errors.New("rule block is not dynamic")

// CheckWrites checks writes against the policy before they are written to
// a store (SPEC 10.2): every grant names a block declared dynamic = true,
// and no membership lists a role in a group (data makes groups, never
// roles, and a group may not contain a role). Names and shapes are the
// store's to check (store.Batch.Check). The error names the first bad
// write by its index.
func (p *Policy) CheckWrites(writes []store.Write) error {
	if p == nil {
		return ErrNoPolicy
	}
	for i, w := range writes {
		switch {
		case w.Grant != nil:
			if !slices.ContainsFunc(p.dynamic, func(b DynamicBlock) bool { return b.ID == w.Grant.Rule }) {
				return fmt.Errorf("writes[%d]: grant: %w: %q; declare dynamic = true in [%s] to write grants to it", i, ErrNotDynamic, w.Grant.Rule, w.Grant.Rule)
			}
		case w.Membership != nil && w.Membership.Member != "" && w.Op == store.OpAdd:
			m := w.Membership
			if p.subjects.isRole(m.Member) && !p.subjects.isRole(m.Group) {
				return fmt.Errorf("writes[%d]: membership: %w: %q is a role and %q is a group; a group may not contain a role (SPEC 3.2), list the group in the role instead", i, ErrConflict, m.Member, m.Group)
			}
		}
	}
	return nil
}

// isRole reports whether name is a role the file declares.
func (m *members) isRole(name string) bool {
	id, ok := m.ids[name]
	return ok && m.roles != nil && m.roles[id]
}

// MergeSource returns src with records added as the file would declare
// them: each membership a member of its group (a new group when the file
// has none of that name), each grant an item of its dynamic block, after
// the block's own items, in document order (records must come as a
// Snapshot gives them: grants by Added, then Index). Records the policy
// cannot use are left out, as Apply leaves them out of decisions.
//
// Compiling the result gives the decisions Apply gives incrementally: it
// is how tools that read a whole policy (who, can, diff, lint) see store
// data, and the reference the incremental engine is tested against.
func MergeSource(src *Source, records []store.Record) *Source {
	out := *src
	if out.Version == "" {
		out.Version = version(src)
	}
	out.Groups = cloneGroups(src.Groups)
	out.Resources = cloneGroups(src.Resources)
	roles := map[string]bool{}
	for _, g := range src.Groups {
		if g.Role {
			roles[g.Name] = true
		}
	}
	index := func(groups []Group) map[string]int {
		ix := make(map[string]int, len(groups))
		for i, g := range groups {
			if _, dup := ix[g.Name]; !dup {
				ix[g.Name] = i
			}
		}
		return ix
	}
	subjectIx, resourceIx := index(out.Groups), index(out.Resources)
	add := func(groups *[]Group, ix map[string]int, section, member, group string) {
		i, ok := ix[group]
		if !ok {
			i = len(*groups)
			ix[group] = i
			*groups = append(*groups, Group{Name: group, Section: section})
		}
		g := &(*groups)[i]
		if !slices.ContainsFunc(g.Members, func(m Member) bool { return m.Name == member }) {
			g.Members = append(g.Members, Member{Name: member})
		}
	}
	grants := map[string][]Rule{}
	dynamic := map[string]bool{}
	when := map[string]*Condition{} // a grant carries its block's condition
	for _, b := range src.Dynamic {
		dynamic[b.ID] = true
		when[b.ID] = b.When
	}
	for _, r := range records {
		switch {
		case r.Membership != nil && r.Membership.Member != "":
			m := r.Membership
			if roles[m.Member] && !roles[m.Group] {
				continue // inert: a group may not contain a role
			}
			add(&out.Groups, subjectIx, "groups", m.Member, m.Group)
		case r.Membership != nil:
			add(&out.Resources, resourceIx, "resources", r.Membership.Resource, r.Membership.Group)
		case r.Grant != nil && dynamic[r.Grant.Rule]:
			g := r.Grant
			grants[g.Rule] = append(grants[g.Rule], Rule{ID: g.Rule, Effect: g.Effect, Subject: g.Subject, Resource: g.Resource, Action: g.Action, When: when[g.Rule]})
		}
	}
	// Insert each block's grants before the rule its own items end at,
	// from the last block to the first, so earlier positions hold.
	out.Rules = slices.Clone(src.Rules)
	out.Dynamic = slices.Clone(src.Dynamic)
	// Later blocks go in first; where two blocks end at the same rule,
	// the later one's grants go in first, so the earlier one's land
	// before them.
	order := slices.Clone(src.Dynamic)
	slices.Reverse(order)
	slices.SortStableFunc(order, func(a, b DynamicBlock) int { return b.End - a.End })
	for _, b := range order {
		out.Rules = slices.Insert(out.Rules, b.End, grants[b.ID]...)
	}
	shift := 0
	for i := range out.Dynamic {
		// Blocks in document order: each moves by the grants before it.
		b := &out.Dynamic[i]
		b.End += shift + len(grants[b.ID])
		shift += len(grants[b.ID])
	}
	return &out
}

func cloneGroups(groups []Group) []Group {
	out := slices.Clone(groups)
	for i := range out {
		out[i].Members = slices.Clone(out[i].Members)
	}
	return out
}
