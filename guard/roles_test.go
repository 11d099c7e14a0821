package guard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
	"pgregory.net/rapid"
)

// TestRolesAuthHostile: every way NewRolesAuth can be misconfigured or fed
// bad names authorizes no one, with ErrUnauthorized naming why; none
// panics, and none leaves an actor in the context.
func TestRolesAuthHostile(t *testing.T) {
	t.Parallel()
	viewer := mustRole(t, "viewer", warden.Allow("doc:read"))
	set, err := warden.NewRoles(viewer)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("db down")
	names := func(roles []string, ok bool, err error) guard.RoleNames {
		return func(context.Context, string) ([]string, bool, error) { return roles, ok, err }
	}
	many := make([]string, 100_000)
	for i := range many {
		many[i] = fmt.Sprintf("r%d", i)
	}
	if ctx, err := guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), nil).Authorize(nil, "ann"); !errors.Is(err, warden.ErrUnauthorized) || ctx != nil {
		t.Errorf("nil context: %v, %v", ctx, err)
	}
	if _, err := guard.NewAuth(guard.ActorProviderFunc(nil), nil).Authorize(context.Background(), "ann"); !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("a nil ActorProviderFunc: %v", err)
	}
	// A nil context reaches no actor, no attributes and no decision, with
	// audit on too: an error, not a panic.
	audited := guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), &guard.Options{Audit: &audit.Memory{}, AuditRequired: true})
	g, err := audited.Guard("doc:read", "")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := g.Check(nil); d.Allowed || !errors.Is(err, warden.ErrUnauthorized) {
		t.Errorf("Check(nil) = %+v, %v", d, err)
	}
	if guard.ActorFrom(nil) != nil || guard.AttributesFrom(nil) != nil {
		t.Error("a nil context carries something")
	}
	for _, tc := range []struct {
		name string
		auth *guard.Auth
		id   string
		want string // in the error
	}{
		{"nil set", guard.NewRolesAuth(nil, names([]string{"viewer"}, true, nil), nil), "ann", "unauthorized"},
		{"nil names", guard.NewRolesAuth(set, nil, nil), "ann", "unauthorized"},
		{"both nil", guard.NewRolesAuth(nil, nil, nil), "ann", "unauthorized"},
		{"lookup error", guard.NewRolesAuth(set, names(nil, true, boom), nil), "ann", "db down"},
		{"lookup error and ok false", guard.NewRolesAuth(set, names(nil, false, boom), nil), "ann", "db down"},
		{"no such actor", guard.NewRolesAuth(set, names([]string{"viewer"}, false, nil), nil), "ann", `no actor "ann"`},
		{"empty id", guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), nil), "", "actor id"},
		{"pattern id", guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), nil), "a*", "actor id"},
		{"id with a comma", guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), nil), "a,b", "actor id"},
		{"NUL in the id", guard.NewRolesAuth(set, names([]string{"viewer"}, true, nil), nil), "a\x00", "actor id"},
		{"pattern role", guard.NewRolesAuth(set, names([]string{"viewer", "*"}, true, nil), nil), "ann", "role"},
		{"empty role", guard.NewRolesAuth(set, names([]string{""}, true, nil), nil), "ann", "role"},
		{"overlong role", guard.NewRolesAuth(set, names([]string{strings.Repeat("r", 2000)}, true, nil), nil), "ann", "role"},
		{"100,000 roles", guard.NewRolesAuth(set, names(many, true, nil), nil), "ann", "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, err := tc.auth.Authorize(context.Background(), tc.id)
			if !errors.Is(err, warden.ErrUnauthorized) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Authorize = %v, want ErrUnauthorized mentioning %q", err, tc.want)
			}
			if guard.ActorFrom(ctx) != nil {
				t.Error("a refused Authorize left an actor in the context")
			}
		})
	}
}

