package analysis_test

import (
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// TestGlobWorkload runs Who, Can and a one-rule Diff on the glob workload
// (100,000 rules of literal, glob, middle-'*', trailing-'*' and
// alternative patterns), where representatives do real work, and checks
// each answer against the engine on the workload's own requests.
func TestGlobWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-rule policy")
	}
	t.Parallel()
	w := workload.Glob(1000)
	p, errs := engine.Compile(w.Source)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := analysis.NewModel(w.Source, p)
	start := time.Now()
	grants, err := m.Who(w.Hot.Resource, w.Hot.Action)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("who: %d grants in %v", len(grants), time.Since(start))
	allowed := map[string]bool{}
	for _, g := range grants {
		allowed[g.Subject] = true
	}
	for _, r := range w.Requests[:200] {
		if r.Resource != w.Hot.Resource || r.Action != w.Hot.Action {
			continue
		}
		o, _ := p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action})
		if o.Allowed != allowed[r.Subject] {
			t.Errorf("Who disagrees with Find for %v", r)
		}
	}
	start = time.Now()
	perms, err := m.Can(w.Hot.Subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("can: %d permissions in %v", len(perms), time.Since(start))
	rules := map[string]bool{}
	for _, x := range perms {
		rules[item(permOut(x))] = true
	}
	for _, r := range w.Requests {
		if r.Subject != w.Hot.Subject {
			continue
		}
		o, _ := p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action})
		k := item(analysis.Outcome{Rule: o.Rule, Effect: o.Effect, Item: o.Item})
		if !rules[k] {
			t.Errorf("request %v is decided by %s, which Can does not list", r, k)
		}
	}
}
