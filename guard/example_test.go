package guard_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
)

// A toffi-style quick start: an actor provider, an Auth, and a guarded
// function. The actor gains the scope, and the guarded call goes through.
func Example() {
	alice, _ := warden.NewActor("alice")
	auth := guard.NewAuth(guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
		if id == "alice" {
			return alice, nil // your database lookup
		}
		return nil, nil
	}), nil)

	protected, _ := auth.Guard("protected", "")
	protectThis := guard.Guarded(protected, func(ctx context.Context, _ struct{}) (string, error) {
		return "done", nil
	})

	ctx, _ := auth.Authorize(context.Background(), "alice")
	if _, err := protectThis(ctx, struct{}{}); errors.Is(err, guard.ErrAccessDenied) {
		fmt.Println("denied: alice has no access to the scope yet")
	}
	// Actors are values: an edit makes a new actor, which the provider
	// hands out from then on.
	alice, _ = alice.Add(warden.Allow("protected"))
	ctx, _ = auth.Authorize(context.Background(), "alice")
	out, err := protectThis(ctx, struct{}{})
	fmt.Println(out, err)
	// Output:
	// denied: alice has no access to the scope yet
	// done <nil>
}

// A dynamic index: the guard's template is filled from the call's argument,
// by the struct's json field names.
func ExampleGuard_Check() {
	editor, _ := warden.NewActor("editor", warden.Allow("articles:update", "articles:animals:*"))
	auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return editor, nil }), nil)
	ctx, _ := auth.Authorize(context.Background(), "editor")

	type Article struct {
		Category string `json:"category"`
		ID       int    `json:"id"`
	}
	update, _ := auth.Guard("articles:update", "articles:{category}:{id}")
	for _, a := range []Article{{"animals", 42}, {"plants", 7}} {
		_, err := update.Check(ctx, a)
		fmt.Println(a.Category, a.ID, err == nil)
	}
	// A value that tries to widen the index is refused, not matched.
	_, err := update.Check(ctx, map[string]any{"category": "animals", "id": "1:*"})
	fmt.Println(errors.Is(err, guard.ErrInvalidReference))
	// Output:
	// animals 42 true
	// plants 7 false
	// true
}

// The owner of an article may edit it: a rule that needs your data belongs
// in the fallback, which is asked only when no rule matched.
func ExampleOptions_fallback() {
	owners := map[string]string{"articles:blog:1": "bob"}
	bob, _ := warden.NewActor("bob")
	auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return bob, nil }),
		&guard.Options{Fallback: func(_ context.Context, a *warden.Actor, scope, index string) bool {
			return scope == "articles:update" && owners[index] == a.ID()
		}})
	ctx, _ := auth.Authorize(context.Background(), "bob")
	update, _ := auth.Guard("articles:update", "articles:blog:{value}") // a bare argument is {value}
	for _, id := range []string{"1", "2"} {
		d, _ := update.Check(ctx, id)
		fmt.Println(id, d.Allowed, d.Reason)
	}
	// Output:
	// 1 true no rule matched; the fallback allowed
	// 2 false no rule matched; the fallback denied
}

// Every guarded call is an audit event. Memory keeps them for tests; any
// audit.Sink can store them elsewhere.
func ExampleOptions_audit() {
	log := &audit.Memory{}
	carol, _ := warden.NewActor("carol", warden.Allow("invoice:read", "invoices:carol:*"))
	auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return carol, nil }),
		&guard.Options{Audit: log})
	ctx, _ := auth.Authorize(context.Background(), "carol")
	read, _ := auth.Guard("invoice:read", "invoices:{owner}:{id}")
	read.Check(ctx, map[string]any{"owner": "carol", "id": 7})
	read.Check(ctx, map[string]any{"owner": "dave", "id": 8})

	for _, e := range log.Events() {
		fmt.Println(e.Subject, e.Action, e.Resource, e.Status)
	}
	// Output:
	// carol invoice:read invoices:carol:7 allowed
	// carol invoice:read invoices:dave:8 denied
}

// Actors made per request from the role names you store: NewRolesAuth
// asks for the names and makes the actor inside the context that carries
// it, so a fresh actor costs no allocation of its own.
func ExampleNewRolesAuth() {
	viewer, _ := warden.NewRole("viewer", warden.Allow("user:read"))
	roles, _ := warden.NewRoles(viewer)
	stored := map[string][]string{"ben": {"viewer"}} // your database
	auth := guard.NewRolesAuth(roles, func(_ context.Context, id string) ([]string, bool, error) {
		r, ok := stored[id]
		return r, ok, nil
	}, nil)
	read, _ := auth.Guard("user:read", "")
	ctx, _ := auth.Authorize(context.Background(), "ben")
	d, err := read.Check(ctx)
	fmt.Println(guard.ActorFrom(ctx).Roles(), d.Allowed, err)
	_, err = auth.Authorize(context.Background(), "nobody")
	fmt.Println(errors.Is(err, warden.ErrUnauthorized))
	// Output:
	// [viewer] true <nil>
	// true
}
