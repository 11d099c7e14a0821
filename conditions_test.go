package warden_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/guard"
)

// TestCodeConditionsCompileAtConstruction: a condition that does not
// compile is refused where the rule is given (SPEC 12.3).
func TestCodeConditionsCompileAtConstruction(t *testing.T) {
	t.Parallel()
	bad := []warden.Rule{
		warden.Allow("read").When("context.mfa &&"),
		warden.Allow("read").When("subject + 1"),
		warden.Allow("read").When("resource.size()"),
		warden.Allow("read").When(`ip("10.0.0.999").in_cidr("10.0.0.0/8")`),
	}
	for _, r := range bad {
		if _, err := warden.NewRole("editor", r); err == nil {
			t.Errorf("NewRole accepted %q", r.Condition)
		}
		if _, err := warden.NewActor("alice", r); err == nil {
			t.Errorf("NewActor accepted %q", r.Condition)
		}
		role, _ := warden.NewRole("editor")
		if _, err := role.Add(r); err == nil {
			t.Errorf("Role.Add accepted %q", r.Condition)
		}
	}
	base := warden.Allow("read", "docs:*")
	if c := base.When("true"); c.Condition != "true" || base.Condition != "" {
		t.Errorf("When changed its receiver or lost the condition: %+v, %+v", base, c)
	}
}

// TestCodeConditions decides conditioned code-built rules: context typed
// by its Go values, missing keys fail closed.
func TestCodeConditions(t *testing.T) {
	t.Parallel()
	staff, err := warden.NewRole("staff",
		warden.Allow("payroll:read", "payroll:*").When(`context.mfa && context.ip.in_cidr("10.0.0.0/8")`),
		warden.Deny("payroll:read", "payroll:secret").When(`context.clearance < 3`),
	)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := warden.NewRoles(staff)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := roles.Actor("alice", "staff")
	if err != nil {
		t.Fatal(err)
	}
	office := netip.MustParseAddr("10.1.2.3")
	for _, tc := range []struct {
		name    string
		index   string
		attrs   map[string]any
		allowed bool
		missing []string
		err     bool
	}{
		{"held", "payroll:2026", map[string]any{"mfa": true, "ip": office}, true, nil, false},
		{"ip as a string", "payroll:2026", map[string]any{"mfa": true, "ip": "10.1.2.3"}, false, nil, false},
		{"no mfa", "payroll:2026", map[string]any{"ip": office}, false, []string{"mfa"}, false},
		{"deny without clearance applies", "payroll:secret", map[string]any{"mfa": true, "ip": office}, false, []string{"clearance"}, false},
		{"deny with clearance does not", "payroll:secret", map[string]any{"mfa": true, "ip": office, "clearance": 5}, true, nil, false},
		{"a value no condition can read fails closed", "payroll:2026", map[string]any{"mfa": struct{}{}, "ip": office}, false, nil, false},
	} {
		d, err := alice.DecideWith("payroll:read", tc.index, tc.attrs, time.Time{})
		if (err != nil) != tc.err || d.Allowed != tc.allowed || !slices.Equal(d.MissingContext, tc.missing) {
			t.Errorf("%s: %+v, %v; want allowed %v, missing %q, error %v", tc.name, d, err, tc.allowed, tc.missing, tc.err)
		}
	}
	if alice.IsAllowed("payroll:read", "payroll:2026") {
		t.Error("allowed with no context at all")
	}
}

