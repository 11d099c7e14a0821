package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/store"
)

// bexpr is a random boolean combination of context flags, with CEL's
// three-valued semantics written out: a missing flag is an error, which
// && and || absorb when the other side decides, and has() never fails.
type bexpr struct {
	op   string // "flag", "has", "const", "not", "and", "or"
	flag int
	val  bool
	kids []*bexpr
}

const flags = 4

func genExpr(t *rapid.T, depth int) *bexpr {
	ops := []string{"flag", "flag", "has", "const", "not", "and", "or"}
	if depth == 0 {
		ops = ops[:4]
	}
	e := &bexpr{op: rapid.SampledFrom(ops).Draw(t, "op")}
	switch e.op {
	case "flag", "has":
		e.flag = rapid.IntRange(0, flags-1).Draw(t, "flag")
	case "const":
		e.val = rapid.Bool().Draw(t, "const")
	case "not":
		e.kids = []*bexpr{genExpr(t, depth-1)}
	default:
		e.kids = []*bexpr{genExpr(t, depth-1), genExpr(t, depth-1)}
	}
	return e
}

func (e *bexpr) String() string {
	switch e.op {
	case "flag":
		return fmt.Sprintf("context.f%d", e.flag)
	case "has":
		return fmt.Sprintf("has(context.f%d)", e.flag)
	case "const":
		return fmt.Sprint(e.val)
	case "not":
		return "!(" + e.kids[0].String() + ")"
	case "and":
		return "(" + e.kids[0].String() + " && " + e.kids[1].String() + ")"
	}
	return "(" + e.kids[0].String() + " || " + e.kids[1].String() + ")"
}

// eval gives the value, or ok false for an error, and the flags read
// that were missing.
func (e *bexpr) eval(ctx map[string]any, missing map[string]bool) (val, ok bool) {
	switch e.op {
	case "flag":
		v, has := ctx[fmt.Sprintf("f%d", e.flag)]
		if !has {
			missing[fmt.Sprintf("f%d", e.flag)] = true
			return false, false
		}
		return v.(bool), true
	case "has":
		_, has := ctx[fmt.Sprintf("f%d", e.flag)]
		return has, true
	case "const":
		return e.val, true
	case "not":
		v, ok := e.kids[0].eval(ctx, missing)
		return !v, ok
	}
	// Left to right, the right side skipped when the left decides, as
	// CEL does, so only the flags actually read count as missing.
	a, aok := e.kids[0].eval(ctx, missing)
	if aok && a == (e.op == "or") {
		return a, true
	}
	b, bok := e.kids[1].eval(ctx, missing)
	if e.op == "and" {
		switch {
		case aok && !a || bok && !b:
			return false, true
		case !aok || !bok:
			return false, false
		}
		return true, true
	}
	switch {
	case aok && a || bok && b:
		return true, true
	case !aok || !bok:
		return false, false
	}
	return false, true
}

func flagContext() []engine.ContextAttribute {
	var out []engine.ContextAttribute
	for i := range flags {
		out = append(out, engine.ContextAttribute{Name: fmt.Sprintf("f%d", i), Type: "bool"})
	}
	return out
}

// genConditions gives some blocks of src a random condition, shared by
// the block's items, and returns them by rule id.
func genConditions(t *rapid.T, src *engine.Source) map[string]*bexpr {
	src.Context, src.ContextSet = flagContext(), true
	byID := map[string]*bexpr{}
	when := map[string]*engine.Condition{}
	for i := range src.Rules {
		id := src.Rules[i].ID
		if _, seen := byID[id]; !seen {
			byID[id] = nil
			if rapid.IntRange(0, 2).Draw(t, "conditioned") > 0 {
				e := genExpr(t, 3)
				byID[id], when[id] = e, &engine.Condition{Text: e.String()}
			}
		}
		src.Rules[i].When = when[id]
	}
	return byID
}

func genContext(t *rapid.T) map[string]any {
	ctx := map[string]any{}
	for i := range flags {
		switch rapid.IntRange(0, 2).Draw(t, "flag-state") {
		case 0:
		case 1:
			ctx[fmt.Sprintf("f%d", i)] = true
		default:
			ctx[fmt.Sprintf("f%d", i)] = false
		}
	}
	return ctx
}

// condReference decides by brute force (SPEC 12.5): every hit whose
// condition holds matches, and every deny hit whose condition cannot be
// evaluated; the strategy picks among them. It also gives the missing
// flags the decision must report: those of the failed conditions of the
// deciding item and of every item that would beat it had it matched.
func condReference(src *engine.Source, conds map[string]*bexpr, q *engine.Query) (hit, bool, []string) {
	all := hits(src, 0, q.Subject, q.Resource, q.Action, q.Groups)
	var matched []hit
	type failed struct {
		h       hit
		missing map[string]bool
	}
	var fails []failed
	for _, h := range all {
		e := conds[h.rule.ID]
		if e == nil {
			matched = append(matched, h)
			continue
		}
		missing := map[string]bool{}
		v, ok := e.eval(q.Context, missing)
		switch {
		case ok && v:
			matched = append(matched, h)
		case !ok:
			fails = append(fails, failed{h, missing})
			if h.rule.Effect == engine.EffectDeny {
				matched = append(matched, h)
			}
		}
	}
	best, found := pick(src.Strategy, matched)
	var missing []string
	for _, f := range fails {
		relevant := !found || f.h.i == best.i
		if !relevant {
			pair := []hit{f.h, best}
			if best.i < f.h.i {
				pair = []hit{best, f.h}
			}
			w, _ := pick(src.Strategy, pair)
			relevant = w.i == f.h.i
		}
		if relevant {
			for m := range f.missing {
				if !slices.Contains(missing, m) {
					missing = append(missing, m)
				}
			}
		}
	}
	slices.Sort(missing)
	return best, found, missing
}

