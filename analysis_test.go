package warden_test

import (
	"errors"
	"testing"

	"github.com/warden-authz/warden"
)

// TestWhoAndCan exercises the public reverse queries on the bundled
// example; internal/analysis proves them against brute force.
func TestWhoAndCan(t *testing.T) {
	t.Parallel()
	p, err := warden.Load("examples/publishing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	grants, err := p.Who("articles:plants:3", "articles:publish")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]warden.Grant{}
	for _, g := range grants {
		found[g.Subject] = g
	}
	if g, ok := found["bob"]; !ok || g.Kind != "user" || g.Via != "desk_plants" || g.Rule != "rules.desks" || g.Item != 4 || g.Effect != warden.EffectAllow {
		t.Errorf("bob: %+v (found %v)", g, ok)
	}
	if g, ok := found["admin"]; !ok || g.Kind != "role" || g.Via != "" {
		t.Errorf("admin: %+v (found %v)", g, ok)
	}
	if _, ok := found["erin"]; ok {
		t.Error("erin, an intern, may not publish")
	}
	if len(grants) != 11 {
		t.Errorf("%d grants, want 11: %+v", len(grants), grants)
	}

	perms, err := p.Can("erin")
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) != 6 {
		t.Fatalf("%d permissions, want 6: %+v", len(perms), perms)
	}
	if d := perms[3]; d.Allowed || d.Effect != warden.EffectDeny || d.Rule != "rules.editing" || d.Action != "articles:publish,delete" || d.Via != "interns" {
		t.Errorf("the interns' deny: %+v", d)
	}
	if last := perms[5]; last.Rule != "" || last.Effect != warden.EffectNone || last.Allowed || last.Resource != "*" || last.Action != "*" {
		t.Errorf("mismatch entry: %+v", last)
	}
}

// TestWhoAndCanFailClosed: the zero and nil policies answer ErrNoPolicy,
// and malformed names ErrInvalidRequest; neither answers anything else.
func TestWhoAndCanFailClosed(t *testing.T) {
	t.Parallel()
	for _, p := range []*warden.Policy{nil, {}} {
		if g, err := p.Who("doc", "read"); !errors.Is(err, warden.ErrNoPolicy) || g != nil {
			t.Errorf("Who on %v: %v, %v", p, g, err)
		}
		if c, err := p.Can("alice"); !errors.Is(err, warden.ErrNoPolicy) || c != nil {
			t.Errorf("Can on %v: %v, %v", p, c, err)
		}
	}
	p, err := warden.Load("examples/publishing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	if g, err := p.Who("articles:*", "read"); !errors.Is(err, warden.ErrInvalidRequest) || g != nil {
		t.Errorf("Who with a pattern: %v, %v", g, err)
	}
	if c, err := p.Can("a,b"); !errors.Is(err, warden.ErrInvalidRequest) || c != nil {
		t.Errorf("Can with a pattern: %v, %v", c, err)
	}
}
