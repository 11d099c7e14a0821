package warden

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Rule allows or denies an action (toffi's scope) on resources (toffi's
// index), both given as patterns. Build rules with Allow and Deny.
type Rule struct {
	Effect Effect
	Action string
	// Resources are the resource patterns the rule covers; a request
	// matches the rule when its resource matches any of them.
	Resources []string
}

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

// check reports a rule whose patterns do not parse, so a bad rule is
// refused when it is added, not discovered at check time.
func (r Rule) check() error {
	if r.Effect != EffectAllow && r.Effect != EffectDeny {
		return fmt.Errorf("warden: rule for %q: effect must be allow or deny", r.Action)
	}
	if _, err := pattern.Parse(r.Action); err != nil {
		return fmt.Errorf("warden: rule scope: %w", err)
	}
	if len(r.Resources) == 0 {
		return fmt.Errorf("warden: rule for %q names no index", r.Action)
	}
	for _, res := range r.Resources {
		if _, err := pattern.Parse(res); err != nil {
			return fmt.Errorf("warden: rule for %q: index: %w", r.Action, err)
		}
	}
	return nil
}

func checkRules(rules []Rule) error {
	var errs []error
	for _, r := range rules {
		if err := r.check(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Strategy chooses how the rules that match a request combine (SPEC 5.2).
// The zero Strategy is DenyOverrides.
type Strategy uint8

const (
	DenyOverrides  = Strategy(engine.DenyOverrides)
	AllowOverrides = Strategy(engine.AllowOverrides)
	FirstMatch     = Strategy(engine.FirstMatch)
	// MostSpecific is toffi's own behaviour: the most specific scope,
	// then index, then subject decides.
	MostSpecific = Strategy(engine.MostSpecific)
)

func (s Strategy) String() string { return engine.Strategy(s).String() }

// Role is a named set of rules that actors hold and other roles may
// inherit. A Role is safe for concurrent use: changing it takes effect on
// the next check of every actor that holds it, directly or by inheritance.
type Role struct {
	name    string
	version atomic.Uint64 // bumped by every change

	mu       sync.Mutex
	rules    []Rule
	inherits []*Role
}

// NewRole makes a role. Its name must be a valid name (SPEC 1.1).
func NewRole(name string, rules ...Rule) (*Role, error) {
	if err := pattern.CheckName(name); err != nil {
		return nil, fmt.Errorf("warden: role name: %w", err)
	}
	r := &Role{name: name}
	if err := r.Add(rules...); err != nil {
		return nil, err
	}
	return r, nil
}

// Name returns the role's name.
func (r *Role) Name() string { return r.name }

// Add gives the role more rules. A rule with a malformed pattern is
// refused, and then none of the rules is added.
func (r *Role) Add(rules ...Rule) error {
	if err := checkRules(rules); err != nil {
		return err
	}
	r.mu.Lock()
	r.rules = append(r.rules, rules...)
	r.version.Add(1)
	r.mu.Unlock()
	return nil
}

// Inherit makes the role carry every rule of the given roles as well.
// Cycles are allowed: roles in a cycle carry each other's rules.
func (r *Role) Inherit(roles ...*Role) {
	r.mu.Lock()
	for _, p := range roles {
		if p != nil && !containsRole(r.inherits, p) {
			r.inherits = append(r.inherits, p)
		}
	}
	r.version.Add(1)
	r.mu.Unlock()
}

// snapshot copies what compiling needs, so the lock is not held while
// compiling.
func (r *Role) snapshot() (rules []Rule, inherits []*Role, version uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Rule(nil), r.rules...), append([]*Role(nil), r.inherits...), r.version.Load()
}

func containsRole(list []*Role, r *Role) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}

// Actor is who is asking: toffi's actor, warden's subject. It carries
// rules and roles built in code, or stands for a subject of a loaded policy
// file (see Policy.Actor).
//
// An Actor is safe for concurrent use. Checks take no locks: the actor's
// rules are compiled on first use into the same engine the policy file
// uses, and recompiled only when the actor or one of its roles has
// changed since, on the next check.
type Actor struct {
	id string

	// bound is set for an actor whose rules come from a policy file.
	bound *Policy

	version  atomic.Uint64
	compiled atomic.Pointer[actorPolicy]

	mu       sync.Mutex // serialises changes and recompiles
	rules    []Rule
	roles    []*Role
	strategy Strategy
}

// actorPolicy is an actor's compiled rules and the versions they were
// compiled from.
type actorPolicy struct {
	policy  *engine.Policy
	version uint64
	roles   []roleVersion
	names   map[string]bool // every role held, inherited ones included
	err     error
}

type roleVersion struct {
	role    *Role
	version uint64
}

// NewActor makes an actor with an id, which must be a valid name
// (SPEC 1.1), and rules of its own.
func NewActor(id string, rules ...Rule) (*Actor, error) {
	if err := pattern.CheckName(id); err != nil {
		return nil, fmt.Errorf("warden: actor id: %w", err)
	}
	a := &Actor{id: id}
	if err := a.Add(rules...); err != nil {
		return nil, err
	}
	return a, nil
}

// ID returns the actor's id, or "" for a nil Actor.
func (a *Actor) ID() string {
	if a == nil {
		return ""
	}
	return a.id
}

// ErrReadOnly is returned when changing an actor whose rules come from a
// policy file: change the file instead.
var ErrReadOnly = errors.New("warden: actor's rules come from a policy file")

// Add gives the actor more rules of its own. A rule with a malformed
// pattern is refused, and then none of the rules is added.
func (a *Actor) Add(rules ...Rule) error {
	if a.bound != nil {
		return ErrReadOnly
	}
	if err := checkRules(rules); err != nil {
		return err
	}
	a.mu.Lock()
	a.rules = append(a.rules, rules...)
	a.version.Add(1)
	a.mu.Unlock()
	return nil
}

// Assign gives the actor roles.
func (a *Actor) Assign(roles ...*Role) error {
	if a.bound != nil {
		return ErrReadOnly
	}
	a.mu.Lock()
	for _, r := range roles {
		if r != nil && !containsRole(a.roles, r) {
			a.roles = append(a.roles, r)
		}
	}
	a.version.Add(1)
	a.mu.Unlock()
	return nil
}

// Revoke takes roles away from the actor.
func (a *Actor) Revoke(roles ...*Role) error {
	if a.bound != nil {
		return ErrReadOnly
	}
	a.mu.Lock()
	kept := a.roles[:0]
	for _, r := range a.roles {
		if !containsRole(roles, r) {
			kept = append(kept, r)
		}
	}
	clear(a.roles[len(kept):])
	a.roles = kept
	a.version.Add(1)
	a.mu.Unlock()
	return nil
}

// SetStrategy chooses how the actor's matching rules combine. The default
// is DenyOverrides; MostSpecific is toffi's behaviour.
func (a *Actor) SetStrategy(s Strategy) error {
	if a.bound != nil {
		return ErrReadOnly
	}
	if s > MostSpecific {
		return fmt.Errorf("warden: unknown strategy %d", s)
	}
	a.mu.Lock()
	a.strategy = s
	a.version.Add(1)
	a.mu.Unlock()
	return nil
}

// IsAllowed reports whether the actor may perform scope on index. Any
// error, such as a malformed index, denies.
func (a *Actor) IsAllowed(scope, index string) bool {
	d, err := a.Decide(scope, index)
	return err == nil && d.Allowed
}

// Decide decides whether the actor may perform scope on index (use "" for
// no particular resource) and says why. A nil Actor denies with
// ErrUnauthorized.
func (a *Actor) Decide(scope, index string) (Decision, error) {
	if a == nil {
		return Decision{Reason: "no actor"}, ErrUnauthorized
	}
	if a.bound != nil {
		return a.bound.Decide(Request{Subject: a.id, Resource: index, Action: scope})
	}
	c := a.current()
	if c.err != nil {
		return Decision{Reason: "actor's rules do not compile"}, c.err
	}
	o, err := c.policy.Find(a.id, index, scope)
	return decisionOf(o, c.policy), err
}

// HasRole reports whether the actor holds the role, directly or through
// inheritance (for a policy-file actor: a group or role it belongs to).
func (a *Actor) HasRole(name string) bool {
	if a == nil {
		return false
	}
	if a.bound != nil {
		return a.bound.c.MemberOf(a.id, name)
	}
	return a.current().names[name]
}

// current returns the compiled rules, recompiling first when the actor or
// a role it holds changed since they were compiled.
func (a *Actor) current() *actorPolicy {
	if c := a.compiled.Load(); c != nil && c.fresh(a) {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.compiled.Load(); c != nil && c.fresh(a) {
		return c // another goroutine recompiled while we waited
	}
	c := a.compile()
	a.compiled.Store(c)
	return c
}

func (c *actorPolicy) fresh(a *Actor) bool {
	if c.version != a.version.Load() {
		return false
	}
	for _, rv := range c.roles {
		if rv.role.version.Load() != rv.version {
			return false
		}
	}
	return true
}

// compile turns the actor's rules and roles into a policy for the engine,
// the one the policy file compiles to: roles become roles, the actor a
// member of the roles it holds, and inheritance membership between roles.
// Rules come in a fixed order, the actor's own first, then each role's in
// the order roles were assigned and inherited, so first-match and reasons
// are deterministic. It runs with a.mu held.
func (a *Actor) compile() *actorPolicy {
	c := &actorPolicy{version: a.version.Load(), names: make(map[string]bool)}
	src := &engine.Source{Strategy: engine.Strategy(a.strategy)}
	src.Rules = appendRules(src.Rules, "actor."+a.id, a.id, a.rules)
	members := make(map[*Role][]engine.Member)
	var order []*Role
	queue := append([]*Role(nil), a.roles...)
	for _, r := range a.roles {
		members[r] = append(members[r], engine.Member{Name: a.id})
	}
	seen := make(map[*Role]bool)
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		order = append(order, r)
		rules, inherits, v := r.snapshot()
		c.roles = append(c.roles, roleVersion{r, v})
		c.names[r.name] = true
		src.Rules = appendRules(src.Rules, "role."+r.name, r.name, rules)
		for _, p := range inherits {
			members[p] = append(members[p], engine.Member{Name: r.name})
			queue = append(queue, p)
		}
	}
	for _, r := range order {
		src.Groups = append(src.Groups, engine.Group{Name: r.name, Section: "roles", Role: true, Members: members[r]})
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		c.err = fmt.Errorf("warden: actor %q: %w", a.id, errs.Err())
		return c
	}
	c.policy = p
	return c
}

// appendRules adds rules under one id, numbering items per effect as the
// file front end does.
func appendRules(dst []engine.Rule, id, subject string, rules []Rule) []engine.Rule {
	items := map[Effect]int{}
	for _, r := range rules {
		for _, res := range r.Resources {
			items[r.Effect]++
			dst = append(dst, engine.Rule{
				ID: id, Item: items[r.Effect], Effect: engine.Effect(r.Effect),
				Subject: subject, Resource: res, Action: r.Action,
				Pos: diag.Pos{File: id},
			})
		}
	}
	return dst
}

// Actor returns an actor whose rules come from the policy: checks decide
// requests with id as the subject. Its rules cannot be changed in code.
func (p *Policy) Actor(id string) (*Actor, error) {
	if p == nil || p.c == nil {
		return nil, ErrNoPolicy
	}
	if err := pattern.CheckName(id); err != nil {
		return nil, fmt.Errorf("warden: actor id: %w", err)
	}
	return &Actor{id: id, bound: p}, nil
}