// TestRolesAuthContext: the context NewRolesAuth returns is its parent's
// in every other respect: values, deadline and cancellation pass through,
// and contexts derived from it still carry the actor.
func TestRolesAuthContext(t *testing.T) {
	t.Parallel()
	set, err := warden.NewRoles(mustRole(t, "viewer", warden.Allow("doc:read")))
	if err != nil {
		t.Fatal(err)
	}
	auth := guard.NewRolesAuth(set, storedNames(map[string][]string{"ann": {"viewer"}}), nil)
	type key struct{}
	parent, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), time.Hour)
	ctx, err := auth.Authorize(parent, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Value(key{}) != "v" {
		t.Error("the parent's value is lost")
	}
	if d1, ok1 := ctx.Deadline(); !ok1 || d1.IsZero() {
		t.Error("the parent's deadline is lost")
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	if a := guard.ActorFrom(child); a == nil || a.ID() != "ann" || !slices.Equal(a.Roles(), []string{"viewer"}) {
		t.Errorf("derived context: actor %v", a)
	}
	if s := fmt.Sprint(ctx); !strings.Contains(s, `WithActor("ann")`) {
		t.Errorf("String() = %q", s)
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not reach a context derived from the actor's")
	}
	// Another actor leaves the first untouched: each lives in its own
	// context.
	other, err := auth.Authorize(context.Background(), "ann")
	if err != nil || guard.ActorFrom(other) == guard.ActorFrom(ctx) {
		t.Errorf("two Authorize calls share an actor: %v", err)
	}
}

// TestRolesAuthMatchesProvider: for random role names, sets and requests,
// an actor made inside the context by NewRolesAuth decides exactly as the
// actor Roles.Actor returns, through the same guard: the by-value copy
// loses nothing (held roles past the inline four included).
func TestRolesAuthMatchesProvider(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		names := []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}
		set := &warden.Roles{}
		for _, n := range names {
			scope := rapid.SampledFrom([]string{"doc:read", "doc:write", "doc:*"}).Draw(t, "scope")
			var rules []warden.Rule
			if rapid.Bool().Draw(t, "deny") {
				rules = append(rules, warden.Deny(scope, "docs:secret"))
			}
			rules = append(rules, warden.Allow(scope, rapid.SampledFrom([]string{"docs:*", "docs:public", "*"}).Draw(t, "index")))
			r, err := warden.NewRole(n, rules...)
			if err != nil {
				t.Fatal(err)
			}
			if parent := rapid.SampledFrom(append([]string{""}, names...)).Draw(t, "inherits"); parent != "" && parent != n {
				if r, err = r.Inherit(parent); err != nil {
					t.Fatal(err)
				}
			}
			if err := set.Edit().Put(r).Commit(); err != nil {
				// It inherits a role not put yet: put it without.
				r, _ = warden.NewRole(n, rules...)
				if err := set.Edit().Put(r).Commit(); err != nil {
					t.Fatal(err)
				}
			}
		}
		held := rapid.SliceOfN(rapid.SampledFrom(append(names, "unknown")), 0, 8).Draw(t, "held")
		stored := map[string][]string{"ann": held}
		byRoles := guard.NewRolesAuth(set, storedNames(stored), nil)
		byProvider := guard.NewAuth(guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
			return set.Actor(id, stored[id]...)
		}), nil)
		scope := rapid.SampledFrom([]string{"doc:read", "doc:write"}).Draw(t, "check scope")
		value := rapid.SampledFrom([]string{"public", "secret", "x"}).Draw(t, "check index")
		var got [2]warden.Decision
		var errs [2]error
		for i, auth := range []*guard.Auth{byRoles, byProvider} {
			ctx, err := auth.Authorize(context.Background(), "ann")
			if err != nil {
				t.Fatal(err)
			}
			g, err := auth.Guard(scope, "docs:{value}")
			if err != nil {
				t.Fatal(err)
			}
			got[i], errs[i] = g.Check(ctx, value)
			if r := guard.ActorFrom(ctx).Roles(); !slices.Equal(r, uniq(held)) {
				t.Fatalf("actor %d holds %q, want %q", i, r, uniq(held))
			}
		}
		if got[0].Allowed != got[1].Allowed || got[0].Reason != got[1].Reason || (errs[0] == nil) != (errs[1] == nil) {
			t.Fatalf("by role names %+v, %v; by provider %+v, %v", got[0], errs[0], got[1], errs[1])
		}
	})
}

func uniq(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
