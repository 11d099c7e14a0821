package guard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/guard"
)

func staticAuth(actors ...*warden.Actor) *guard.Auth {
	return guard.NewAuth(guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
		for _, a := range actors {
			if a.ID() == id {
				return a, nil
			}
		}
		return nil, nil
	}), nil)
}

// TestConformanceToffiGuard runs the guard section of toffi.json under both
// most-specific and deny-overrides (SPEC 7.3, 7.4).
func TestConformanceToffiGuard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../testdata/conformance/toffi.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Guard []struct {
			Policy   [3]string
			Scope    string
			Template string
			Value    any
			Outcome  string
		}
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	// A vector with "actor": null has nobody authorized.
	var keys struct{ Guard []map[string]json.RawMessage }
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Guard) != 6 {
		t.Fatalf("%d guard vectors", len(vectors.Guard))
	}
	for _, strategy := range []warden.Strategy{warden.MostSpecific, warden.DenyOverrides} {
		for i, v := range vectors.Guard {
			t.Run(fmt.Sprintf("%s/%d-%s", strategy, i, v.Outcome), func(t *testing.T) {
				t.Parallel()
				actor, err := warden.NewActor("actor", warden.Allow(v.Policy[1], v.Policy[2]))
				if err != nil {
					t.Fatal(err)
				}
				if actor, err = actor.WithStrategy(strategy); err != nil {
					t.Fatal(err)
				}
				auth := staticAuth(actor)
				g, err := auth.Guard(v.Scope, v.Template)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if _, noActor := keys.Guard[i]["actor"]; !noActor {
					if ctx, err = auth.Authorize(ctx, "actor"); err != nil {
						t.Fatal(err)
					}
				}
				_, err = g.Check(ctx, v.Value)
				var want error
				switch v.Outcome {
				case "allowed":
				case "ErrAccessDenied":
					want = guard.ErrAccessDenied
				case "ErrInvalidReference":
					want = guard.ErrInvalidReference
				case "ErrUnauthorized":
					want = warden.ErrUnauthorized
				default:
					t.Fatalf("unknown outcome %q", v.Outcome)
				}
				if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
					t.Errorf("Check(%v) = %v, want %s", v.Value, err, v.Outcome)
				}
			})
		}
	}
}

// TestGuardInjection: a hostile value never widens or redirects the index
// (SPEC 7.4); each is ErrInvalidReference and the operation does not run.
func TestGuardInjection(t *testing.T) {
	t.Parallel()
	alice, _ := warden.NewActor("alice", warden.Allow("articles:update", "articles:animals:1"), warden.Allow("articles:read", "articles:*"))
	auth := staticAuth(alice)
	ctx, _ := auth.Authorize(context.Background(), "alice")
	g, err := auth.Guard("articles:update", "articles:{category}:{id}")
	if err != nil {
		t.Fatal(err)
	}
	type ref struct {
		Category string `json:"category"`
		ID       string `json:"id"`
	}
	if _, err := g.Check(ctx, ref{"animals", "1"}); err != nil {
		t.Fatalf("the legitimate call fails: %v", err)
	}
	ran := false
	update := guard.Guarded(g, func(_ context.Context, r ref) (string, error) { ran = true; return "ok", nil })
	for _, id := range []string{"1:*", "*", "1,2", "", "1 ", "1\n", "{id}", "1:2", "\u200b1", "1\u00a0", "\xff", "cafe\u0301"} {
		_, err := update(ctx, ref{"animals", id})
		if !errors.Is(err, guard.ErrInvalidReference) || ran {
			t.Errorf("id %q: err = %v, ran = %v", id, err, ran)
		}
	}
	if _, err := update(ctx, ref{"plants", "1"}); !errors.Is(err, guard.ErrAccessDenied) || ran {
		t.Errorf("another category: %v", err)
	}
	var denied *guard.DeniedError
	if _, err := g.Check(ctx, ref{"plants", "1"}); !errors.As(err, &denied) || denied.Index != "articles:plants:1" || denied.Decision.Allowed {
		t.Errorf("denied error does not carry the decision: %#v", err)
	}
}

// TestGuardFallback: the fallback is asked only when no rule matched; an
// explicit deny is final (SPEC 7.6).
func TestGuardFallback(t *testing.T) {
	t.Parallel()
	bob, _ := warden.NewActor("bob", warden.Deny("articles:delete", "articles:*:locked"))
	asked := 0
	auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return bob, nil }),
		&guard.Options{Fallback: func(_ context.Context, a *warden.Actor, scope, index string) bool {
			asked++
			return index == "articles:bob:1" // the owner may edit their own
		}})
	ctx, _ := auth.Authorize(context.Background(), "bob")
	g, _ := auth.Guard("articles:delete", "articles:{owner}:{id}")
	for _, tc := range []struct {
		owner, id string
		allowed   bool
		asked     int
	}{
		{"bob", "1", true, 1},
		{"carol", "1", false, 2},
		{"bob", "locked", false, 2}, // denied by a rule: the fallback is not asked
	} {
		d, err := g.Check(ctx, map[string]any{"owner": tc.owner, "id": tc.id})
		if d.Allowed != tc.allowed || (err == nil) != tc.allowed || asked != tc.asked {
			t.Errorf("%s/%s: allowed %v, err %v, fallback asked %d times; want %v, %d", tc.owner, tc.id, d.Allowed, err, asked, tc.allowed, tc.asked)
		}
	}
}

