package warden_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/warden-authz/warden"
)

// TestConformanceToffiActors runs the actors section of toffi.json through
// the Go API under both most-specific (toffi's own behaviour) and
// deny-overrides, as the vectors promise (SPEC 7.1).
func TestConformanceToffiActors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/conformance/toffi.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Actors []struct {
			Name     string
			Policies [][3]string
			Roles    map[string][][3]string
			Checks   [][3]any
		}
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Actors) == 0 {
		t.Fatal("no actor vectors")
	}
	rule := func(p [3]string) warden.Rule {
		if p[0] == "deny" {
			return warden.Deny(p[1], p[2])
		}
		return warden.Allow(p[1], p[2])
	}
	for _, strategy := range []warden.Strategy{warden.MostSpecific, warden.DenyOverrides} {
		for _, v := range vectors.Actors {
			t.Run(strategy.String()+"/"+v.Name, func(t *testing.T) {
				t.Parallel()
				var rules []warden.Rule
				for _, p := range v.Policies {
					rules = append(rules, rule(p))
				}
				actor, err := warden.NewActor("actor", rules...)
				if err != nil {
					t.Fatal(err)
				}
				for name, policies := range v.Roles {
					var rr []warden.Rule
					for _, p := range policies {
						rr = append(rr, rule(p))
					}
					role, err := warden.NewRole(name, rr...)
					if err != nil {
						t.Fatal(err)
					}
					if err := actor.Assign(role); err != nil {
						t.Fatal(err)
					}
				}
				if err := actor.SetStrategy(strategy); err != nil {
					t.Fatal(err)
				}
				for _, c := range v.Checks {
					scope, index, want := c[0].(string), c[1].(string), c[2].(bool)
					d, err := actor.Decide(scope, index)
					if err != nil {
						t.Fatalf("Decide(%q, %q): %v", scope, index, err)
					}
					if d.Allowed != want || actor.IsAllowed(scope, index) != want {
						t.Errorf("Decide(%q, %q) = %v (%s), want %v", scope, index, d.Allowed, d.Reason, want)
					}
				}
			})
		}
	}
}

// TestActorChangesTakeEffect: editing an actor or a role, even one held
// only through inheritance, shows on the next check (SPEC 7.1).
func TestActorChangesTakeEffect(t *testing.T) {
	t.Parallel()
	base, _ := warden.NewRole("base")
	editor, _ := warden.NewRole("editor", warden.Allow("articles:update", "articles:*"))
	editor.Inherit(base)
	alice, _ := warden.NewActor("alice")
	check := func(scope, index string, want bool) {
		t.Helper()
		if got := alice.IsAllowed(scope, index); got != want {
			d, err := alice.Decide(scope, index)
			t.Fatalf("IsAllowed(%q, %q) = %v, want %v (%s %v)", scope, index, got, want, d.Reason, err)
		}
	}
	check("articles:update", "articles:1", false)
	alice.Assign(editor)
	check("articles:update", "articles:1", true)
	base.Add(warden.Allow("articles:read", "articles:*"))
	check("articles:read", "articles:1", true) // through inheritance
	alice.Add(warden.Deny("articles:update", "articles:1"))
	check("articles:update", "articles:1", false)
	check("articles:update", "articles:2", true)
	alice.Revoke(editor)
	check("articles:update", "articles:2", false)
	check("articles:read", "articles:1", false)
	if !strings.Contains(mustDecide(t, editorActor(t, editor), "articles:update", "articles:9").Reason, `[role.editor] "editor" is allowed`) {
		t.Error("reason does not name the role's rule")
	}
}

func editorActor(t *testing.T, roles ...*warden.Role) *warden.Actor {
	a, err := warden.NewActor("bob")
	if err != nil {
		t.Fatal(err)
	}
	a.Assign(roles...)
	return a
}