// TestGuardAttributes: a guard passes the call's attributes, from the
// context and from its values, and the clock's time, to conditions.
func TestGuardAttributes(t *testing.T) {
	t.Parallel()
	type article struct {
		Category string `json:"category"`
		ID       string `json:"id"`
		Owner    string `json:"owner"`
	}
	author, err := warden.NewRole("author",
		warden.Allow("articles:update", "articles:*").When(`context.owner == subject && context.mfa && now.getHours() >= 9 && now.getHours() < 17`))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := warden.NewRoles(author)
	clock := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	auth := guard.NewAuth(guard.ActorProviderFunc(func(ctx context.Context, id string) (*warden.Actor, error) {
		return roles.Actor(id, "author")
	}), &guard.Options{
		Clock: func() time.Time { return clock },
		Attributes: func(ctx context.Context, actor *warden.Actor, values []any) (map[string]any, error) {
			for _, v := range values {
				if a, ok := v.(article); ok {
					return map[string]any{"owner": a.Owner}, nil
				}
			}
			return nil, errors.New("no article in the call")
		},
	})
	update, err := auth.Guard("articles:update", "articles:{category}:{id}")
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := auth.Authorize(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	mfa := guard.WithAttributes(ctx, map[string]any{"mfa": true})
	own := article{Category: "animals", ID: "42", Owner: "alice"}
	other := article{Category: "animals", ID: "43", Owner: "bob"}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		value   any
		allowed bool
		err     string
	}{
		{"own article with MFA in office hours", mfa, own, true, ""},
		{"someone else's article", mfa, other, false, "access denied"},
		{"no MFA", ctx, own, false, "access denied"},
		{"the attribute source fails", mfa, map[string]any{"category": "a", "id": "1"}, false, "no article in the call"},
	} {
		d, err := update.Check(tc.ctx, tc.value)
		if d.Allowed != tc.allowed || tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %+v, %v; want allowed %v, error %q", tc.name, d, err, tc.allowed, tc.err)
		}
	}
	clock = time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC)
	if d, err := update.Check(mfa, own); err == nil || d.Allowed {
		t.Errorf("allowed after office hours: %+v", d)
	}
}

// TestPolicyContextChecked: a policy file with [context] refuses a
// context that breaks it (SPEC 12.4); one without carries any context.
func TestPolicyContextChecked(t *testing.T) {
	t.Parallel()
	with, err := warden.Parse("with.toml", []byte("[context]\nmfa = 'bool'\n\n[rules.r]\nwhen = 'context.mfa'\nallow = [['alice', 'doc', 'read']]\n"))
	if err != nil {
		t.Fatal(err)
	}
	without, err := warden.Parse("without.toml", []byte("[rules.r]\nwhen = 'subject == \"alice\"'\nallow = [['alice', 'doc', 'read']]\n"))
	if err != nil {
		t.Fatal(err)
	}
	req := warden.Request{Subject: "alice", Resource: "doc", Action: "read", Context: map[string]any{"mfa": "yes", "trace": []int{1}}}
	if d, err := with.Decide(req); !errors.Is(err, warden.ErrInvalidRequest) || d.Allowed {
		t.Errorf("with [context]: %+v, %v; want invalid", d, err)
	}
	if d, err := without.Decide(req); err != nil || !d.Allowed {
		t.Errorf("without [context]: %+v, %v; want allowed", d, err)
	}
	req.Context = map[string]any{"mfa": true}
	if d, err := with.Decide(req); err != nil || !d.Allowed || !strings.HasSuffix(d.Reason, "when context.mfa") {
		t.Errorf("with [context], mfa: %+v, %v", d, err)
	}
}

// Conditions on code-built rules: an ownership rule and a rule that needs
// MFA, each decided with the request's attributes.
func ExampleRule_When() {
	author, err := warden.NewRole("author",
		warden.Allow("articles:update", "articles:*").When(`resource.split(':')[2] == subject`),
		warden.Allow("articles:publish", "articles:*").When(`context.mfa`),
	)
	if err != nil {
		panic(err)
	}
	roles, _ := warden.NewRoles(author)
	alice, _ := roles.Actor("alice", "author")

	fmt.Println(alice.IsAllowed("articles:update", "articles:animals:alice"))
	fmt.Println(alice.IsAllowed("articles:update", "articles:animals:bob"))
	d, _ := alice.DecideWith("articles:publish", "articles:animals:alice", map[string]any{"mfa": true}, time.Time{})
	fmt.Println(d.Allowed, d.Reason)
	d, _ = alice.DecideWith("articles:publish", "articles:animals:alice", nil, time.Time{})
	fmt.Println(d.Allowed, d.MissingContext)
	// Output:
	// true
	// false
	// true [role.author] "author" is allowed to do "articles:publish" on "articles:*" when context.mfa
	// false [mfa]
}
