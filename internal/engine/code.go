package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/warden-authz/warden/internal/cond"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/types"
)

// The front end of policies built in code (package warden's rules, roles
// and actors): it checks rules when they are given and compiles them into
// the same Policy a file compiles into. Rules take the id of what carries
// them, "role.NAME" or "actor.ID", in place of a file's rule table.

// CheckCodeRules reports every rule whose patterns do not parse, whose
// effect is neither allow nor deny, or whose condition does not compile,
// so a bad rule is refused when it is given, not discovered at check time.
func CheckCodeRules(rules []types.Rule) error {
	var errs []error
	for _, r := range rules {
		if err := checkCodeRule(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkCodeRule(r types.Rule) error {
	if r.Effect != types.EffectAllow && r.Effect != types.EffectDeny {
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
	if r.Condition != "" {
		if _, issues := codeConditions().Compile(r.Condition); len(issues) > 0 {
			return fmt.Errorf("warden: rule for %q: when %q: at byte %d: %s", r.Action, r.Condition, issues[0].Offset, issues[0].Message)
		}
	}
	return nil
}

// codeConditions is the environment conditions of rules built in code
// compile in: no [context] table, so context is a map of values typed by
// themselves.
var codeConditions = sync.OnceValue(func() *cond.Env {
	e, err := cond.NewEnv(cond.Options{Dynamic: true})
	if err != nil {
		panic(err) // a fixed environment: a failure here is a bug, caught by every test
	}
	return e
})

// CompileActorRules compiles an actor's own rules, which CheckCodeRules
// has passed, with the actor as their subject.
func CompileActorRules(id string, rules []types.Rule) (*Policy, error) {
	src := &Source{Rules: appendCodeRules(nil, "actor."+id, id, rules), DynamicContext: true}
	p, errs := Compile(src)
	if len(errs) > 0 {
		return nil, fmt.Errorf("warden: actor %q: %w", id, errs.Err())
	}
	return p, nil
}

// CodeRole is a role built in code: its rules, and the roles whose rules
// it carries too.
type CodeRole struct {
	Name     string
	Rules    []types.Rule
	Inherits []string
}

// CompileRoles compiles a set of roles, given in rule order, the way a
// policy file is: each role a role group whose members are the roles
// inheriting it, and each role's rules with the role as their subject. A
// role that inherits one the set does not hold is an error that names it.
func CompileRoles(roles []CodeRole) (*Policy, error) {
	held := make(map[string]bool, len(roles))
	for _, r := range roles {
		held[r.Name] = true
	}
	members := make(map[string][]Member)
	for _, r := range roles {
		for _, p := range r.Inherits {
			if !held[p] {
				return nil, fmt.Errorf("warden: roles: role %q inherits %q, which the set does not hold", r.Name, p)
			}
			members[p] = append(members[p], Member{Name: r.Name})
		}
	}
	src := &Source{DynamicContext: true}
	for _, r := range roles {
		src.Groups = append(src.Groups, Group{Name: r.Name, Section: "roles", Role: true, Members: members[r.Name]})
		src.Rules = appendCodeRules(src.Rules, "role."+r.Name, r.Name, r.Rules)
	}
	p, errs := Compile(src)
	if len(errs) > 0 {
		return nil, fmt.Errorf("warden: roles: %w", errs.Err())
	}
	return p, nil
}

// appendCodeRules adds rules under one id, numbering items per effect as
// the file front end does.
func appendCodeRules(dst []Rule, id, subject string, rules []types.Rule) []Rule {
	var items [3]int
	for _, r := range rules {
		var when *Condition
		if r.Condition != "" {
			when = &Condition{Text: r.Condition, Pos: diag.Pos{File: id}}
		}
		for _, res := range r.Resources {
			items[r.Effect]++
			dst = append(dst, Rule{
				ID: id, Item: items[r.Effect], Effect: r.Effect,
				Subject: subject, Resource: res, Action: r.Action,
				Pos: diag.Pos{File: id}, When: when,
			})
		}
	}
	return dst
}
