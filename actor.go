package warden

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Allow is a rule that allows scope on the given indexes, or on everything
// ("*", which also covers "no particular resource") when none is given:
//
//	warden.Allow("articles:update", "articles:animals:*")
//	warden.Allow("article:meta:set*")
func Allow(scope string, index ...string) Rule { return newRule(EffectAllow, scope, index) }

// Deny is a rule that denies scope on the given indexes, or on everything
// when none is given.
func Deny(scope string, index ...string) Rule { return newRule(EffectDeny, scope, index) }

func newRule(e Effect, scope string, index []string) Rule {
	if len(index) == 0 {
		index = []string{"*"}
	}
	return Rule{Effect: e, Action: scope, Resources: index}
}

// Actor is who is asking: toffi's actor, warden's subject. An Actor is an
// immutable value, safe to share between goroutines: Add, Assign, Revoke
// and WithStrategy return a new Actor, and each check reads the roles of
// its Roles set as last committed, without locks.
//
// An actor's own rules compile once, when the actor is made; the roles it
// holds are request data, so an actor made per request from stored role
// names (Roles.Actor) compiles nothing. An actor of a policy file
// (Policy.Actor) decides with the file's rules. The zero Actor and a nil
// *Actor deny every check with ErrUnauthorized.
type Actor struct {
	id       string
	own      *ownRules // the actor's own rules, compiled; nil for none
	set      *Roles    // the roles' rules, read at each check; nil for none
	file     *Policy   // the policy file the actor belongs to; nil for none
	live     *Engine   // the engine the actor belongs to; nil for none
	strategy Strategy  // how own and role rules combine (code actors)
	// The held roles, caller-supplied memberships: inline[:ninline], or
	// extra when there are more than inline holds. No field points into
	// the Actor itself, so an Actor copied by value is whole: the guard
	// package keeps one inside the context that carries it.
	ninline int
	extra   []string
	inline  [inlineRoles]string
}

// inlineRoles role names live inside the Actor, so an actor made per
// request from a few stored roles takes one allocation, or none beside
// what holds it.
const inlineRoles = 4

// held returns the names of the roles the actor holds directly. The slice
// is the actor's: callers do not change it.
func (a *Actor) held() []string {
	if a.extra != nil {
		return a.extra[:len(a.extra):len(a.extra)]
	}
	return a.inline[:a.ninline:a.ninline]
}

// ownRules are an actor's own rules and their compiled form.
type ownRules struct {
	rules  []Rule
	policy *engine.Policy
}

// NewActor makes an actor with an id, which must be a valid name
// (SPEC 1.1), and rules of its own. It holds no roles; Roles.Actor makes
// one that does.
func NewActor(id string, rules ...Rule) (*Actor, error) {
	if err := pattern.CheckName(id); err != nil {
		return nil, fmt.Errorf("warden: actor id: %w", err)
	}
	a := &Actor{id: id}
	if len(rules) > 0 {
		own, err := compileOwn(id, rules)
		if err != nil {
			return nil, err
		}
		a.own = own
	}
	return a, nil
}

// Actor returns an actor that holds the named roles of the set, and no
// rules of its own: the per-request path of package guard. It compiles
// nothing and allocates once when the actor holds at most four roles. A
// name the set does not hold grants nothing (the set may gain it later);
// a name that is not a valid name is an error.
func (rs *Roles) Actor(id string, roles ...string) (*Actor, error) {
	// Outlined, as crypto/ed25519 does: this wrapper is small enough to
	// inline, so a caller that copies the actor into a structure of its
	// own (the guard package's context) gets it on its stack, not the
	// heap. The allocation tests of package guard pin it.
	return new(Actor).initRoles(rs, id, roles)
}

// initRoles makes a the actor id holding roles of rs, and returns it, or
// nil and the error.
func (a *Actor) initRoles(rs *Roles, id string, roles []string) (*Actor, error) {
	if err := pattern.CheckName(id); err != nil {
		return nil, fmt.Errorf("warden: actor id: %w", err)
	}
	a.id, a.set = id, rs
	if err := a.setRoles(roles); err != nil {
		return nil, err
	}
	return a, nil
}

