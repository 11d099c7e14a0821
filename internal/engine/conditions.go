package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warden-authz/warden/internal/cond"
	"github.com/warden-authz/warden/internal/diag"
)

// hasConditions reports whether src has a condition or a [context]. A
// DynamicContext alone (rules built in code, none with a condition) needs
// nothing: their context is the caller's own.
func hasConditions(src *Source) bool {
	if src.ContextSet || len(src.Context) > 0 || src.CostLimit != 0 {
		return true
	}
	for i := range src.Rules {
		if src.Rules[i].When != nil {
			return true
		}
	}
	return slices.ContainsFunc(src.Dynamic, func(b DynamicBlock) bool { return b.When != nil })
}

// compileConditions makes the policy's condition environment from
// [context] and compiles every condition once, type-checked against it
// (SPEC 12.3). Each error points into the expression.
func (p *Policy) compileConditions(src *Source, errs *diag.List) map[*Condition]*cond.Condition {
	if !hasConditions(src) {
		return nil
	}
	var attrs []cond.Attribute
	ok := true
	seen := map[string]diag.Pos{}
	for _, a := range src.Context {
		if err := cond.CheckName(a.Name); err != nil {
			errs.Add(a.Pos, "context: %v", err)
			ok = false
			continue
		}
		if first, dup := seen[a.Name]; dup {
			errs.Add(a.Pos, "context.%s is declared twice (first at %v)", a.Name, first)
			ok = false
			continue
		}
		seen[a.Name] = a.Pos
		t, known := cond.ParseType(a.Type)
		if !known {
			errs.Add(a.Pos, "context.%s: unknown type %q; expected one of %s", a.Name, a.Type, strings.Join(cond.TypeNames(), ", "))
			ok = false
			continue
		}
		attrs = append(attrs, cond.Attribute{Name: a.Name, Type: t})
	}
	if src.CostLimit > 1<<40 {
		errs.Add(src.CostLimitPos, "rule_policy.condition_cost_limit is %d, over the most allowed, %d", src.CostLimit, uint64(1<<40))
		ok = false
	}
	env, err := cond.NewEnv(cond.Options{Attributes: attrs, Dynamic: src.DynamicContext, CostLimit: src.CostLimit})
	if err != nil {
		errs.Add(diag.Pos{}, "conditions: %v", err)
		return nil
	}
	if !ok {
		// A bad [context] would make every condition that reads it wrong
		// too; its own errors say what to fix first.
		return nil
	}
	p.cenv = env
	out := map[*Condition]*cond.Condition{}
	byText := map[string]*cond.Condition{}
	compile := func(id string, w *Condition) {
		if w == nil {
			return
		}
		if _, done := out[w]; done {
			return
		}
		if c, hit := byText[w.Text]; hit {
			out[w] = c
			return
		}
		c, issues := env.Compile(w.Text)
		for _, is := range issues {
			errs.Add(w.at(is.Offset), "%s: when: %s", id, is.Message)
		}
		if c != nil {
			out[w] = c
			byText[w.Text] = c
		}
	}
	for i := range src.Rules {
		compile(src.Rules[i].ID, src.Rules[i].When)
	}
	for _, b := range src.Dynamic {
		compile(b.ID, b.When)
	}
	return out
}

// dynamicConditions are the dynamic blocks' conditions, by block, or nil
// when no block has one.
func dynamicConditions(blocks []DynamicBlock, conds map[*Condition]*cond.Condition) []*ruleCond {
	var out []*ruleCond
	for i, b := range blocks {
		c, ok := conds[b.When]
		if !ok {
			continue
		}
		if out == nil {
			out = make([]*ruleCond, len(blocks))
		}
		out[i] = &ruleCond{c: c}
	}
	return out
}

// heldReason and failedReason are a conditioned item's reasons (SPEC
// 12.5): it decided because its condition held, or, for a deny, because
// its condition could not be evaluated.
func heldReason(base string, c *cond.Condition) string {
	return base + " when " + c.Text()
}

func failedReason(base string, c *cond.Condition) string {
	return base + ": its condition (" + c.Text() + ") could not be evaluated, and a deny whose condition cannot be evaluated applies"
}

// ContextChecked reports whether the policy checks requests' context
// against a [context] table (SPEC 12.4).
func (p *Policy) ContextChecked() bool { return p != nil && p.ctxChecked }

// CostLimit is the cost limit of one condition's evaluation.
func (p *Policy) CostLimit() uint64 {
	if p == nil || p.cenv == nil {
		return cond.DefaultCostLimit
	}
	return p.cenv.CostLimit()
}

