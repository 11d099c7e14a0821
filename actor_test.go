package warden_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/engine"
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
				roles := &warden.Roles{}
				var held []string
				for name, policies := range v.Roles {
					var rr []warden.Rule
					for _, p := range policies {
						rr = append(rr, rule(p))
					}
					role, err := warden.NewRole(name, rr...)
					if err != nil {
						t.Fatal(err)
					}
					if err := roles.Edit().Put(role).Commit(); err != nil {
						t.Fatal(err)
					}
					held = append(held, name)
				}
				actor, err := roles.Actor("actor", held...)
				if err != nil {
					t.Fatal(err)
				}
				var rules []warden.Rule
				for _, p := range v.Policies {
					rules = append(rules, rule(p))
				}
				if actor, err = actor.Add(rules...); err != nil {
					t.Fatal(err)
				}
				if actor, err = actor.WithStrategy(strategy); err != nil {
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

// TestRoleCommitsTakeEffect: a committed change to a role, even one held
// only through inheritance, shows on the next check of every actor that
// holds it; editing an actor makes a new actor and leaves the old one as
// it was (SPEC 7.1).
func TestRoleCommitsTakeEffect(t *testing.T) {
	t.Parallel()
	base := mustRole(t, "base")
	editor, err := mustRole(t, "editor", warden.Allow("articles:update", "articles:*")).Inherit("base")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := warden.NewRoles(base, editor)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := roles.Actor("alice")
	if err != nil {
		t.Fatal(err)
	}
	check := func(a *warden.Actor, scope, index string, want bool) {
		t.Helper()
		if got := a.IsAllowed(scope, index); got != want {
			d, err := a.Decide(scope, index)
			t.Fatalf("%s: IsAllowed(%q, %q) = %v, want %v (%s %v)", a.ID(), scope, index, got, want, d.Reason, err)
		}
	}
	check(alice, "articles:update", "articles:1", false)
	editorAlice, err := alice.Assign("editor")
	if err != nil {
		t.Fatal(err)
	}
	check(editorAlice, "articles:update", "articles:1", true)
	check(alice, "articles:update", "articles:1", false) // the old value is unchanged

	base2, _ := base.Add(warden.Allow("articles:read", "articles:*"))
	if err := roles.Edit().Put(base2).Commit(); err != nil {
		t.Fatal(err)
	}
	check(editorAlice, "articles:read", "articles:1", true) // through inheritance
	if len(base.Rules()) != 0 {
		t.Error("Add changed the role it was called on")
	}
	denied, err := editorAlice.Add(warden.Deny("articles:update", "articles:1"))
	if err != nil {
		t.Fatal(err)
	}
	check(denied, "articles:update", "articles:1", false)
	check(denied, "articles:update", "articles:2", true)
	check(editorAlice, "articles:update", "articles:1", true)
	revoked := denied.Revoke("editor")
	check(revoked, "articles:update", "articles:2", false)
	check(revoked, "articles:read", "articles:1", false)
	if !slices.Equal(denied.Roles(), []string{"editor"}) || len(revoked.Roles()) != 0 {
		t.Errorf("roles after Revoke: %q and %q", denied.Roles(), revoked.Roles())
	}
	d := mustDecide(t, editorAlice, "articles:update", "articles:9")
	if !strings.Contains(d.Reason, `[role.editor] "editor" is allowed`) || d.PolicyVersion != roles.Version() {
		t.Errorf("decision %+v does not name the role's rule and the set's version %s", d, roles.Version())
	}
	if err := roles.Edit().Remove("base").Commit(); err == nil || !strings.Contains(err.Error(), `"editor" inherits "base"`) {
		t.Errorf("removing an inherited role: %v", err)
	}
	check(editorAlice, "articles:read", "articles:1", true) // a refused commit changes nothing
	if err := roles.Edit().Remove("base", "editor").Commit(); err != nil {
		t.Fatal(err)
	}
	check(editorAlice, "articles:update", "articles:1", false)
	if !slices.Equal(roles.Names(), []string(nil)) && len(roles.Names()) != 0 {
		t.Errorf("names after removing every role: %q", roles.Names())
	}
}

func mustRole(t *testing.T, name string, rules ...warden.Rule) *warden.Role {
	t.Helper()
	r, err := warden.NewRole(name, rules...)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
	a, _ := mustRole(t, "a", warden.Allow("x")).Inherit("b")
	b, _ := mustRole(t, "b", warden.Allow("y")).Inherit("a")
	roles, err := warden.NewRoles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := roles.Actor("u", "a")
	for _, tc := range []struct {
		scope string
		want  bool
	}{{"x", true}, {"y", true}, {"z", false}} {
		if got := u.IsAllowed(tc.scope, ""); got != tc.want {
			t.Errorf("IsAllowed(%q) = %v", tc.scope, got)
		}
	}
	if !u.HasRole("a") || !u.HasRole("b") || u.HasRole("c") || u.HasRole("") || u.HasRole("u") {
		t.Error("HasRole wrong")
	}
}

// TestActorRefusesBadInput: malformed ids, roles and patterns are errors
// when they are given, never panics and never a check that silently
// allows; zero and nil values deny.
func TestActorRefusesBadInput(t *testing.T) {
	t.Parallel()
	roles := &warden.Roles{}
	for _, id := range []string{"", "a b", "a*", "a:", "a,b", "a\x00", strings.Repeat("a", 1025)} {
		if _, err := warden.NewActor(id); err == nil {
			t.Errorf("NewActor(%q) accepted", id)
		}
		if _, err := warden.NewRole(id); err == nil {
			t.Errorf("NewRole(%q) accepted", id)
		}
		if _, err := roles.Actor(id); err == nil {
			t.Errorf("Roles.Actor(%q) accepted", id)
		}
		if _, err := roles.Actor("alice", id); err == nil {
			t.Errorf("Roles.Actor with role %q accepted", id)
		}
		if _, err := mustRole(t, "r").Inherit(id); err == nil {
			t.Errorf("Inherit(%q) accepted", id)
		}
	}
	if _, err := roles.Actor("alice", make([]string, 1000)...); err == nil {
		t.Error("1,000 roles accepted")
	}
	a, _ := warden.NewActor("alice", warden.Allow("ok"))
	for _, r := range []warden.Rule{
		warden.Allow("a::b"), warden.Allow("x", "{id}"), warden.Deny(""), warden.Allow("x", "a,"),
		{Effect: warden.EffectNone, Action: "x", Resources: []string{"*"}}, {Effect: warden.EffectAllow, Action: "x"},
	} {
		if b, err := a.Add(warden.Allow("fine"), r); err == nil || b != nil {
			t.Errorf("Add(%+v) accepted", r)
		}
		if _, err := warden.NewRole("r", r); err == nil {
			t.Errorf("NewRole with %+v accepted", r)
		}
		if _, err := warden.NewActor("alice", r); err == nil {
			t.Errorf("NewActor with %+v accepted", r)
		}
	}
	if a.IsAllowed("fine", "") {
		t.Error("a refused Add changed the actor")
	}
	if d, err := a.Decide("ok", "a*"); err == nil || d.Allowed {
		t.Errorf("pattern in a request: %+v, %v", d, err)
	}
	if _, err := a.WithStrategy(warden.Strategy(9)); err == nil {
		t.Error("unknown strategy accepted")
	}
	if err := roles.Edit().Put(nil).Commit(); err == nil {
		t.Error("a nil role was committed")
	}
	if err := roles.Edit().Put(&warden.Role{}).Commit(); err == nil {
		t.Error("a zero role was committed")
	}
	orphan, _ := mustRole(t, "orphan").Inherit("nobody")
	if err := roles.Edit().Put(orphan).Commit(); err == nil || len(roles.Names()) != 0 {
		t.Errorf("a role inheriting an unknown role: %v, set %q", err, roles.Names())
	}
	var nilEdit *warden.RoleEdit
	if err := nilEdit.Commit(); err == nil {
		t.Error("nil RoleEdit committed")
	}
	if err := nilEdit.Put(mustRole(t, "x")).Remove("y").Commit(); err == nil {
		t.Error("nil RoleEdit took a change and committed it")
	}
}

// TestZeroValues: every zero value and nil denies or errs; none panics.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	var zero warden.Actor
	var nobody *warden.Actor
	for _, a := range []*warden.Actor{&zero, nobody} {
		if d, err := a.Decide("ok", ""); d.Allowed || !errors.Is(err, warden.ErrUnauthorized) {
			t.Errorf("%v actor: %+v, %v", a, d, err)
		}
		if a.IsAllowed("ok", "") || a.HasRole("") || a.HasRole("x") || a.Roles() != nil || a.Rules() != nil {
			t.Errorf("%v actor allows or holds something", a)
		}
		if _, err := a.Add(warden.Allow("x")); err == nil {
			t.Errorf("Add on a %v actor succeeded", a)
		}
		if _, err := a.WithStrategy(warden.MostSpecific); err == nil {
			t.Errorf("WithStrategy on a %v actor succeeded", a)
		}
	}
	if _, err := nobody.Assign("x"); err == nil || nobody.Revoke("x") != nil {
		t.Error("nil actor edits")
	}
	var role *warden.Role
	if role.Name() != "" || role.Rules() != nil || role.Inherits() != nil {
		t.Error("nil role has content")
	}
	if _, err := role.Add(warden.Allow("x")); err == nil {
		t.Error("nil role Add succeeded")
	}
	if _, err := role.Inherit("x"); err == nil {
		t.Error("nil role Inherit succeeded")
	}
	var set *warden.Roles
	if set.Role("x") != nil || set.Names() != nil || set.Version() != "" {
		t.Error("nil Roles has content")
	}
	if a, err := set.Actor("alice", "admin"); err != nil || a.IsAllowed("x", "") || !a.HasRole("admin") {
		t.Errorf("actor of a nil Roles: %v", err)
	}
	var empty warden.Roles
	if a, err := empty.Actor("alice"); err != nil || a.IsAllowed("x", "") {
		t.Errorf("actor of the zero Roles: %v", err)
	}
	var p *warden.Policy
	if _, err := p.Actor("alice"); !errors.Is(err, warden.ErrNoPolicy) {
		t.Errorf("nil Policy's actor: %v", err)
	}
}