// Actor returns an actor whose rules come from the policy: checks decide
// requests with id as the subject. groups are memberships the caller
// supplies beside those the file declares (SPEC 7.1), such as the groups
// an identity provider asserts. Its rules cannot be changed in code.
func (p *Policy) Actor(id string, groups ...string) (*Actor, error) {
	if p == nil || p.c == nil {
		return nil, ErrNoPolicy
	}
	a, err := newBoundActor(id, groups)
	if err != nil {
		return nil, err
	}
	a.file = p
	return a, nil
}

// newBoundActor makes an actor whose rules live elsewhere (a policy file,
// an engine).
func newBoundActor(id string, groups []string) (*Actor, error) {
	if err := pattern.CheckName(id); err != nil {
		return nil, fmt.Errorf("warden: actor id: %w", err)
	}
	a := &Actor{id: id}
	if err := a.setRoles(groups); err != nil {
		return nil, err
	}
	return a, nil
}

// setRoles validates and stores role names, without duplicates, keeping
// the caller's slice out of the actor.
func (a *Actor) setRoles(roles []string) error {
	if len(roles) > engine.MaxGroups {
		return fmt.Errorf("warden: actor %q: %d roles, over the limit of %d", a.id, len(roles), engine.MaxGroups)
	}
	a.ninline, a.extra = 0, nil
	clear(a.inline[:])
	if len(roles) > inlineRoles {
		a.extra = make([]string, 0, len(roles))
	}
	for _, r := range roles {
		if err := pattern.CheckName(r); err != nil {
			return fmt.Errorf("warden: actor %q: role: %w", a.id, err)
		}
		switch {
		case slices.Contains(a.held(), r):
		case a.extra != nil:
			a.extra = append(a.extra, r)
		default:
			a.inline[a.ninline] = r
			a.ninline++
		}
	}
	return nil
}

// clone copies the actor for an edit.
func (a *Actor) clone() *Actor {
	c := *a
	return &c
}

func compileOwn(id string, rules []Rule) (*ownRules, error) {
	if err := engine.CheckCodeRules(rules); err != nil {
		return nil, err
	}
	p, err := engine.CompileActorRules(id, rules)
	if err != nil {
		return nil, err
	}
	return &ownRules{rules: slices.Clone(rules), policy: p}, nil
}

// ID returns the actor's id, or "" for a nil Actor.
func (a *Actor) ID() string {
	if a == nil {
		return ""
	}
	return a.id
}

// Roles returns the names of the roles the actor holds directly (for an
// actor of a policy file, the groups supplied with it), or nil when it
// holds none.
func (a *Actor) Roles() []string {
	if a == nil || len(a.held()) == 0 {
		return nil
	}
	return slices.Clone(a.held())
}

// Rules returns a copy of the actor's own rules.
func (a *Actor) Rules() []Rule {
	if a == nil || a.own == nil {
		return nil
	}
	return slices.Clone(a.own.rules)
}

// ErrReadOnly is returned when changing the rules of an actor whose rules
// come from a policy file: change the file instead.
var ErrReadOnly = errors.New("warden: actor's rules come from a policy file")

// Add returns an actor with the receiver's own rules and rules. A rule
// with a malformed pattern is refused, and then no actor is returned.
func (a *Actor) Add(rules ...Rule) (*Actor, error) {
	if err := a.editable(); err != nil {
		return nil, err
	}
	if err := engine.CheckCodeRules(rules); err != nil {
		return nil, err
	}
	c := a.clone()
	if len(rules) == 0 {
		return c, nil
	}
	all := rules
	if a.own != nil {
		all = append(slices.Clone(a.own.rules), rules...)
	}
	own, err := compileOwn(a.id, all)
	if err != nil {
		return nil, err
	}
	c.own = own
	return c, nil
}

