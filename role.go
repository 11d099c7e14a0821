package warden

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// Role is a named set of rules that actors hold, which may also carry the
// rules of the roles it inherits. A Role is an immutable value: Add and
// Inherit return a new Role and leave the receiver as it was, so a role
// that a Roles set compiled never changes under a check. A nil *Role has
// no name and no rules; NewRoles refuses it.
type Role struct {
	c engine.CodeRole
}

// NewRole makes a role. Its name must be a valid name (SPEC 1.1), and
// every rule's patterns must parse: a bad rule is refused here, not found
// at check time.
func NewRole(name string, rules ...Rule) (*Role, error) {
	if err := pattern.CheckName(name); err != nil {
		return nil, fmt.Errorf("warden: role name: %w", err)
	}
	if err := engine.CheckCodeRules(rules); err != nil {
		return nil, err
	}
	return &Role{engine.CodeRole{Name: name, Rules: slices.Clone(rules)}}, nil
}

// Name returns the role's name, or "" for a nil Role.
func (r *Role) Name() string {
	if r == nil {
		return ""
	}
	return r.c.Name
}

// Rules returns a copy of the role's own rules.
func (r *Role) Rules() []Rule {
	if r == nil {
		return nil
	}
	return slices.Clone(r.c.Rules)
}

// Inherits returns the names of the roles whose rules this role carries
// too, in the order they were given.
func (r *Role) Inherits() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.c.Inherits)
}

// Add returns a role with the receiver's rules and rules. A rule with a
// malformed pattern is refused, and then no role is returned.
func (r *Role) Add(rules ...Rule) (*Role, error) {
	if r == nil {
		return nil, errNilRole
	}
	if err := engine.CheckCodeRules(rules); err != nil {
		return nil, err
	}
	c := r.c
	c.Rules = append(slices.Clone(c.Rules), rules...)
	return &Role{c}, nil
}

// Inherit returns a role that also carries every rule of the named roles,
// which the Roles set holding it must hold too. Cycles are allowed: roles
// in a cycle carry each other's rules (SPEC 3.2).
func (r *Role) Inherit(roles ...string) (*Role, error) {
	if r == nil {
		return nil, errNilRole
	}
	c := r.c
	c.Inherits = slices.Clone(c.Inherits)
	for _, name := range roles {
		if err := pattern.CheckName(name); err != nil {
			return nil, fmt.Errorf("warden: role %q inherits: %w", c.Name, err)
		}
		if !slices.Contains(c.Inherits, name) {
			c.Inherits = append(c.Inherits, name)
		}
	}
	return &Role{c}, nil
}

var errNilRole = errors.New("warden: nil Role")

// Roles is the set of roles a program's actors hold, compiled into one
// engine the way a policy file is: each role's rules are rules whose
// subject is the role, and inheritance is membership between roles. An
// actor's roles reach it as request data (Roles.Actor), so making an actor
// per request compiles nothing.
//
// A *Roles is a handle on the set committed last. Checks read it with one
// atomic load and never lock; Edit builds a change and Commit compiles the
// new set and swaps it in, so a check sees the whole set committed before
// it began, never half an edit. The zero Roles is an empty set, ready to
// use and to edit.
type Roles struct {
	cur atomic.Pointer[roleSet]
	mu  sync.Mutex // serialises commits; readers never take it
}

// roleSet is one committed, compiled state of a Roles.
type roleSet struct {
	roles  map[string]*Role
	order  []string // the order roles were first put, which is rule order
	policy *engine.Policy
}

// NewRoles makes a set holding roles.
func NewRoles(roles ...*Role) (*Roles, error) {
	rs := &Roles{}
	if err := rs.Edit().Put(roles...).Commit(); err != nil {
		return nil, err
	}
	return rs, nil
}

func (rs *Roles) load() *roleSet {
	if rs == nil {
		return nil
	}
	return rs.cur.Load()
}

// Role returns the role named name, or nil.
func (rs *Roles) Role(name string) *Role {
	if s := rs.load(); s != nil {
		return s.roles[name]
	}
	return nil
}

// Names returns the names of the roles in the set, in rule order: the
// order they were first put.
func (rs *Roles) Names() []string {
	if s := rs.load(); s != nil {
		return slices.Clone(s.order)
	}
	return nil
}

// Version is a content hash of the set's rules and inheritance; decisions
// made with the set carry it. The empty set has version "".
func (rs *Roles) Version() string {
	if s := rs.load(); s != nil {
		return s.policy.Version()
	}
	return ""
}

// Edit starts a change to the set. Nothing is visible until Commit.
func (rs *Roles) Edit() *RoleEdit { return &RoleEdit{rs: rs} }

// RoleEdit is a change to a Roles set being built: roles to put and roles
// to remove, applied in order by Commit. It is not safe for concurrent
// use; the set it edits is.
type RoleEdit struct {
	rs  *Roles
	ops []roleOp
}

type roleOp struct {
	put    *Role
	remove string // with put nil and isPut false
	isPut  bool
}

// Put adds roles to the change, each replacing the set's role of the same
// name, which keeps its place in rule order.
func (e *RoleEdit) Put(roles ...*Role) *RoleEdit {
	if e == nil {
		return nil // Commit reports it
	}
	for _, r := range roles {
		e.ops = append(e.ops, roleOp{put: r, isPut: true})
	}
	return e
}

// Remove adds the removal of the named roles to the change.
func (e *RoleEdit) Remove(names ...string) *RoleEdit {
	if e == nil {
		return nil // Commit reports it
	}
	for _, n := range names {
		e.ops = append(e.ops, roleOp{remove: n})
	}
	return e
}

// Commit applies the change to the set committed last, compiles the
// result and makes it the set every check reads. It is all or nothing: a
// nil or unnamed role, a role that inherits a role the set does not hold,
// or a removal that leaves such an inheritance behind is an error that
// names it, and the set stays as it was.
func (e *RoleEdit) Commit() error {
	if e == nil || e.rs == nil {
		return errors.New("warden: RoleEdit of no Roles")
	}
	rs := e.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	next := &roleSet{roles: make(map[string]*Role)}
	if cur := rs.cur.Load(); cur != nil {
		maps.Copy(next.roles, cur.roles)
		next.order = slices.Clone(cur.order)
	}
	for i, op := range e.ops {
		if !op.isPut {
			if _, ok := next.roles[op.remove]; !ok {
				continue // removing what is absent is not an error
			}
			delete(next.roles, op.remove)
			next.order = slices.DeleteFunc(next.order, func(n string) bool { return n == op.remove })
			continue
		}
		if op.put == nil || op.put.c.Name == "" {
			return fmt.Errorf("warden: roles: change %d puts a role with no name (make roles with NewRole)", i+1)
		}
		if _, ok := next.roles[op.put.c.Name]; !ok {
			next.order = append(next.order, op.put.c.Name)
		}
		next.roles[op.put.c.Name] = op.put
	}
	roles := make([]engine.CodeRole, len(next.order))
	for i, name := range next.order {
		roles[i] = next.roles[name].c
	}
	p, err := engine.CompileRoles(roles)
	if err != nil {
		return err
	}
	next.policy = p
	rs.cur.Store(next)
	return nil
}