// TestGuardRolesAndAfter covers the role-only guard and guard-after (SPEC 7.5).
func TestGuardRolesAndAfter(t *testing.T) {
	t.Parallel()
	roles, _ := warden.NewRoles(mustRole(t, "admin"))
	carol, _ := roles.Actor("carol", "admin")
	carol, _ = carol.Add(warden.Allow("invoice:read", "invoices:carol:*"))
	dave, _ := roles.Actor("dave")
	auth := staticAuth(carol, dave)
	onlyAdmins, err := auth.RequireRoles("admin")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"carol": true, "dave": false} {
		ctx, _ := auth.Authorize(context.Background(), id)
		if _, err := onlyAdmins.Check(ctx); (err == nil) != want {
			t.Errorf("%s: %v", id, err)
		}
	}
	type invoice struct {
		Owner string `json:"owner"`
		ID    int    `json:"id"`
	}
	read, _ := auth.Guard("invoice:read", "invoices:{owner}:{id}")
	load := guard.GuardedAfter(read, func(_ context.Context, id int) (invoice, error) {
		return invoice{Owner: []string{"carol", "erin"}[id%2], ID: id}, nil
	})
	ctx, _ := auth.Authorize(context.Background(), "carol")
	if inv, err := load(ctx, 2); err != nil || inv.Owner != "carol" {
		t.Errorf("own invoice: %+v, %v", inv, err)
	}
	if inv, err := load(ctx, 3); !errors.Is(err, guard.ErrAccessDenied) || inv != (invoice{}) {
		t.Errorf("someone else's invoice: %+v, %v", inv, err)
	}
	if _, err := load(context.Background(), 2); !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("no actor: %v", err)
	}
}

// TestAuthorize: no provider, no actor, or a provider error is
// ErrUnauthorized; malformed guards are refused when made.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	boom := errors.New("db down")
	failing := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return nil, boom }), nil)
	if _, err := failing.Authorize(context.Background(), "x"); !errors.Is(err, warden.ErrUnauthorized) || !errors.Is(err, boom) {
		t.Errorf("provider error: %v", err)
	}
	if _, err := staticAuth().Authorize(context.Background(), "ghost"); !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("no such actor: %v", err)
	}
	var nilAuth *guard.Auth
	if _, err := nilAuth.Authorize(context.Background(), "x"); !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("nil Auth: %v", err)
	}
	auth := staticAuth()
	for _, tc := range []struct{ scope, index string }{
		{"a*", ""}, {"", "x"}, {"ok", "user-{id}"}, {"ok", "{a}{b}"}, {"ok", "a:*"}, {"ok", "{"},
	} {
		if _, err := auth.Guard(tc.scope, tc.index); err == nil {
			t.Errorf("Guard(%q, %q) accepted", tc.scope, tc.index)
		}
	}
	if _, err := auth.RequireRoles(); err == nil {
		t.Error("RequireRoles() accepted")
	}
	// Ignoring Guard's error leaves a nil guard: it denies, never panics.
	bad, _ := auth.Guard("a*", "")
	ctx := guard.WithActor(context.Background(), mustActor(t, "x"))
	if d, err := bad.Check(ctx); err == nil || d.Allowed {
		t.Errorf("nil guard: %+v, %v", d, err)
	}
	wrapped := guard.Guarded(bad, func(context.Context, int) (int, error) { return 1, nil })
	if _, err := wrapped(ctx, 1); err == nil {
		t.Error("nil guard let a wrapped call through")
	}
	var nobody *warden.Actor
	if nobody.ID() != "" || nobody.IsAllowed("x", "") || nobody.HasRole("x") {
		t.Error("nil actor")
	}
	var zero warden.Actor
	if zero.IsAllowed("x", "") {
		t.Error("zero Actor allowed")
	}
}

