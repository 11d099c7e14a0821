package warden_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/store"
)

// TestExamplesLoad: every bundled policy loads cleanly. Files named
// *_test.toml are policy tests (warden test), not policies.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	all, err := filepath.Glob("examples/*/*.toml")
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.toml") {
			files = append(files, f)
		}
	}
	if err != nil || len(files) < 5 {
		t.Fatalf("found %d example policies (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			if _, err := warden.Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPublishingExample pins the decisions examples/publishing/README.md
// walks through.
func TestPublishingExample(t *testing.T) {
	t.Parallel()
	p, err := warden.Load("examples/publishing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subject, resource, action string
		allowed                   bool
		rule                      string
		item                      int
	}{
		{"alice", "articles:animals:42", "articles:update", true, "rules.desks", 1},
		{"bob", "articles:animals:42", "articles:update", false, "", 0}, // other desk
		{"bob", "articles:plants:3", "articles:update", true, "rules.desks", 2},
		{"bob", "articles:plants:3", "article:meta:setKeywords", true, "rules.desks", 5},
		{"bob", "articles:plants:3", "article:meta:setSlug", false, "", 0}, // writers set keywords and titles only
		{"carol", "articles:plants:3", "article:meta:setSlug", true, "rules.editing", 2},
		{"carol", "articles:plants:3", "articles:publish", true, "rules.editing", 3},
		{"erin", "articles:plants:3", "articles:update", true, "rules.desks", 2},
		{"erin", "articles:plants:3", "articles:publish", false, "rules.editing", 1}, // interns never publish
		{"zoe", "articles:animals:1", "articles:read", true, "rules.public", 1},
		{"zoe", "articles:animals:1001", "articles:read", false, "rules.embargo", 1},
		{"grace", "articles:animals:1001", "articles:read", false, "rules.embargo", 1}, // binds admins too
		{"grace", "articles:animals:5", "articles:delete", true, "rules.admin", 1},
		{"heidi", "", "site:settings:update", true, "rules.admin", 1},
		{"zoe", "", "site:settings:update", false, "", 0},
		{"alice", "articles", "articles:read", false, "", 0}, // articles:* needs a segment after
	}
	for _, tt := range tests {
		d, err := p.Decide(warden.Request{Subject: tt.subject, Resource: tt.resource, Action: tt.action})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tt.allowed || d.Rule != tt.rule || d.Item != tt.item {
			t.Errorf("%s %s %s = %v by %s[%d] (%s); want %v by %s[%d]",
				tt.subject, tt.action, tt.resource, d.Allowed, d.Rule, d.Item, d.Reason, tt.allowed, tt.rule, tt.item)
		}
	}
	if _, err := p.Decide(warden.Request{Subject: "alice", Resource: "articles:*", Action: "articles:update"}); !errors.Is(err, warden.ErrInvalidRequest) {
		t.Errorf("a pattern in a request: err = %v, want ErrInvalidRequest", err)
	}
}

// TestDocSharingExample runs examples/docsharing/README.md's session
// through warden.Engine: the writes it makes, and the decisions it shows.
func TestDocSharingExample(t *testing.T) {
	t.Parallel()
	p, err := warden.Load("examples/docsharing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng, err := warden.NewEngine(ctx, p, store.NewMemory(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	member := func(m, g string) store.Write {
		return store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: m, Group: g}}
	}
	in := func(r, g string) store.Write {
		return store.Write{Op: store.OpAdd, Membership: &store.Membership{Resource: r, Group: g}}
	}
	grant := func(s, r, a string) store.Write {
		return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: warden.EffectAllow, Subject: s, Resource: r, Action: a}}
	}
	rev, err := eng.Write(ctx, store.Batch{Writes: []store.Write{
		member("alice", "team:design"), member("bob", "team:sales"),
		member("team:design", "staff"), member("team:sales", "staff"),
		in("doc:42", "folder:specs"), in("doc:43", "folder:archive"),
		grant("team:design", "folder:specs", "write"),
		grant("team:design", "folder:archive", "write"),
		grant("bob", "doc:42", "read"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		subject, resource, action string
		allowed                   bool
		rule                      string
	}{
		{"alice", "doc:42", "doc:edit", true, "rules.shares"},          // her team's folder
		{"bob", "doc:42", "doc:edit", false, ""},                       // bob may only read it
		{"bob", "doc:42", "doc:comment", true, "rules.shares"},         // read covers comment
		{"bob", "doc:handbook:intro", "doc:read", true, "rules.staff"}, // staff reads the handbook
		{"alice", "doc:43", "doc:edit", false, "rules.archive"},        // the archive is frozen
		{"root", "doc:43", "doc:delete", false, "rules.archive"},       // even for an admin
		{"mallory", "doc:handbook:intro", "doc:read", false, ""},
	} {
		d, err := eng.Decide(ctx, warden.Request{Subject: c.subject, Resource: c.resource, Action: c.action, AtLeastRevision: rev})
		if err != nil || d.Allowed != c.allowed || d.Rule != c.rule {
			t.Errorf("%s %s %s: %+v, %v; want allowed %v by %q", c.subject, c.action, c.resource, d, err, c.allowed, c.rule)
		}
	}
	// Alice leaves the design team: at once, she can no longer edit.
	rev, err = eng.Write(ctx, store.Batch{Writes: []store.Write{{Op: store.OpRemove, Membership: &store.Membership{Member: "alice", Group: "team:design"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := eng.Decide(ctx, warden.Request{Subject: "alice", Resource: "doc:42", Action: "doc:edit", AtLeastRevision: rev}); d.Allowed {
		t.Errorf("alice still edits after leaving the team: %+v", d)
	}
}
