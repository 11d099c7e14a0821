package warden

import (
	"github.com/warden-authz/warden/internal/analysis"
)

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
	return m.Who(resource, action)
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
	return m.Can(subject)
}

// model indexes the policy for analysis. It is built per call: analysis is
// rare next to decisions, and a Policy stays as small as Decide needs.
func (p *Policy) model() (*analysis.Model, error) {
	if p == nil || p.c == nil || p.src == nil {
		return nil, ErrNoPolicy
	}
	return analysis.NewModel(p.src, p.c), nil
}
