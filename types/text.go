package types

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the explanation of r as `warden explain` does: the
// request, the decision, how the strategy chose, then every matching rule
// item with its position and membership chains, the deciding one marked.
// It is the one text form of an explanation, so a failing policy test
// shows what the user would see when asking by hand.
func (e Explanation) WriteText(w io.Writer, r Request) error {
	var b strings.Builder
	d := e.Decision
	verdict := "DENIED"
	if d.Allowed {
		verdict = "ALLOWED"
	}
	resource := fmt.Sprintf("%q", r.Resource)
	if r.Resource == "" {
		resource = "(no particular resource)"
	}
	fmt.Fprintf(&b, "request:  subject %q, action %q, resource %s\n", r.Subject, r.Action, resource)
	fmt.Fprintf(&b, "decision: %s  %s\n", verdict, d.Reason)
	fmt.Fprintf(&b, "why:      %s\n", e.Why)
	if len(d.MissingContext) > 0 {
		fmt.Fprintf(&b, "missing:  context.%s\n", strings.Join(d.MissingContext, ", context."))
	}
	for _, ce := range d.ConditionErrors {
		fmt.Fprintf(&b, "failed:   %s when %s: %s\n", ce.Rule, ce.When, ce.Error)
	}
	if d.Revision != 0 {
		fmt.Fprintf(&b, "policy:   %s (%s), data at revision %d\n", d.PolicyVersion, e.Strategy, d.Revision)
	} else {
		fmt.Fprintf(&b, "policy:   %s (%s)\n", d.PolicyVersion, e.Strategy)
	}
	if len(e.Matches) == 0 {
		b.WriteString("\nno rule matched\n")
	} else {
		fmt.Fprintf(&b, "\nmatching rules, in document order (%d):\n", len(e.Matches))
		for _, m := range e.Matches {
			mark := " "
			if m.Decided {
				mark = "*"
			}
			where := ""
			if m.Position != "" {
				where = "  " + m.Position
			}
			fmt.Fprintf(&b, "%s %s  [%q, %q, %q]%s\n", mark, ItemName(m.Rule, m.Effect, m.Item), m.Subject, m.Resource, m.Action, where)
			fmt.Fprintf(&b, "    subject:  %s\n", strings.Join(m.SubjectPath, " → "))
			fmt.Fprintf(&b, "    resource: %s\n", ResourceChain(m.ResourcePath))
			fmt.Fprintf(&b, "    action:   %s\n", strings.Join(m.ActionPath, " ∈ "))
			switch {
			case m.When != "" && m.ConditionFailed:
				fmt.Fprintf(&b, "    when:     %s (could not be evaluated: a deny applies)\n", m.When)
			case m.When != "":
				fmt.Fprintf(&b, "    when:     %s (held)\n", m.When)
			}
		}
		b.WriteString("\n* decided\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ResourceChain renders a resource's membership chain, "part_b ∈ res1",
// or says there was no particular resource.
func ResourceChain(path []string) string {
	if len(path) == 0 {
		return "(no particular resource)"
	}
	return strings.Join(path, " ∈ ")
}

// ItemName names a rule item as a person reads it: "rules.r1 allow[2]"
// for the second item of rules.r1's allow list, and "rules.shares allow
// (grant)" for a grant written at runtime, which has no item number.
func ItemName(rule string, effect Effect, item int) string {
	if item == 0 {
		return fmt.Sprintf("%s %s (grant)", rule, effect)
	}
	return fmt.Sprintf("%s %s[%d]", rule, effect, item)
}
