package engine_test

import (
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
	for _, w := range []workload.Workload{
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
