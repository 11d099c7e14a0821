package engine_test

import (
	"fmt"
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// TestDecideDoesNotAllocate pins the promise of the hot path on every kind
// of workload: literal RBAC, globs, alternatives and pattern members. It
// does not call t.Parallel: AllocsPerRun refuses to run in parallel tests.
func TestDecideDoesNotAllocate(t *testing.T) {
	withPatternMembers := fullRBAC()
	withPatternMembers.Resources = append(withPatternMembers.Resources,
		engine.Group{Name: "animals", Section: "resources", Members: []engine.Member{{Name: "articles:animals:*"}, {Name: "articles:*:1"}}})
	withPatternMembers.Rules = append(withPatternMembers.Rules,
		engine.Rule{ID: "rules.p", Item: 1, Effect: engine.EffectAllow, Subject: "g1", Resource: "animals", Action: "read,write"})
	// A user in 40 groups, more than any fixed buffer would hold.
	manyGroups := &engine.Source{}
	for i := range 40 {
		manyGroups.Groups = append(manyGroups.Groups, engine.Group{Name: fmt.Sprintf("team%d", i), Section: "groups", Members: []engine.Member{{Name: "alice"}}})
	}
	manyGroups.Rules = []engine.Rule{{ID: "rules.1", Item: 1, Effect: engine.EffectAllow, Subject: "team39", Resource: "*", Action: "read"}}
	for _, w := range []workload.Workload{
		{Name: "many-groups", Source: manyGroups, Requests: []workload.Request{{Subject: "alice", Resource: "doc", Action: "read"}, {Subject: "team3", Resource: "", Action: "read"}}},
		workload.ACL(), workload.RBAC5(), workload.RBAC("rbac", 1000, 100), workload.Glob(10),
		{Name: "pattern-members", Source: withPatternMembers, Requests: []workload.Request{
			{Subject: "user1", Resource: "articles:animals:1", Action: "read"},
			{Subject: "user1", Resource: "part_b", Action: "GET"},
			{Subject: "user5", Resource: "", Action: "GET"},
		}},
	} {
		p, errs := engine.Compile(w.Source)
		if errs != nil {
			t.Fatal(errs)
		}
		for _, r := range w.Requests[:min(len(w.Requests), 50)] {
			if n := testing.AllocsPerRun(20, func() { p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action}) }); n != 0 {
				t.Errorf("%s: Decide(%q, %q, %q) allocates %v times", w.Name, r.Subject, r.Resource, r.Action, n)
			}
		}
	}
}

// TestSuppliedGroupsDoNotAllocate: caller-supplied memberships and the
// layered decision of an actor take no heap either, for the few roles an
// actor holds. Not parallel: AllocsPerRun refuses to run in parallel tests.
func TestSuppliedGroupsDoNotAllocate(t *testing.T) {
	w := workload.RBAC("rbac", 1000, 100)
	p, errs := engine.Compile(w.Source)
	if errs != nil {
		t.Fatal(errs)
	}
	own, errs := engine.Compile(&engine.Source{Rules: []engine.Rule{{ID: "actor.a", Item: 1, Effect: engine.EffectDeny, Subject: "user7", Resource: "data3", Action: "read"}}})
	if errs != nil {
		t.Fatal(errs)
	}
	q := engine.Query{Subject: "user7", Resource: "data3", Action: "read", Groups: []string{"group3", "group31", "team:x"}}
	if n := testing.AllocsPerRun(50, func() { p.Decide(&q) }); n != 0 {
		t.Errorf("Decide with supplied groups allocates %v times", n)
	}
	if n := testing.AllocsPerRun(50, func() { engine.FindLayers(engine.MostSpecific, "v", &q, own, p) }); n != 0 {
		t.Errorf("FindLayers allocates %v times", n)
	}
}
