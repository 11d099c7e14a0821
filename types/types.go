// Package types is warden's vocabulary: the values the engine produces and
// every front end, tool and wire format shares. It is a leaf: it imports
// nothing of warden's, so the engine, the root package, the JSON wire format
// and the analysis tools all use these types directly, with no look-alike
// structs to convert between. The root package warden aliases each of them;
// most programs never import types itself.
//
// Every type here is a plain value. The zero Decision denies, the zero
// Effect is EffectNone and the zero Strategy is DenyOverrides, so a value
// nobody filled in never grants access.
package types

import (
	"fmt"
	"time"
)

// Effect is what a rule does when it matches, or what decided a request.
type Effect uint8

const (
	// EffectNone is the zero Effect: no rule matched, and the mismatch
	// decision applied.
	EffectNone Effect = iota
	EffectAllow
	EffectDeny
)

func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "allow"
	case EffectDeny:
		return "deny"
	}
	return "none"
}

// MarshalText renders the effect as "allow", "deny" or "none".
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText accepts "allow", "deny" and "none".
func (e *Effect) UnmarshalText(b []byte) error {
	switch string(b) {
	case "allow":
		*e = EffectAllow
	case "deny":
		*e = EffectDeny
	case "none":
		*e = EffectNone
	default:
		return fmt.Errorf("warden: unknown effect %q (want allow, deny or none)", b)
	}
	return nil
}

// Strategy chooses how the rules that match a request combine (SPEC 5.2).
type Strategy uint8

const (
	// DenyOverrides is the zero Strategy and the default: any matching deny
	// wins, so forgetting to choose never widens access.
	DenyOverrides Strategy = iota
	AllowOverrides
	FirstMatch
	// MostSpecific is toffi's behaviour: the most specific action, then
	// resource, then subject decides.
	MostSpecific
)

// StrategyNames maps every accepted spelling to its strategy: warden's names
// and AccessControl's aliases (SPEC 5.2).
var StrategyNames = map[string]Strategy{
	"deny-overrides":  DenyOverrides,
	"allow-overrides": AllowOverrides,
	"first-match":     FirstMatch,
	"most-specific":   MostSpecific,
	"ALL_ALLOW":       DenyOverrides,
	"ANY_ALLOW":       AllowOverrides,
	"FIRST_MATCH":     FirstMatch,
}