func mustDecide(t *testing.T, a *warden.Actor, scope, index string) warden.Decision {
	t.Helper()
	d, err := a.Decide(scope, index)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestActorRolesAndCycles: roles held through inheritance count for
// HasRole, and inheritance cycles end (SPEC 3.2).
func TestActorRolesAndCycles(t *testing.T) {
	t.Parallel()
	a, _ := warden.NewRole("a", warden.Allow("x"))
	b, _ := warden.NewRole("b", warden.Allow("y"))
	a.Inherit(b)
	b.Inherit(a)
	u, _ := warden.NewActor("u")
	u.Assign(a)
	for _, tc := range []struct {
		scope string
		want  bool
	}{{"x", true}, {"y", true}, {"z", false}} {
		if got := u.IsAllowed(tc.scope, ""); got != tc.want {
			t.Errorf("IsAllowed(%q) = %v", tc.scope, got)
		}
	}
	if !u.HasRole("a") || !u.HasRole("b") || u.HasRole("c") {
		t.Error("HasRole wrong")
	}
}

// TestActorRefusesBadInput: malformed ids and patterns are errors when
// they are given, never panics and never a check that silently allows.
func TestActorRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "a b", "a*", "a:", strings.Repeat("a", 1025)} {
		if _, err := warden.NewActor(id); err == nil {
			t.Errorf("NewActor(%q) accepted", id)
		}
		if _, err := warden.NewRole(id); err == nil {
			t.Errorf("NewRole(%q) accepted", id)
		}
	}
	a, _ := warden.NewActor("alice", warden.Allow("ok"))
	for _, r := range []warden.Rule{
		warden.Allow("a::b"), warden.Allow("x", "{id}"), warden.Deny(""), warden.Allow("x", "a,"),
		{Effect: warden.EffectNone, Action: "x", Resources: []string{"*"}}, {Effect: warden.EffectAllow, Action: "x"},
	} {
		if err := a.Add(warden.Allow("fine"), r); err == nil {
			t.Errorf("Add(%+v) accepted", r)
		}
	}
	if a.IsAllowed("fine", "") {
		t.Error("a refused Add still added its good rules")
	}
	if d, err := a.Decide("ok", "a*"); err == nil || d.Allowed {
		t.Errorf("pattern in a request: %+v, %v", d, err)
	}
	var nobody *warden.Actor
	if d, err := nobody.Decide("ok", ""); d.Allowed || !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("nil actor: %+v, %v", d, err)
	}
	if err := a.SetStrategy(warden.Strategy(9)); err == nil {
		t.Error("unknown strategy accepted")
	}
}

// TestPolicyActor: a subject of a policy file is an Actor too, so the same
// checks work with either front end.
func TestPolicyActor(t *testing.T) {
	t.Parallel()
	p, err := warden.Load("examples/accesscontrol/full-rbac.toml")
	if err != nil {
		t.Fatal(err)
	}
	user1, err := p.Actor("user1")
	if err != nil {
		t.Fatal(err)
	}
	if !user1.IsAllowed("GET", "part_b") || !user1.HasRole("admin") || !user1.HasRole("g5") || user1.HasRole("reader") {
		t.Error("file-backed actor decides differently from the file")
	}
	if err := user1.Add(warden.Allow("x")); !errors.Is(err, warden.ErrReadOnly) {
		t.Errorf("Add on a file-backed actor: %v", err)
	}
}

// TestActorConcurrentEdits: goroutines check while others edit the actor
// and its roles; run with -race. Every answer is one a consistent state
// would give.
func TestActorConcurrentEdits(t *testing.T) {
	t.Parallel()
	role, _ := warden.NewRole("writer", warden.Allow("doc:read"))
	actor, _ := warden.NewActor("carol")
	actor.Assign(role)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				if !actor.IsAllowed("doc:read", "") {
					t.Error("a grant that is never removed was lost")
					return
				}
				actor.IsAllowed(fmt.Sprintf("doc:edit%d", i%5), "")
				if g == 0 && i%10 == 0 {
					role.Add(warden.Allow(fmt.Sprintf("doc:edit%d", i%5)))
				}
				if g == 1 && i%10 == 0 {
					actor.Add(warden.Deny(fmt.Sprintf("doc:edit%d", i%7)))
				}
			}
		})
	}
	wg.Wait()
	// The role granted doc:edit0 (i%5 for multiples of 10); the actor
	// denied doc:edit0 to doc:edit6 (i%7); deny overrides.
	d := mustDecide(t, actor, "doc:edit0", "")
	if d.Allowed || d.Effect != warden.EffectDeny || d.Rule != "actor.carol" {
		t.Errorf("doc:edit0 after the edits: %+v", d)
	}
	if d := mustDecide(t, actor, "doc:read", ""); !d.Allowed || d.Rule != "role.writer" {
		t.Errorf("doc:read after the edits: %+v", d)
	}
}
