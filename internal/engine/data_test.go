package engine_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/store"
)

// refStore is the obvious store: records by key, with the revision and
// index that added each; a batch yields the changes it makes.
type refStore struct {
	rev     uint64
	records map[string]store.Record
}

func (s *refStore) write(ws []store.Write) []store.Change {
	s.rev++
	var out []store.Change
	for i, w := range ws {
		k := w.Key()
		_, exists := s.records[k]
		switch {
		case w.Op == store.OpAdd && !exists:
			s.records[k] = store.Record{Membership: w.Membership, Grant: w.Grant, Added: s.rev, Index: i}
		case w.Op == store.OpRemove && exists:
			delete(s.records, k)
		default:
			continue
		}
		out = append(out, store.Change{Revision: s.rev, Index: i, Op: w.Op, Membership: w.Membership, Grant: w.Grant})
	}
	return out
}

// snapshot returns the records as a store's Snapshot does: grants in
// document order.
func (s *refStore) snapshot() []store.Record {
	var out []store.Record
	for _, r := range s.records {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b store.Record) int {
		if a.Added != b.Added {
			return int(a.Added) - int(b.Added)
		}
		return a.Index - b.Index
	})
	return out
}

var (
	dataSubjects  = []string{"u1", "u2", "u9", "a", "g1", "g2", "ab", "t1", "t2"}
	dataGroups    = []string{"g1", "g2", "g3", "ab", "t1", "t2", "u1"}
	dataResources = []string{"a", "b", "a:b", "ab:a", "d1", "d2"}
	dataResGroups = []string{"r1", "r2", "b", "f1", "f2", "d1"}
	dataActions   = []string{"a", "b", "ab", "x1", "x2"}
)

func genWrite(t *rapid.T, blocks []string) store.Write {
	w := store.Write{Op: store.OpAdd}
	if rapid.IntRange(0, 2).Draw(t, "remove") == 0 {
		w.Op = store.OpRemove
	}
	switch rapid.IntRange(0, 2).Draw(t, "kind") {
	case 0:
		w.Membership = &store.Membership{Member: rapid.SampledFrom(dataSubjects).Draw(t, "member"), Group: rapid.SampledFrom(dataGroups).Draw(t, "group")}
	case 1:
		w.Membership = &store.Membership{Resource: rapid.SampledFrom(dataResources).Draw(t, "resource"), Group: rapid.SampledFrom(dataResGroups).Draw(t, "res-group")}
	default:
		w.Grant = &store.Grant{
			Rule:     rapid.SampledFrom(blocks).Draw(t, "block"),
			Effect:   rapid.SampledFrom([]engine.Effect{engine.EffectAllow, engine.EffectDeny}).Draw(t, "grant-effect"),
			Subject:  rapid.SampledFrom(dataSubjects).Draw(t, "grant-subject"),
			Resource: rapid.SampledFrom(append(dataResources, dataResGroups...)).Draw(t, "grant-resource"),
			Action:   rapid.SampledFrom(dataActions).Draw(t, "grant-action"),
		}
	}
	return w
}