func (s Strategy) String() string {
	switch s {
	case DenyOverrides:
		return "deny-overrides"
	case AllowOverrides:
		return "allow-overrides"
	case FirstMatch:
		return "first-match"
	case MostSpecific:
		return "most-specific"
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// Valid reports whether s is one of the four strategies.
func (s Strategy) Valid() bool { return s <= MostSpecific }

// MarshalText renders the strategy by its name, such as "deny-overrides".
// An unknown strategy is an error rather than a name nobody can read back.
func (s Strategy) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("warden: unknown strategy %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts every name in StrategyNames.
func (s *Strategy) UnmarshalText(b []byte) error {
	v, ok := StrategyNames[string(b)]
	if !ok {
		return fmt.Errorf("warden: unknown strategy %q (want deny-overrides, allow-overrides, first-match or most-specific)", b)
	}
	*s = v
	return nil
}

// Request asks whether Subject may perform Action on Resource (SPEC 9.3).
// An empty Resource means "no particular resource": only rules whose
// resource pattern is '*' apply to it.
type Request struct {
	Subject  string `json:"subject"`
	Resource string `json:"resource"`
	Action   string `json:"action"`
	// Groups are groups and roles the subject belongs to for this request
	// only, beside those the policy knows: caller-supplied memberships,
	// such as the roles an application stores for a user or the groups an
	// identity provider asserts. Each is a literal name; a group the
	// policy declares brings everything it belongs to as well.
	Groups []string `json:"groups,omitempty"`
	// Context holds the request's attributes: conditions read them
	// (SPEC 12), and the audit log records them. A policy with a
	// [context] table checks them against it (SPEC 12.4).
	Context map[string]any `json:"context,omitempty"`
	// Now is the time conditions read as now. The zero Now means the
	// clock's time, read only if a condition reads now; tests and
	// `warden test` cases set it.
	Now time.Time `json:"-"`
	// AtLeastRevision asks for a decision on a state that includes this
	// store revision, waiting for it a bounded time (SPEC 10.4): pass the
	// revision a write returned to read your own write on any instance.
	AtLeastRevision uint64 `json:"at_least_revision,omitempty"`
}

// Decision is the answer to a Request (SPEC 5.4). The zero Decision denies.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Effect  Effect `json:"effect"`
	// Rule and Item name the deciding rule item: Item counts from 1 within
	// the rule's list of Effect, so ("rules.r1", EffectAllow, 2) is the
	// second item of rules.r1's allow list. Both are empty when no rule
	// matched. A grant written at runtime (SPEC 10.2) has Item 0: the
	// reason names it, by its literal subject, resource and action.
	Rule   string `json:"rule,omitempty"`
	Item   int    `json:"item,omitempty"`
	Reason string `json:"reason"`
	// SubjectPath and ResourcePath are the membership chains that made the
	// deciding rule match, such as ["user1", "g1", "g4", "admin"] and
	// ["part_b", "res1"]. Deciding leaves them empty, because finding them
	// costs allocations; explaining fills them.
	SubjectPath   []string `json:"subject_path,omitempty"`
	ResourcePath  []string `json:"resource_path,omitempty"`
	PolicyVersion string   `json:"policy_version"`
	// Revision is the store revision whose data the decision saw
	// (SPEC 10.4); 0 when the policy has no store.
	Revision uint64 `json:"revision,omitempty"`
	// MissingContext lists, sorted, the context attributes that
	// conditions read and the request did not carry, and
	// ConditionErrors the conditions that could not be evaluated (SPEC
	// 12.5): those of the deciding item and of every item that would
	// have decided had its condition held. An allow item whose condition
	// cannot be evaluated does not match; a deny item does.
	MissingContext  []string         `json:"missing_context,omitempty"`
	ConditionErrors []ConditionError `json:"condition_errors,omitempty"`
}

// ConditionError is a rule block's condition that could not be
// evaluated for a request (SPEC 12.5): an attribute it read was missing,
// an evaluation error, or the cost limit.
type ConditionError struct {
	// Rule is the block's rule id, such as "rules.office".
	Rule string `json:"rule"`
	// When is the condition, as written.
	When  string `json:"when"`
	Error string `json:"error"`
}

// Match is one rule item that matched a request, with the chains that made
// it match.
type Match struct {
	Rule   string `json:"rule"`
	Item   int    `json:"item"`
	Effect Effect `json:"effect"`
	// Subject, Resource and Action are the rule item's patterns.
	Subject  string `json:"subject"`
	Resource string `json:"resource"`
	Action   string `json:"action"`
	// Position is where the item was written, as file:line:col; empty for
	// rules built in code.
	Position string `json:"position,omitempty"`
	Reason   string `json:"reason"`
	// When is the condition of the item's block, empty for none; a
	// conditional item matched because it held, or, with
	// ConditionFailed, because it is a deny whose condition could not
	// be evaluated (SPEC 12.5).
	When            string `json:"when,omitempty"`
	ConditionFailed bool   `json:"condition_failed,omitempty"`
	// Decided marks the item that decided the request.
	Decided      bool     `json:"decided"`
	SubjectPath  []string `json:"subject_path"`
	ResourcePath []string `json:"resource_path"`
	ActionPath   []string `json:"action_path"`
}

// Explanation is a decision with every rule item that matched, in document
// order, and a sentence on how the strategy chose.
type Explanation struct {
	Decision Decision `json:"decision"`
	Strategy Strategy `json:"strategy"`
	Matches  []Match  `json:"matches"`
	// Why says in one sentence how the strategy picked the deciding rule,
	// or that the mismatch decision applied.
	Why string `json:"why"`
}

// Diagnostic is one problem in a policy, at one place. A zero Line means
// the position is unknown (a policy built in code).
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Where renders the position as file:line:col, the form editors and
// terminals turn into links.
func (d Diagnostic) Where() string {
	switch {
	case d.Line == 0 && d.File == "":
		return "<policy>"
	case d.Line == 0:
		return d.File
	case d.File == "":
		return fmt.Sprintf("<policy>:%d:%d", d.Line, d.Column)
	}
	return fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)
}

func (d Diagnostic) String() string { return d.Where() + ": " + d.Message }

// Error makes a single Diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// Grant is one subject that may perform an action on a resource, as a
// who-may query finds it, with the rule item that allows it.
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
	// When is the condition of the deciding item (SPEC 12): the subject
	// is allowed only when it holds. Empty for an unconditional item.
	When string `json:"when,omitempty"`
}

// Permission is one region of requests a subject is allowed or denied, as
// a what-can query finds it: the deciding rule item's resource and action
// patterns.
type Permission struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Allowed  bool   `json:"allowed"`
	Effect   Effect `json:"effect"`
	// Rule and Item name the rule item; both are empty for the mismatch
	// decision, which is listed last, as resource "*" and action "*", when
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
	// When is the condition of the rule item (SPEC 12): the region is
	// decided so only when it holds. Empty for an unconditional item.
	When string `json:"when,omitempty"`
}