func mustActor(t *testing.T, id string, rules ...warden.Rule) *warden.Actor {
	t.Helper()
	a, err := warden.NewActor(id, rules...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// BenchmarkGuardCheck: a guarded call on an actor with 1,000 rules,
// resolving a two-placeholder template from a struct.
func BenchmarkGuardCheck(b *testing.B) {
	var rules []warden.Rule
	for i := range 1000 {
		rules = append(rules, warden.Allow(fmt.Sprintf("scope%d:update", i%50), fmt.Sprintf("articles:cat%d:*", i)))
	}
	actor, _ := warden.NewActor("alice", rules...)
	auth := staticAuth(actor)
	ctx, _ := auth.Authorize(context.Background(), "alice")
	g, _ := auth.Guard("scope7:update", "articles:{category}:{id}")
	arg := benchRef{"cat507", 42}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Check(ctx, arg); err != nil {
			b.Fatal(err)
		}
	}
}

type benchRef struct {
	Category string `json:"category"`
	ID       int    `json:"id"`
}

// BenchmarkGuardCheckFreshActor is the per-request actor the docs
// advertise: every request makes its actor from the role names stored for
// it, authorizes and checks. The same 1,000 rules live in 50 roles of one
// set, and the actor holds three of them. "roles" looks the names up
// through NewRolesAuth; "provider" makes the actor in an ActorProvider.
func BenchmarkGuardCheckFreshActor(b *testing.B) {
	set := &warden.Roles{}
	for r := range 50 {
		var rules []warden.Rule
		for i := r; i < 1000; i += 50 {
			rules = append(rules, warden.Allow(fmt.Sprintf("scope%d:update", i%50), fmt.Sprintf("articles:cat%d:*", i)))
		}
		role, _ := warden.NewRole(fmt.Sprintf("role%d", r), rules...)
		if err := set.Edit().Put(role).Commit(); err != nil {
			b.Fatal(err)
		}
	}
	stored := map[string][]string{"alice": {"role3", "role7", "role11"}}
	for _, bc := range []struct {
		name string
		auth *guard.Auth
	}{
		{"roles", guard.NewRolesAuth(set, storedNames(stored), nil)},
		{"provider", guard.NewAuth(guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
			return set.Actor(id, stored[id]...)
		}), nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, _ := bc.auth.Guard("scope7:update", "articles:{category}:{id}")
			arg := benchRef{"cat507", 42}
			bg := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ctx, err := bc.auth.Authorize(bg, "alice")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := g.Check(ctx, arg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// storedNames is a RoleNames over a map, as a database lookup would be.
func storedNames(stored map[string][]string) guard.RoleNames {
	return func(_ context.Context, id string) ([]string, bool, error) {
		r, ok := stored[id]
		return r, ok, nil
	}
}

// TestGuardCheckAllocations pins what a guarded call allocates without
// audit: with an actor reused across calls, only the resolved resource
// name, whether the template is filled from a struct or a bare value; with an actor made per request from stored role names
// (NewRolesAuth), the context that holds the actor besides; with an
// ActorProvider making it, the actor too. Not parallel:
// testing.AllocsPerRun reads process-wide counters.
func TestGuardCheckAllocations(t *testing.T) {
	set := &warden.Roles{}
	role, err := warden.NewRole("editor", warden.Allow("article:update", "articles:cat7:*"))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Edit().Put(role).Commit(); err != nil {
		t.Fatal(err)
	}
	stored := map[string][]string{"alice": {"editor"}}
	byRoles := guard.NewRolesAuth(set, storedNames(stored), nil)
	byProvider := guard.NewAuth(guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
		return set.Actor(id, stored[id]...)
	}), nil)
	// Boxed once here: converting a struct to any is the caller's
	// allocation, not the guard's.
	var arg any = benchRef{"cat7", 42}
	bg := context.Background()
	fresh := func(auth *guard.Auth) func() {
		g, err := auth.Guard("article:update", "articles:{category}:{id}")
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			ctx, err := auth.Authorize(bg, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if d, err := g.Check(ctx, arg); err != nil || !d.Allowed {
				t.Fatal(d, err)
			}
		}
	}
	reused, err := byRoles.Authorize(bg, "alice")
	if err != nil {
		t.Fatal(err)
	}
	g, err := byRoles.Guard("article:update", "articles:{category}:{id}")
	if err != nil {
		t.Fatal(err)
	}
	bare, err := byRoles.Guard("article:update", "articles:cat7:{value}")
	if err != nil {
		t.Fatal(err)
	}
	var id any = "42"
	for _, tc := range []struct {
		name string
		max  float64
		call func()
	}{
		{"reused actor", 1, func() {
			if d, err := g.Check(reused, arg); err != nil || !d.Allowed {
				t.Fatal(d, err)
			}
		}},
		{"reused actor, a bare argument", 1, func() {
			if d, err := bare.Check(reused, id); err != nil || !d.Allowed {
				t.Fatal(d, err)
			}
		}},
		{"fresh actor from role names", 2, fresh(byRoles)},
		{"fresh actor from a provider", 3, fresh(byProvider)},
	} {
		if n := testing.AllocsPerRun(200, tc.call); n > tc.max {
			t.Errorf("%s: %v allocations a guarded call, want at most %v", tc.name, n, tc.max)
		}
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
