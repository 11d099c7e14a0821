package warden_test

import (
	"fmt"

	"github.com/warden-authz/warden"
)

// Scopes and indexes with patterns, and a deny for one article, as in
// toffi's README.
func ExampleAllow() {
	writer, _ := warden.NewActor("writer",
		warden.Allow("articles:update", "articles:animals:*"),
		warden.Deny("articles:update", "articles:animals:article_id"),
	)
	for _, index := range []string{"articles:animals:1", "articles:animals:article_id", "articles:plants:1"} {
		d, _ := writer.Decide("articles:update", index)
		fmt.Printf("%-28s %v  %s\n", index, d.Allowed, d.Reason)
	}
	// Output:
	// articles:animals:1           true  [actor.writer] "writer" is allowed to do "articles:update" on "articles:animals:*"
	// articles:animals:article_id  false  [actor.writer] "writer" is not allowed to do "articles:update" on "articles:animals:article_id"
	// articles:plants:1            false  no rule matched; the default mismatch decision is "deny"
}

// Roles live in one set, compiled once; an actor holds roles by name, so
// one can be made per request from the role names you store, compiling
// nothing. Roles may inherit.
func ExampleRoles() {
	viewer, _ := warden.NewRole("viewer", warden.Allow("user:read"))
	manager, _ := warden.NewRole("user_manager", warden.Allow("user:*"))
	manager, _ = manager.Inherit("viewer")
	roles, _ := warden.NewRoles(viewer, manager)

	stored := map[string][]string{"ann": {"user_manager"}, "ben": {"viewer"}} // your database
	actor := func(id string) *warden.Actor {
		a, _ := roles.Actor(id, stored[id]...)
		return a
	}
	for _, id := range []string{"ann", "ben"} {
		a := actor(id)
		fmt.Println(a.ID(), a.IsAllowed("user:create", ""), a.IsAllowed("user:read", ""), a.HasRole("viewer"))
	}

	// A committed edit shows on the next check of every actor.
	viewer, _ = viewer.Add(warden.Allow("user:create"))
	roles.Edit().Put(viewer).Commit()
	ben := actor("ben")
	fmt.Println("ben", ben.IsAllowed("user:create", ""))
	// Output:
	// ann true true true
	// ben false true true
	// ben true
}