// Assign returns an actor that also holds the named roles (for an actor of
// a policy file, the named groups).
func (a *Actor) Assign(roles ...string) (*Actor, error) {
	if a == nil {
		return nil, ErrUnauthorized
	}
	c := *a
	if err := c.setRoles(append(slices.Clone(a.held()), roles...)); err != nil {
		return nil, err
	}
	return &c, nil
}

// Revoke returns an actor that no longer holds the named roles.
func (a *Actor) Revoke(roles ...string) *Actor {
	if a == nil {
		return nil
	}
	c := *a
	c.setRoles(slices.DeleteFunc(slices.Clone(a.held()), func(r string) bool { return slices.Contains(roles, r) }))
	return &c
}

// WithStrategy returns an actor whose own and role rules combine by s.
// The default is DenyOverrides; MostSpecific is toffi's behaviour.
func (a *Actor) WithStrategy(s Strategy) (*Actor, error) {
	if err := a.editable(); err != nil {
		return nil, err
	}
	if !s.Valid() {
		return nil, fmt.Errorf("warden: unknown strategy %d", s)
	}
	c := a.clone()
	c.strategy = s
	return c, nil
}

func (a *Actor) editable() error {
	switch {
	case a == nil || a.id == "":
		return ErrUnauthorized
	case a.file != nil || a.live != nil:
		return ErrReadOnly
	}
	return nil
}

// IsAllowed reports whether the actor may perform scope on index. Any
// error, such as a malformed index, denies.
func (a *Actor) IsAllowed(scope, index string) bool {
	d, err := a.Decide(scope, index)
	return err == nil && d.Allowed
}

// Decide decides whether the actor may perform scope on index (use "" for
// no particular resource) and says why. Its own rules come first in
// document order, then the rules of the roles it holds, in the set's
// order. The decision carries the version of the Roles set it read (of
// the actor's own rules when it holds no set; of the file for an actor of
// a policy file). A nil or zero Actor denies with ErrUnauthorized.
func (a *Actor) Decide(scope, index string) (Decision, error) {
	return a.DecideWith(scope, index, nil, time.Time{})
}

// DecideWith decides like Decide, with the request's context attributes,
// which conditions read (SPEC 12), and the time they read as now (the
// zero time means the clock's). An actor of a policy file checks the
// attributes against its [context] table (SPEC 12.4).
func (a *Actor) DecideWith(scope, index string, attrs map[string]any, now time.Time) (Decision, error) {
	if a == nil || a.id == "" {
		return Decision{Reason: "no actor"}, ErrUnauthorized
	}
	q := engine.Query{Subject: a.id, Resource: index, Action: scope, Groups: a.held(), Context: attrs, Now: now}
	switch {
	case a.file != nil:
		return a.file.c.Decide(&q)
	case a.live != nil:
		p, err := a.live.state(context.Background(), 0)
		if err != nil {
			return Decision{Reason: "no policy loaded"}, err
		}
		return p.Decide(&q)
	}
	var own, roles *engine.Policy
	version := ""
	if s := a.set.load(); s != nil {
		roles = s.policy
		version = roles.Version()
	}
	if a.own != nil {
		own = a.own.policy
		if version == "" {
			version = own.Version()
		}
	}
	return engine.FindLayers(a.strategy, version, &q, own, roles)
}

// HasRole reports whether the actor holds the role, directly or through
// inheritance (for an actor of a policy file: a group or role it belongs
// to, in the file or supplied). The empty name is never held.
func (a *Actor) HasRole(name string) bool {
	if a == nil || name == "" {
		return false
	}
	held := a.held()
	if slices.Contains(held, name) {
		return true
	}
	if a.file != nil {
		return a.file.c.MemberOf(a.id, name, held)
	}
	if a.live != nil {
		p, err := a.live.state(context.Background(), 0)
		return err == nil && p.MemberOf(a.id, name, held)
	}
	if s := a.set.load(); s != nil {
		return s.policy.MemberOf(a.id, name, held)
	}
	return false
}
