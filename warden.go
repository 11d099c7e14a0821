// Package warden is an authorization engine: it decides whether a subject
// may perform an action on a resource, and says why.
//
// Policies come from a TOML file or are built in code; both compile into
// the same immutable, indexed engine, which any number of goroutines query
// without locks.
//
// # From a policy file
//
//	policy, err := warden.Load("policy.toml")
//	if err != nil {
//		log.Fatal(err) // every problem in the file, each with file:line:col
//	}
//	d, err := policy.Decide(warden.Request{
//		Subject:  "alice",
//		Resource: "articles:animals:42",
//		Action:   "articles:update",
//	})
//	if err != nil {
//		// the request itself was malformed (a '*' in a name, say): not a deny
//	}
//	if d.Allowed {
//		// ...
//	}
//	fmt.Println(d.Reason) // [rules.desks] "desk_animals" is allowed to do "write" on "animals"
//
// # In code, and guarding functions
//
// Roles carry rules and live in one Roles set, compiled once; actors (who
// is asking) hold roles by name and may carry rules of their own. Allow and
// Deny build rules from a scope (the action) and an index (the resource),
// both patterns. Roles, sets and actors are immutable values: an edit
// returns a new one, and Roles.Edit commits a new set atomically.
//
//	editor, _ := warden.NewRole("editor", warden.Allow("articles:update", "articles:*"))
//	roles, _ := warden.NewRoles(editor)
//	alice, _ := roles.Actor("alice", "editor") // from the role names you store
//	alice.IsAllowed("articles:update", "articles:animals:42") // true
//
// Package guard protects functions and HTTP handlers with these actors: an
// Auth puts the actor asking in the context, and a Guard checks each call,
// filling an index template such as "articles:{category}:{id}" from the
// call's values (github.com/warden-authz/warden/guard).
//
// # Conditions
//
// A rule may also hold a condition on the request's attributes, a CEL
// expression compiled when the policy loads or the rule is given: `when`
// in a policy file's rule block, Rule.When in code. Conditions read the
// request's names, its principals, its Context and the time (Request.Now,
// or the clock's):
//
//	warden.Allow("payroll:read", "payroll:*").When(`context.mfa && context.ip.in_cidr("10.0.0.0/8")`)
//
// A condition that cannot be evaluated (a missing attribute, an error,
// the cost limit) fails closed: an allow does not match and a deny does,
// and the decision lists what was missing (MissingContext,
// ConditionErrors). Guards pass attributes from the context
// (guard.WithAttributes) and from each call's values
// (guard.Options.Attributes).
// docs/conditions.md has the details.
//
// # Names and patterns
//
// Subjects, resources and actions are names: segments joined by ':', such
// as "articles:animals:42". Rules name them by pattern: a literal segment, a
// glob such as "set*" within one segment, alternatives such as "read,write",
// '*' in the middle for exactly one segment, '*' at the end for one or more
// segments, or '*' alone for everything. A request name is always literal;
// one with '*' or ',' in it is an error, not a deny.
//
// # Decisions
//
// A rule matches when its subject pattern matches the subject or any group
// or role the subject belongs to (transitively, cycles allowed), its
// resource pattern matches the resource or a resource group it belongs to,
// and its action pattern matches the action or an action group. The
// strategy combines the matching rules: deny-overrides (the default),
// allow-overrides, first-match or most-specific (toffi's behaviour). When
// nothing matches, the mismatch decision applies, and it defaults to deny.
//
// The zero Policy, a nil *Policy or *Actor, and every error path deny.
//
// The file format is described in docs/policy-file.md and the choices the
// specification leaves open in docs/semantics.md.
package warden

import (
	"errors"
	"fmt"
	"os"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/types"
)

// Errors a decision can come with. Both come with a denying decision.
var (
	// ErrInvalidRequest: a request name breaks the name rules (empty
	// subject or action, '*' or ',' in a name, over 1024 bytes or 64
	// segments, spaces or control characters).
	ErrInvalidRequest = engine.ErrInvalidRequest
	// ErrNoPolicy: the Policy is the zero value or nil.
	ErrNoPolicy = engine.ErrNoPolicy
	// ErrUnauthorized: there is no actor to decide for (SPEC 7.3).
	ErrUnauthorized = errors.New("warden: unauthorized: no actor")
)