// TestPolicyActor: a subject of a policy file is an Actor too, so the same
// checks work with either front end, and groups supplied with it count.
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
	if d := mustDecide(t, user1, "GET", "part_b"); d.PolicyVersion != p.Version() {
		t.Errorf("file actor's decision version %q, want %q", d.PolicyVersion, p.Version())
	}
	if _, err := user1.Add(warden.Allow("x")); !errors.Is(err, warden.ErrReadOnly) {
		t.Errorf("Add on a file-backed actor: %v", err)
	}
	// No rule names a stranger; the file's mismatch decision allows. As a
	// supplied member of g2 the stranger is a reader, whom rules.r2 denies.
	stranger, _ := p.Actor("stranger")
	if !stranger.IsAllowed("PUT", "part_c") || stranger.HasRole("reader") {
		t.Fatal("a stranger is not decided by the mismatch decision")
	}
	asReader, err := stranger.Assign("g2")
	if err != nil {
		t.Fatal(err)
	}
	if asReader.IsAllowed("PUT", "part_c") || !asReader.HasRole("reader") || !asReader.HasRole("g2") {
		t.Error("a supplied group does not bring its roles")
	}
	got := mustDecide(t, asReader, "PUT", "part_c")
	want, _ := p.Decide(warden.Request{Subject: "stranger", Resource: "part_c", Action: "PUT", Groups: []string{"g2"}})
	if got.Rule != "rules.r2" || got.Rule != want.Rule || got.Item != want.Item || got.Allowed != want.Allowed || got.Reason != want.Reason {
		t.Errorf("actor with supplied groups %+v, Policy.Decide with Groups %+v", got, want)
	}
}

