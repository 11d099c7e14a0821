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
			if n := testing.AllocsPerRun(20, func() { p.Decide(r.Subject, r.Resource, r.Action) }); n != 0 {
				t.Errorf("%s: Decide(%q, %q, %q) allocates %v times", w.Name, r.Subject, r.Resource, r.Action, n)
			}
		}
	}
}
