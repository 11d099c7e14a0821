package warden

import (
	"github.com/warden-authz/warden/internal/analysis"
)

// Grant is one subject that may perform an action on a resource, as Who
// finds it, with the rule item that allows it.
type Grant struct {
	Subject string `json:"subject"`
	// Kind is "user", "group" or "role" for a subject the policy declares,
	// and "other" for a representative name that stands for every
	// undeclared subject of a region, as StandsFor says ("any other
	// subject", "any other subject matching user:*").
	Kind      string `json:"kind"`
	StandsFor string `json:"stands_for,omitempty"`
	// Via is the group or role through which the rule matched; empty when
	// it matched the subject itself, or is '*'.
	Via    string `json:"via,omitempty"`
	Effect Effect `json:"effect"`
	// Rule and Item name the deciding rule item; both are empty when the
	// mismatch decision allows.
	Rule   string `json:"rule,omitempty"`
	Item   int    `json:"item,omitempty"`
	Reason string `json:"reason"`
}

// Permission is one region of requests a subject is allowed or denied, as
// Can finds it: the deciding rule item's resource and action patterns.
type Permission struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Allowed  bool   `json:"allowed"`
	Effect   Effect `json:"effect"`
	// Rule and Item name the rule item; both are empty for the mismatch
	// decision, which Can lists last, as resource "*" and action "*", when
	// some requests match no rule.
	Rule   string `json:"rule,omitempty"`
	Item   int    `json:"item,omitempty"`
	Reason string `json:"reason"`
	// Via is the group or role through which the rule applies; empty when
	// through the subject itself, or when the rule's subject is '*'.
	Via string `json:"via,omitempty"`
	// Partial reports that inside these patterns some requests are decided
	// by another entry of the list: a rule that overrides this one there.
	Partial bool `json:"partial"`
}

// Who returns every subject that may perform action on resource: each
// user, group and role the policy declares, decided one by one (so a
// member of an allowed group whom a narrower rule denies is left out), and
// for subjects the policy does not name, one "other" entry per region of
// names its patterns tell apart, when that region is allowed. Pass "" as
// resource for no particular resource. Declared subjects come first,
// sorted by name.
//
// A malformed resource or action is ErrInvalidRequest; the zero Policy
// returns ErrNoPolicy.
func (p *Policy) Who(resource, action string) ([]Grant, error) {
	m, err := p.model()
	if err != nil {
		return nil, err
	}
	gs, err := m.Who(resource, action)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, len(gs))
	for i, g := range gs {
		out[i] = Grant{Subject: g.Subject, Kind: g.Kind, StandsFor: g.StandsFor, Via: g.Via,
			Effect: Effect(g.Effect), Rule: g.Rule, Item: g.Item, Reason: g.Reason}
	}
	return out, nil
}

// Can returns what subject may and may not do: for every rule item that
// decides at least one of its requests, the item's resource and action
// patterns and whether it allows, in document order; then the mismatch
// decision for everything no rule matches. A rule that applies but is
// overridden everywhere decides nothing and is not listed. Subjects the
// policy does not declare are answered too: they get what '*' and pattern
// rules give them.
//
// A malformed subject is ErrInvalidRequest; the zero Policy returns
// ErrNoPolicy.
func (p *Policy) Can(subject string) ([]Permission, error) {
	m, err := p.model()
	if err != nil {
		return nil, err
	}
	ps, err := m.Can(subject)
	if err != nil {
		return nil, err
	}
	out := make([]Permission, len(ps))
	for i, x := range ps {
		out[i] = Permission{Resource: x.Resource, Action: x.Action, Allowed: x.Allowed, Effect: Effect(x.Effect),
			Rule: x.Rule, Item: x.Item, Reason: x.Reason, Via: x.Via, Partial: x.Partial}
	}
	return out, nil
}

// model indexes the policy for analysis. It is built per call: analysis is
// rare next to decisions, and a Policy stays as small as Decide needs.
func (p *Policy) model() (*analysis.Model, error) {
	if p == nil || p.c == nil || p.src == nil {
		return nil, ErrNoPolicy
	}
	return analysis.NewModel(p.src, p.c), nil
}
