package engine

import (
	"fmt"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/types"
)

// The engine decides in warden's one vocabulary (package types): these
// aliases let the engine's code name them without the package prefix.
type (
	Effect      = types.Effect
	Strategy    = types.Strategy
	Decision    = types.Decision
	Match       = types.Match
	Explanation = types.Explanation
	// ConditionError is a condition that could not be evaluated.
	ConditionError = types.ConditionError
)

const (
	EffectNone     = types.EffectNone
	EffectAllow    = types.EffectAllow
	EffectDeny     = types.EffectDeny
	DenyOverrides  = types.DenyOverrides
	AllowOverrides = types.AllowOverrides
	FirstMatch     = types.FirstMatch
	MostSpecific   = types.MostSpecific
)

// StrategyNames maps every accepted spelling to its strategy (SPEC 5.2).
var StrategyNames = types.StrategyNames

// Kind says which namespace a group belongs to. Groups of different kinds
// may share a name (a resource group "admin" and a role "admin" are
// unrelated); groups of one kind may not (SPEC 3.3).
type Kind uint8

const (
	Subjects Kind = iota
	Resources
	Actions
)

func (k Kind) String() string {
	switch k {
	case Subjects:
		return "subject"
	case Resources:
		return "resource"
	case Actions:
		return "action"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Group is a named set of members, as declared by a front end: a user group
// or a role (Kind Subjects), a resource group or an action group.
type Group struct {
	Name string
	Pos  diag.Pos
	// Section is the name of the declaration list the front end took the
	// group from ("groups", "roles", "resources", "actions"); it appears in
	// error messages. Role marks subject groups declared as roles: roles may
	// contain roles, groups may not contain roles (SPEC 3.2).
	Section string
	Role    bool
	Members []Member
}

// Member is one entry of a group: a name, another group of the same kind,
// or (for resources and actions) a pattern (SPEC 4.1).
type Member struct {
	Name string
	Pos  diag.Pos
}

// Rule is one `[subject, resource, action]` item of an allow or deny list,
// in document order (SPEC 5.1).
type Rule struct {
	// ID is the rule's id ("rules.r1", "rules.2"); several items share it.
	ID string
	// Item is the 1-based index of the item within its rule's list of
	// Effect, so (ID, Effect, Item) names exactly one item.
	Item     int
	Effect   Effect
	Subject  string
	Resource string
	Action   string
	// Pos is the item; the other positions are its three strings, so a bad
	// pattern is reported exactly where it was written.
	Pos                                diag.Pos
	SubjectPos, ResourcePos, ActionPos diag.Pos
	// When is the condition of the item's block (SPEC 12.1), shared by
	// every item of the block; nil for none.
	When *Condition
}

// Condition is a rule block's `when` expression as a front end read it.
type Condition struct {
	Text string
	// Pos is where the condition was written: with Raw, where Raw
	// starts; without, where Text's first byte is.
	Pos diag.Pos
	// Raw is the TOML string as written, quotes and escapes included,
	// which errors in the expression are located through; empty when
	// Text was written as is, on one line, from Pos.
	Raw string
}

// at gives the position of byte off of Text.
func (c *Condition) at(off int) diag.Pos {
	p := c.Pos
	if p.Line == 0 {
		return p
	}
	if c.Raw == "" {
		p.Col += off
		return p
	}
	offsets := diag.TOMLStringOffsets(c.Raw, c.Text)
	if offsets == nil {
		return p
	}
	for _, ch := range []byte(c.Raw[:offsets[min(max(off, 0), len(offsets)-1)]]) {
		if ch == '\n' {
			p.Line, p.Col = p.Line+1, 1
		} else {
			p.Col++
		}
	}
	return p
}

// ContextAttribute is one attribute of [context]: the name a condition
// reads as context.NAME, and its type's name (SPEC 12.1).
type ContextAttribute struct {
	Name, Type string
	Pos        diag.Pos
}

// Source is a policy as a front end read it, before compilation. It is plain
// data: building one has no side effects and compiling it never changes it.
type Source struct {
	Groups    []Group // user groups and roles (Kind Subjects)
	Resources []Group
	Actions   []Group
	Rules     []Rule // document order is rule order
	Strategy  Strategy
	// NoMatch is the decision when no rule matches (SPEC 5.3). The zero
	// value, EffectNone, means the default, which is deny.
	NoMatch Effect
	// NoMatchSet records that NoMatch was written in the policy rather than
	// defaulted, so reasons can say which it was. NoMatchPos is where it was
	// written, for tools that report on it.
	NoMatchSet bool
	NoMatchPos diag.Pos
	// Schemas declare the shapes resource names take
	// (users:by_group:{group}:{id}). With StrictSchemas, a request whose
	// resource fits none of them is rejected as invalid rather than decided,
	// so a resource of a shape no rule was written for fails closed. The
	// empty resource is never checked.
	Schemas       []Schema
	StrictSchemas bool
	// Dynamic lists the rule blocks that take grants written at runtime
	// (SPEC 10.2), in document order.
	Dynamic []DynamicBlock
	// Version, when set, is the compiled policy's version in place of the
	// hash of this source. MergeSource sets it to the model's version, so
	// a policy with a store's records merged in (for the tools that read a
	// whole policy) reports the version `warden serve` reports beside the
	// revision: the data is named by the revision, not by the version.
	Version string
	// Context is the [context] table: the attributes conditions may read
	// and requests may carry, with their types (SPEC 12.1). ContextSet
	// records that the table was written, even empty: only then is a
	// request's context checked (SPEC 12.4); without it, context is
	// carried for audit only.
	Context    []ContextAttribute
	ContextSet bool
	// DynamicContext declares no attribute types: conditions read the
	// request's context as a map, each value typed by itself. Rules built
	// in code, which have no [context] table, use it.
	DynamicContext bool
	// CostLimit bounds each evaluation of a condition
	// ([rule_policy] condition_cost_limit); 0 means the default.
	CostLimit    uint64
	CostLimitPos diag.Pos
}

// DynamicBlock is a rule block declared `dynamic = true`. Grants written
// to it come after its own items in document order: before Rules[End].
type DynamicBlock struct {
	ID  string
	Pos diag.Pos
	End int
	// When is the block's condition, which its grants carry; nil for
	// none.
	When *Condition
}

// Schema is one declared resource shape: segments joined by ':', each a
// literal segment or a placeholder {name} that stands for exactly one
// segment (ParseSchema).
type Schema struct {
	Name     string
	Template string
	Pos      diag.Pos
}