// TestApplyMatchesRecompile is runtime data's property (SPEC 10.7): random
// batches of memberships and grants — cycles made and broken, groups made
// by data, grants in dynamic blocks under every strategy — applied one by
// one to the compiled policy decide, after every batch, exactly as a
// from-scratch compile of the file with the same data written in.
func TestApplyMatchesRecompile(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := genSource(t)
		// One or two dynamic blocks, ending anywhere among the rules; a
		// grant to another block is inert.
		blocks := []string{"rules.dyn1", "rules.dyn2"}[:rapid.IntRange(1, 2).Draw(t, "dynamic-blocks")]
		end := 0
		for _, id := range blocks {
			end = rapid.IntRange(end, len(src.Rules)).Draw(t, "block-end")
			src.Dynamic = append(src.Dynamic, engine.DynamicBlock{ID: id, End: end})
		}
		p, errs := engine.Compile(src)
		if len(errs) > 0 {
			t.Fatalf("generated source does not compile: %v", errs)
		}
		ref := &refStore{records: map[string]store.Record{}}
		for batch := range rapid.IntRange(1, 8).Draw(t, "batches") {
			var ws []store.Write
			for range rapid.IntRange(0, 6).Draw(t, "writes") {
				ws = append(ws, genWrite(t, append(blocks, "rules.1")))
			}
			changes := ref.write(ws)
			next, err := p.Apply(ref.rev, changes)
			if err != nil {
				t.Fatalf("batch %d: Apply: %v", batch, err)
			}
			old := p
			p = next
			if old.Revision() != ref.rev-1 || p.Revision() != ref.rev {
				t.Fatalf("revisions: old %d, new %d, want %d and %d", old.Revision(), p.Revision(), ref.rev-1, ref.rev)
			}
			want, errs := engine.Compile(engine.MergeSource(src, ref.snapshot()))
			if len(errs) > 0 {
				t.Fatalf("batch %d: the merged source does not compile: %v", batch, errs)
			}
			for range 15 {
				q := engine.Query{
					Subject: rapid.SampledFrom(append(dataSubjects, "r1", "g3")).Draw(t, "q-subject"),
					Action:  rapid.SampledFrom(dataActions).Draw(t, "q-action"),
				}
				if rapid.IntRange(0, 5).Draw(t, "q-has-resource") > 0 {
					q.Resource = rapid.SampledFrom(append(dataResources, dataResGroups...)).Draw(t, "q-resource")
				}
				if rapid.IntRange(0, 3).Draw(t, "q-supply") == 0 {
					q.Groups = rapid.SliceOfN(rapid.SampledFrom(dataGroups), 1, 2).Draw(t, "q-groups")
				}
				got, err := p.Decide(&q)
				if err != nil {
					t.Fatal(err)
				}
				exp, err := want.Decide(&q)
				if err != nil {
					t.Fatal(err)
				}
				if got.Allowed != exp.Allowed || got.Effect != exp.Effect || got.Rule != exp.Rule || got.Item != exp.Item || got.Reason != exp.Reason {
					t.Fatalf("batch %d, %+v under %v:\nincremental %+v\nrecompiled  %+v", batch, q, src.Strategy, got, exp)
				}
				if got.Revision != ref.rev {
					t.Fatalf("decision revision %d, want %d", got.Revision, ref.rev)
				}
				e, err := p.Explain(&q)
				if err != nil {
					t.Fatal(err)
				}
				ee, _ := want.Explain(&q)
				if e.Decision.Rule != got.Rule || e.Decision.Reason != got.Reason || len(e.Matches) != len(ee.Matches) {
					t.Fatalf("batch %d, %+v: Explain %+v (%d matches) disagrees with Decide %+v or the recompile (%d matches)", batch, q, e.Decision, len(e.Matches), got, len(ee.Matches))
				}
				for i := range e.Matches {
					a, b := e.Matches[i], ee.Matches[i]
					if a.Rule != b.Rule || a.Reason != b.Reason || a.Decided != b.Decided || len(a.SubjectPath) != len(b.SubjectPath) || len(a.ResourcePath) != len(b.ResourcePath) {
						t.Fatalf("batch %d, %+v: match %d\nincremental %+v\nrecompiled  %+v", batch, q, i, a, b)
					}
				}
				for _, g := range dataGroups {
					if p.MemberOf(q.Subject, g, q.Groups) != want.MemberOf(q.Subject, g, q.Groups) {
						t.Fatalf("batch %d: MemberOf(%q, %q, %q) differs from the recompile", batch, q.Subject, g, q.Groups)
					}
				}
			}
			// The policy the batch was applied to still decides as before.
			_ = old
		}
	})
}