// TestConditionsMatchReference holds conditioned decisions to brute force
// under every strategy: conditions are random boolean combinations of
// context flags, some of them missing (SPEC 12.5).
func TestConditionsMatchReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := genSource(t)
		conds := genConditions(t, src)
		p, errs := engine.Compile(src)
		if len(errs) > 0 {
			t.Fatalf("generated source does not compile: %v", errs)
		}
		for range 20 {
			q := engine.Query{
				Subject:  rapid.SampledFrom(append([]string{"g1", "g2", "ab"}, userPool...)).Draw(t, "req-subject"),
				Resource: rapid.SampledFrom([]string{"a", "b", "a:b", "ab:a", "r1", ""}).Draw(t, "req-resource"),
				Action:   rapid.SampledFrom([]string{"a", "b", "ab"}).Draw(t, "req-action"),
				Context:  genContext(t),
			}
			if rapid.IntRange(0, 3).Draw(t, "supply") == 0 {
				q.Groups = rapid.SliceOfN(rapid.SampledFrom(suppliedPool), 1, 3).Draw(t, "supplied")
			}
			checkAgainstReference(t, p, src, conds, &q)
		}
	})
}

func checkAgainstReference(t *rapid.T, p *engine.Policy, src *engine.Source, conds map[string]*bexpr, q *engine.Query) {
	d, err := p.Decide(q)
	if err != nil {
		t.Fatalf("Decide(%+v): %v", q, err)
	}
	want, found, missing := condReference(src, conds, q)
	wantEffect := engine.EffectNone
	if found {
		wantEffect = want.rule.Effect
	}
	if d.Effect != wantEffect || found && (d.Rule != want.rule.ID || d.Item != want.rule.Item) {
		t.Fatalf("Decide(%+v) under %v = %s %v[%d] (%s), reference %v by %+v", q, src.Strategy, d.Rule, d.Effect, d.Item, d.Reason, wantEffect, want.rule)
	}
	if !slices.Equal(d.MissingContext, missing) {
		t.Fatalf("Decide(%+v) under %v: missing %q, reference %q (%s)", q, src.Strategy, d.MissingContext, missing, d.Reason)
	}
	if len(missing) > 0 && len(d.ConditionErrors) == 0 {
		t.Fatalf("Decide(%+v): missing %q without condition errors", q, missing)
	}
	if found && conds[want.rule.ID] != nil && !strings.Contains(d.Reason, conds[want.rule.ID].String()) {
		t.Fatalf("reason %q does not name the deciding condition %s", d.Reason, conds[want.rule.ID])
	}
	e, err := p.Explain(q)
	if err != nil {
		t.Fatal(err)
	}
	if e.Decision.Rule != d.Rule || e.Decision.Item != d.Item || e.Decision.Effect != d.Effect || e.Decision.Reason != d.Reason ||
		!slices.Equal(e.Decision.MissingContext, d.MissingContext) || !slices.Equal(e.Decision.ConditionErrors, d.ConditionErrors) {
		t.Fatalf("Explain(%+v) = %+v, Decide %+v", q, e.Decision, d)
	}
}

// TestConditionedGrantsMatchReference: the grants of a conditioned dynamic
// block carry its condition (SPEC 12.1, 10.2), applied incrementally, and
// decide as brute force over the file with the grants written in.
func TestConditionedGrantsMatchReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		src := genSource(t)
		conds := genConditions(t, src)
		blocks := []string{"rules.dyn1", "rules.dyn2"}[:rapid.IntRange(1, 2).Draw(t, "dynamic-blocks")]
		end := 0
		for _, id := range blocks {
			end = rapid.IntRange(end, len(src.Rules)).Draw(t, "block-end")
			b := engine.DynamicBlock{ID: id, End: end}
			if rapid.Bool().Draw(t, "block-conditioned") {
				e := genExpr(t, 3)
				conds[id], b.When = e, &engine.Condition{Text: e.String()}
			}
			src.Dynamic = append(src.Dynamic, b)
		}
		p, errs := engine.Compile(src)
		if len(errs) > 0 {
			t.Fatalf("generated source does not compile: %v", errs)
		}
		ref := &refStore{records: map[string]store.Record{}}
		for range rapid.IntRange(1, 4).Draw(t, "batches") {
			var ws []store.Write
			for range rapid.IntRange(1, 8).Draw(t, "writes") {
				ws = append(ws, genWrite(t, blocks))
			}
			next, err := p.Apply(ref.rev+1, ref.write(ws))
			if err != nil {
				t.Fatal(err)
			}
			p = next
			merged := engine.MergeSource(src, ref.snapshot())
			for range 10 {
				q := engine.Query{
					Subject:  rapid.SampledFrom(dataSubjects).Draw(t, "q-subject"),
					Resource: rapid.SampledFrom(append(dataResources, dataResGroups...)).Draw(t, "q-resource"),
					Action:   rapid.SampledFrom(dataActions).Draw(t, "q-action"),
					Context:  genContext(t),
				}
				checkAgainstReference(t, p, merged, conds, &q)
			}
		}
	})
}