// TestRolesConcurrentEdits is the concurrency model's property: while one
// goroutine commits random role edits, others check through actors made
// before and during the edits. Every decision names the version of the set
// it read, and must equal the decision of a policy compiled from scratch
// from that exact state, as the old one-policy-per-actor model compiled
// it. Run with -race.
func TestRolesConcurrentEdits(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		scopes := []string{"doc:read", "doc:edit", "doc:*", "*"}
		names := []string{"r1", "r2", "r3"}
		genRule := func(label string) warden.Rule {
			s := rapid.SampledFrom(scopes).Draw(rt, label+"-scope")
			idx := rapid.SampledFrom([]string{"*", "d:1", "d:*"}).Draw(rt, label+"-index")
			if rapid.IntRange(0, 3).Draw(rt, label+"-deny") == 0 {
				return warden.Deny(s, idx)
			}
			return warden.Allow(s, idx)
		}
		genRole := func(label string, present []string) *warden.Role {
			r := mustRoleR(rt, rapid.SampledFrom(names).Draw(rt, label+"-name"))
			for i := range rapid.IntRange(0, 2).Draw(rt, label+"-rules") {
				r, _ = r.Add(genRule(fmt.Sprintf("%s-rule%d", label, i)))
			}
			if len(present) > 0 && rapid.Bool().Draw(rt, label+"-inherits") {
				r, _ = r.Inherit(rapid.SampledFrom(present).Draw(rt, label+"-parent"))
			}
			return r
		}
		strategy := rapid.SampledFrom([]warden.Strategy{warden.DenyOverrides, warden.AllowOverrides, warden.FirstMatch, warden.MostSpecific}).Draw(rt, "strategy")
		var own []warden.Rule
		for i := range rapid.IntRange(0, 2).Draw(rt, "own") {
			own = append(own, genRule(fmt.Sprintf("own%d", i)))
		}
		held := rapid.SliceOfNDistinct(rapid.SampledFrom(names), 0, 3, rapid.ID[string]).Draw(rt, "held")

		// The states the set goes through, by version, each as the roles it
		// held in rule order; a check is held to the state it names.
		roles := &warden.Roles{}
		var states sync.Map
		record := func() {
			var rs []*warden.Role
			for _, n := range roles.Names() {
				rs = append(rs, roles.Role(n))
			}
			states.Store(roles.Version(), rs)
		}
		record()
		var edits [][]*warden.Role
		var removes [][]string
		for i := range rapid.IntRange(1, 6).Draw(rt, "edits") {
			var put []*warden.Role
			for j := range rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("edit%d-puts", i)) {
				put = append(put, genRole(fmt.Sprintf("edit%d-put%d", i, j), names))
			}
			edits = append(edits, put)
			removes = append(removes, rapid.SliceOfN(rapid.SampledFrom(names), 0, 1).Draw(rt, fmt.Sprintf("edit%d-remove", i)))
		}

		type seen struct {
			scope, index string
			d            warden.Decision
		}
		var mu sync.Mutex
		var got []seen
		var checks atomic.Int64
		done := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					default:
					}
					a, err := roles.Actor("alice", held...)
					if err != nil {
						t.Error(err)
						return
					}
					if a, err = a.Add(own...); err != nil {
						t.Error(err)
						return
					}
					if a, err = a.WithStrategy(strategy); err != nil {
						t.Error(err)
						return
					}
					scope, index := scopes[(i+g)%2], []string{"d:1", "d:2", ""}[i%3]
					d, err := a.Decide(scope, index)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got = append(got, seen{scope, index, d})
					mu.Unlock()
					checks.Add(1)
				}
			})
		}
		for i, put := range edits {
			// A commit may fail (a role inheriting one the edit removes);
			// a failed commit changes nothing, so no state is recorded.
			if err := roles.Edit().Put(put...).Remove(removes[i]...).Commit(); err == nil {
				record()
			}
			// Let the checkers see this state before the next edit.
			for start := checks.Load(); checks.Load() < start+4; {
				runtime.Gosched()
			}
		}
		close(done)
		wg.Wait()

		if len(got) < 4*len(edits) {
			rt.Fatalf("only %d checks ran", len(got))
		}
		for _, s := range got {
			v, ok := states.Load(s.d.PolicyVersion)
			if !ok {
				if len(own) > 0 && s.d.PolicyVersion != "" {
					// An empty set: the version is the own rules'.
					v, ok = []*warden.Role(nil), true
				}
				if !ok {
					rt.Fatalf("decision names version %q, which no commit made", s.d.PolicyVersion)
				}
			}
			want := fromScratch(rt, strategy, own, held, v.([]*warden.Role), s.scope, s.index)
			if s.d.Allowed != want.Allowed || s.d.Effect != want.Effect || s.d.Rule != want.Rule || s.d.Item != want.Item {
				rt.Fatalf("check %q on %q under %v: got %+v, a fresh compile of the state it saw gives %+v", s.scope, s.index, strategy, s.d, want)
			}
		}
	})
}

