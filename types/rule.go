package types

import "slices"

// Rule allows or denies an action (toffi's scope) on resources (toffi's
// index), both given as patterns: a rule built in code. Build rules with
// warden.Allow and warden.Deny. A Rule is a plain value; the zero Rule has
// no effect, and every place that takes rules refuses it.
type Rule struct {
	Effect Effect
	Action string
	// Resources are the resource patterns the rule covers; a request
	// matches the rule when its resource matches any of them.
	Resources []string
	// Condition is a CEL expression the request must satisfy too
	// (SPEC 12), set with When; empty for none.
	Condition string
}

// When returns the rule with a condition: a CEL expression over subject,
// resource, action, principals, context and now (SPEC 12.2), such as
//
//	warden.Allow("payroll:read", "payroll:*").When(`context.mfa && context.ip.in_cidr("10.0.0.0/8")`)
//	warden.Allow("articles:update", "articles:*").When(`resource.split(':')[2] == subject`)
//
// Rules built in code have no [context] table: context is a map, each
// value typed by itself (a bool, a string, an integer, a float64, a
// time.Time, a time.Duration, a netip.Addr or a []string). The condition
// is compiled, and a syntax or type error returned, when the rule is
// given to NewRole, NewActor or Add. At check time, a condition that
// cannot be evaluated (a key missing from the context, a value of the
// wrong type) makes an allow not match and a deny match (SPEC 12.5).
// Guards pass context from each call (package guard: Options.Attributes,
// WithAttributes).
func (r Rule) When(expr string) Rule {
	r.Resources = slices.Clone(r.Resources)
	r.Condition = expr
	return r
}