// TestApplyLeavesTheOldPolicy: a decision holding the policy from before a
// batch sees the old revision whole (SPEC 10.1).
func TestApplyLeavesTheOldPolicy(t *testing.T) {
	t.Parallel()
	src := &engine.Source{
		Groups: []engine.Group{{Name: "editors", Section: "groups"}},
		Rules:  []engine.Rule{{ID: "rules.1", Item: 1, Effect: engine.EffectAllow, Subject: "editors", Resource: "doc:*", Action: "edit"}},
	}
	p0, errs := engine.Compile(src)
	if errs != nil {
		t.Fatal(errs)
	}
	q := engine.Query{Subject: "alice", Resource: "doc:1", Action: "edit"}
	p1, err := p0.Apply(1, []store.Change{{Revision: 1, Op: store.OpAdd, Membership: &store.Membership{Member: "alice", Group: "editors"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    *engine.Policy
		want bool
		rev  uint64
	}{{p0, false, 0}, {p1, true, 1}} {
		d, err := c.p.Decide(&q)
		if err != nil || d.Allowed != c.want || d.Revision != c.rev {
			t.Errorf("revision %d: %+v, %v; want allowed %v", c.rev, d, err, c.want)
		}
	}
	if _, err := p1.Apply(0, nil); err == nil {
		t.Error("Apply went back a revision")
	}
	var nilPolicy *engine.Policy
	if _, err := nilPolicy.Apply(1, nil); err == nil {
		t.Error("a nil policy applied data")
	}
}

// TestCheckWrites: grants only to dynamic blocks, no role in a group.
func TestCheckWrites(t *testing.T) {
	t.Parallel()
	src := &engine.Source{
		Groups:  []engine.Group{{Name: "admin", Section: "roles", Role: true}, {Name: "staff", Section: "groups"}, {Name: "owner", Section: "roles", Role: true}},
		Rules:   []engine.Rule{{ID: "rules.r", Item: 1, Effect: engine.EffectAllow, Subject: "admin", Resource: "*", Action: "*"}},
		Dynamic: []engine.DynamicBlock{{ID: "rules.shares", End: 1}},
	}
	p, errs := engine.Compile(src)
	if errs != nil {
		t.Fatal(errs)
	}
	grant := func(rule string) store.Write {
		return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: rule, Effect: engine.EffectAllow, Subject: "bob", Resource: "doc:1", Action: "edit"}}
	}
	member := func(op store.Op, m, g string) store.Write {
		return store.Write{Op: op, Membership: &store.Membership{Member: m, Group: g}}
	}
	for _, tc := range []struct {
		name string
		w    store.Write
		want error
	}{
		{"grant to a dynamic block", grant("rules.shares"), nil},
		{"grant to a static block", grant("rules.r"), engine.ErrNotDynamic},
		{"grant to no block", grant("rules.nope"), engine.ErrNotDynamic},
		{"user in a group", member(store.OpAdd, "alice", "staff"), nil},
		{"user in a new group", member(store.OpAdd, "alice", "team:x"), nil},
		{"group in a role", member(store.OpAdd, "staff", "admin"), nil},
		{"role in a role", member(store.OpAdd, "owner", "admin"), nil},
		{"role in a group", member(store.OpAdd, "admin", "staff"), engine.ErrConflict},
		{"role in a new group", member(store.OpAdd, "admin", "team:x"), engine.ErrConflict},
		{"removing a role from a group", member(store.OpRemove, "admin", "staff"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.CheckWrites([]store.Write{member(store.OpAdd, "x", "y"), tc.w})
			if tc.want == nil && err != nil || tc.want != nil && !errorsIs(err, tc.want) {
				t.Fatalf("CheckWrites: %v, want %v", err, tc.want)
			}
			if err != nil && !contains(err.Error(), "writes[1]") {
				t.Errorf("the error does not name the write: %v", err)
			}
		})
	}
}

func errorsIs(err, target error) bool {
	return err != nil && fmt.Sprint(err) != "" && isErr(err, target)
}

func isErr(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && slices.ContainsFunc([]int{0}, func(int) bool { return indexOf(s, sub) >= 0 })
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