func mustRoleR(t *rapid.T, name string, rules ...warden.Rule) *warden.Role {
	r, err := warden.NewRole(name, rules...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fromScratch decides as the old model did: one policy, built from the
// actor's own rules and the roles it saw, with the actor a member of the
// roles it holds and inheritance as role membership, compiled from
// nothing. Own rules come first, then each role's in the set's order.
func fromScratch(t *rapid.T, s warden.Strategy, own []warden.Rule, held []string, roles []*warden.Role, scope, index string) warden.Decision {
	src := &engine.Source{Strategy: s}
	members := map[string][]engine.Member{}
	present := map[string]bool{}
	for _, r := range roles {
		present[r.Name()] = true
		for _, p := range r.Inherits() {
			members[p] = append(members[p], engine.Member{Name: r.Name()})
		}
	}
	for _, h := range held {
		if present[h] {
			members[h] = append(members[h], engine.Member{Name: "alice"})
		}
	}
	add := func(id, subject string, rules []warden.Rule) {
		var items [3]int
		for _, r := range rules {
			for _, res := range r.Resources {
				items[r.Effect]++
				src.Rules = append(src.Rules, engine.Rule{ID: id, Item: items[r.Effect], Effect: r.Effect, Subject: subject, Resource: res, Action: r.Action})
			}
		}
	}
	add("actor.alice", "alice", own)
	for _, r := range roles {
		src.Groups = append(src.Groups, engine.Group{Name: r.Name(), Section: "roles", Role: true, Members: members[r.Name()]})
		add("role."+r.Name(), r.Name(), r.Rules())
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		t.Fatalf("the reference policy does not compile: %v", errs)
	}
	d, err := p.Decide(&engine.Query{Subject: "alice", Resource: index, Action: scope})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