// warden's vocabulary is defined once, in package types, and named here.
type (
	// Request asks whether Subject may perform Action on Resource. An
	// empty Resource means "no particular resource". Groups are
	// memberships the caller supplies for this request (SPEC 7.1).
	Request = types.Request
	// Decision is the answer to a Request. The zero Decision denies.
	Decision = types.Decision
	// Effect is what a rule does, or what decided a request.
	Effect = types.Effect
	// Strategy chooses how the rules that match a request combine
	// (SPEC 5.2). The zero Strategy is DenyOverrides.
	Strategy = types.Strategy
	// Match is one rule item that matched a request.
	Match = types.Match
	// Explanation is a decision with every rule item that matched.
	Explanation = types.Explanation
	// Diagnostic is one problem in a policy, at one place.
	Diagnostic = types.Diagnostic
	// Grant is one subject that Who finds allowed.
	Grant = types.Grant
	// Permission is one region of requests that Can finds decided.
	Permission = types.Permission
	// ConditionError is a condition that could not be evaluated for a
	// request (SPEC 12.5).
	ConditionError = types.ConditionError
	// Rule allows or denies an action (toffi's scope) on resources
	// (toffi's index), both patterns, and may hold a condition
	// (Rule.When). Build rules with Allow and Deny.
	Rule = types.Rule
)

const (
	// EffectNone: no rule matched, and the mismatch decision applied.
	EffectNone  = types.EffectNone
	EffectAllow = types.EffectAllow
	EffectDeny  = types.EffectDeny

	DenyOverrides  = types.DenyOverrides
	AllowOverrides = types.AllowOverrides
	FirstMatch     = types.FirstMatch
	// MostSpecific is toffi's own behaviour: the most specific scope,
	// then index, then subject decides.
	MostSpecific = types.MostSpecific
)

// Policy is a compiled policy file. It is immutable and safe for
// concurrent use; to change policy, load a new one and swap the pointer
// (for example with atomic.Pointer). The zero Policy and a nil *Policy
// deny every request with ErrNoPolicy.
type Policy struct {
	c   *engine.Policy
	src *engine.Source // what c was compiled from, for Who and Can
}

// Load reads and compiles a policy file. A file with any problem loads
// nothing; the error is a *PolicyError listing every problem.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	return Parse(path, data)
}

// Parse compiles a policy from TOML text; filename is used only in error
// positions.
func Parse(filename string, data []byte) (*Policy, error) {
	src, errs := config.Parse(filename, data)
	// Compile even a file with errors so one run reports them all; the
	// result is discarded unless both stages are clean.
	c, cerrs := engine.Compile(src)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		errs.Sort()
		return nil, &PolicyError{Diagnostics: errs}
	}
	return &Policy{c: c, src: src}, nil
}

func (p *Policy) engine() *engine.Policy {
	if p == nil {
		return nil
	}
	return p.c
}

// Version is a content hash of everything in the policy that affects
// decisions. Two processes that load the same policy report the same
// version; comments and layout do not change it.
func (p *Policy) Version() string { return p.engine().Version() }

// Strategy is the policy's rule strategy.
func (p *Policy) Strategy() Strategy {
	if c := p.engine(); c != nil {
		return c.Strategy()
	}
	return DenyOverrides
}

// Decide answers a request. A malformed request gets ErrInvalidRequest and
// a denying decision. Decide does not allocate, unless the subject's
// groups, with those the request supplies, or a resource or action's
// groups through pattern members, number more than 16, or more than 8
// patterns of one index level match one name; then it allocates scratch
// space for that request.
func (p *Policy) Decide(r Request) (Decision, error) {
	q := engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action, Groups: r.Groups, Context: r.Context, Now: r.Now}
	return p.engine().Decide(&q)
}

// Explain answers a request like Decide, fills the decision's membership
// chains, and lists every rule item that matched.
func (p *Policy) Explain(r Request) (Explanation, error) {
	q := engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action, Groups: r.Groups, Context: r.Context, Now: r.Now}
	return p.engine().Explain(&q)
}

// PolicyError lists every problem found in a policy, ordered by position.
// A nil or empty PolicyError still says the policy is invalid.
type PolicyError struct {
	Diagnostics []Diagnostic
}

func (e *PolicyError) Error() string {
	if e == nil {
		return "warden: invalid policy"
	}
	switch len(e.Diagnostics) {
	case 0:
		return "warden: invalid policy"
	case 1:
		return "warden: " + e.Diagnostics[0].String()
	}
	msg := fmt.Sprintf("warden: %d problems in policy:", len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		msg += "\n" + d.String()
	}
	return msg
}