// checkContext checks a query's context against the policy's [context]
// (SPEC 12.4). A policy without a [context] table carries context for
// audit only, conditions or not: a condition that reads a value it
// cannot use fails to evaluate, and fails closed (SPEC 12.5).
func (p *Policy) checkContext(q *Query) error {
	if !p.ctxChecked || len(q.Context) == 0 {
		return nil
	}
	if err := p.cenv.CheckContext(q.Context); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

// condInput is what conditions read of a query.
type condInput struct {
	subject, resource, action string
	context                   map[string]any
	now                       time.Time
}

// condState is what one decision's conditions need beyond the walk: the
// variables they read, each condition's result (an item's block shares
// its condition, and an item may match through several keys: each
// condition runs once per decision and layer), and the failures, to
// report (SPEC 12.5). It lives on the heap and is made only when a
// matching item has a condition.
type condState struct {
	vars    cond.Vars
	memo    []memoEntry
	fails   []condFail
	memoBuf [4]memoEntry
}

var condStates = sync.Pool{New: func() any { return new(condState) }}

type memoEntry struct {
	c *cond.Condition
	r cond.Result
}

// condFail is a condition that could not be evaluated, with the item it
// belongs to.
type condFail struct {
	c    candidate
	rc   *ruleCond
	rule string
	r    cond.Result
}

// holds reports whether the item c, whose condition is rc, matches:
// when its condition is true, or, for a deny, when its condition cannot
// be evaluated (SPEC 12.5); c.failed then says so.
func (w *walker) holds(rc *ruleCond, effect Effect, rule string, ks *[3]keys, c *candidate) bool {
	r := w.evaluate(rc.c, ks)
	if r.Err == nil {
		return r.Value
	}
	w.cs.fails = append(w.cs.fails, condFail{c: *c, rc: rc, rule: rule, r: r})
	if effect == EffectDeny {
		c.failed = true
		return true
	}
	return false
}

func (w *walker) evaluate(c *cond.Condition, ks *[3]keys) cond.Result {
	cs := w.cs
	if cs == nil {
		cs = condStates.Get().(*condState)
		cs.vars.Reset(w.p.cenv)
		cs.memo = cs.memoBuf[:0]
		v, in := &cs.vars, &w.in
		v.Subject, v.Resource, v.Action, v.Context, v.Now = in.subject, in.resource, in.action, in.context, in.now
		w.cs = cs
	}
	for i := range cs.memo {
		if cs.memo[i].c == c {
			return cs.memo[i].r
		}
	}
	if c.ReadsPrincipals() {
		sk := &ks[dimSubject]
		ps := make([]string, 0, sk.len())
		for i := range sk.len() {
			// Cloned, not shared: the keys live in the walker's
			// buffers on the stack, which must not flow to the heap
			// (escape analysis would move every walker there).
			ps = append(ps, strings.Clone(sk.at(i)))
		}
		cs.vars.Principals = ps
	}
	r := c.Eval(&cs.vars)
	cs.memo = append(cs.memo, memoEntry{c: c, r: r})
	return r
}

// finishConditions adds to d what the conditions did: the attributes that
// were missing and the errors of every condition that could not be
// evaluated and mattered, the deciding item's or one that would have
// decided had it held (SPEC 12.5). Conditions of items the decision did
// not depend on are left out, so the answer does not depend on the order
// the index was walked in. The reason names the allow items whose
// conditions failed.
func (w *walker) finishConditions(d *Decision) {
	cs := w.cs
	defer func() {
		// Cleared, so a pooled state holds no policy or request alive.
		cs.vars.Reset(nil)
		clear(cs.memoBuf[:])
		clear(cs.fails)
		cs.memo, cs.fails = nil, cs.fails[:0]
		condStates.Put(cs)
		w.cs = nil
	}()
	if len(cs.fails) == 0 {
		return
	}
	fails := cs.fails
	slices.SortStableFunc(fails, func(a, b condFail) int {
		switch {
		case a.c.layer != b.c.layer:
			return int(a.c.layer) - int(b.c.layer)
		case a.c.ord().before(b.c.ord()):
			return -1
		case b.c.ord().before(a.c.ord()):
			return 1
		}
		return 0
	})
	var skipped []string // blocks whose allow items failed
	for _, f := range fails {
		decider := w.found && f.c.layer == w.best.layer && f.c.r == w.best.r && f.c.g == w.best.g
		if w.found && !decider && !w.better(f.c, w.best) {
			continue
		}
		for _, m := range f.r.Missing {
			if !slices.Contains(d.MissingContext, m) {
				d.MissingContext = append(d.MissingContext, m)
			}
		}
		e := ConditionError{Rule: f.rule, When: f.rc.c.Text(), Error: f.r.Err.Error()}
		if !slices.Contains(d.ConditionErrors, e) {
			d.ConditionErrors = append(d.ConditionErrors, e)
		}
		if !decider && f.c.effect() == EffectAllow && !slices.Contains(skipped, f.rule) {
			skipped = append(skipped, f.rule)
		}
	}
	slices.Sort(d.MissingContext)
	if len(skipped) > 0 {
		var b strings.Builder
		b.WriteString(d.Reason)
		for _, id := range skipped {
			fmt.Fprintf(&b, "; the condition of %s could not be evaluated, so its allow did not apply", id)
		}
		d.Reason = b.String()
	}
}
