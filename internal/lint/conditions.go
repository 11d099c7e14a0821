package lint

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/cond"
	"github.com/warden-authz/warden/internal/engine"
)

// whenText is an item's condition, or "" for none.
func whenText(r *engine.Rule) string {
	if r.When == nil {
		return ""
	}
	return r.When.Text
}

// sameCondition reports whether two items match under the same
// condition: both none, or the same expression.
func sameCondition(a, b *engine.Rule) bool { return whenText(a) == whenText(b) }

// condCovers reports whether b's condition holds whenever a's does, as far as
// lint can tell without evaluating: b has none, or the same as a. A rule
// under a condition covers nothing else: its condition may not hold.
func condCovers(b, a *engine.Rule) bool { return b.When == nil || sameCondition(a, b) }

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// conditions reports conditions whose value no request can change
// (constant-condition), and [context] attributes no condition reads
// (unused-context).
func (l *linter) conditions() {
	var attrs []cond.Attribute
	for _, a := range l.src.Context {
		t, ok := cond.ParseType(a.Type)
		if !ok {
			return // the compiler reports it
		}
		attrs = append(attrs, cond.Attribute{Name: a.Name, Type: t})
	}
	env, err := cond.NewEnv(cond.Options{Attributes: attrs, Dynamic: l.src.DynamicContext, CostLimit: l.src.CostLimit})
	if err != nil {
		return
	}
	read := map[string]bool{}
	readsAll := false
	seen := map[*engine.Condition]bool{}
	check := func(id string, w *engine.Condition) {
		if w == nil || seen[w] {
			return
		}
		seen[w] = true
		c, issues := env.Compile(w.Text)
		if len(issues) > 0 {
			return // the compiler reports it
		}
		for _, r := range c.Reads() {
			read[r] = true
		}
		readsAll = readsAll || c.ReadsAllContext()
		if v, ok := c.Constant(); ok {
			what := "always true, so the condition changes nothing"
			hint := "remove when from " + id
			if !v {
				what = "always false, so no item of the block ever matches"
				hint = "fix the condition, or remove " + id
			}
			l.add(Warning, CodeConstant, w.Pos, hint, "the condition of %s (%s) is %s: no request can change its value", id, shorten(w.Text), what)
		}
	}
	for i := range l.src.Rules {
		check(l.src.Rules[i].ID, l.src.Rules[i].When)
	}
	for _, b := range l.src.Dynamic {
		check(b.ID, b.When)
	}
	if readsAll {
		return
	}
	for _, a := range l.src.Context {
		if !read[a.Name] {
			l.add(Info, CodeUnusedContext, a.Pos, fmt.Sprintf("remove %s from [context], or read it in a condition (context.%s)", a.Name, a.Name),
				"context.%s is declared but no condition reads it; requests may still carry it, checked against its type (SPEC 12.4)", a.Name)
		}
	}
}
