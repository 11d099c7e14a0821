package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
)

// condPolicy compiles an allow of everything and a deny of "secret",
// each under the condition expr, with a [context] of every type.
func condPolicy(t testing.TB, expr string, limit uint64) (*engine.Policy, error) {
	t.Helper()
	w := &engine.Condition{Text: expr}
	src := &engine.Source{
		Context: []engine.ContextAttribute{
			{Name: "mfa", Type: "bool"}, {Name: "name", Type: "string"}, {Name: "n", Type: "int"},
			{Name: "amount", Type: "double"}, {Name: "at", Type: "timestamp"}, {Name: "ttl", Type: "duration"},
			{Name: "ip", Type: "ip"}, {Name: "tags", Type: "list<string>"},
		},
		ContextSet: true,
		CostLimit:  limit,
		Rules: []engine.Rule{
			{ID: "rules.allow", Item: 1, Effect: engine.EffectAllow, Subject: "*", Resource: "*", Action: "*", When: w},
			{ID: "rules.deny", Item: 1, Effect: engine.EffectDeny, Subject: "*", Resource: "secret", Action: "*", When: w},
		},
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return p, nil
}

// TestConditionsHostile: hostile conditions and contexts are refused at
// load, refused as invalid requests, or fail closed, within bounded time;
// they never allow what they should not and never panic.
func TestConditionsHostile(t *testing.T) {
	t.Parallel()
	deep := any("x")
	for range 1 << 16 {
		deep = []any{deep}
	}
	// A JSON text nested a mebibyte deep: the decoder refuses it, and no
	// context can be built from it.
	deepJSON := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
	var v any
	if err := json.Unmarshal([]byte(deepJSON), &v); err == nil {
		t.Fatal("a context a mebibyte deep decoded")
	}
	for _, tc := range []struct {
		name    string
		expr    string
		ctx     map[string]any
		load    string // a load error
		invalid string // an invalid_request error
		failed  bool   // the condition fails: the allow does not match, the deny does
	}{
		{name: "loop within the limit", expr: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, a+b+c+d > 0))))", failed: true},
		{name: "huge strings", expr: "(context.name + context.name + context.name + context.name).size() > 0", ctx: map[string]any{"name": strings.Repeat("x", 1<<20)}, failed: true},
		{name: "string functions over a mebibyte", expr: "context.name.replace('x', 'yy').contains('z') || true", ctx: map[string]any{"name": strings.Repeat("x", 1<<20)}, failed: false},
		{name: "list comprehension over many strings", expr: "context.tags.exists(t, t.startsWith('admin'))", ctx: map[string]any{"tags": make([]string, 1<<16)}, failed: true},
		{name: "a context a mebibyte deep", expr: "context.mfa", ctx: map[string]any{"tags": deep}, invalid: "element 0"},
		{name: "wrong type", expr: "context.mfa", ctx: map[string]any{"mfa": "yes"}, invalid: "want a bool"},
		{name: "undeclared", expr: "context.mfa", ctx: map[string]any{"mfaa": true}, invalid: "not declared"},
		{name: "NaN", expr: "context.amount < 100.0", ctx: map[string]any{"amount": math.NaN()}, invalid: "finite"},
		{name: "infinity", expr: "context.amount < 100.0", ctx: map[string]any{"amount": math.Inf(-1)}, invalid: "finite"},
		{name: "timestamp past 9999", expr: "context.at < now", ctx: map[string]any{"at": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, invalid: "outside"},
		{name: "timestamp text past 9999", expr: "context.at < now", ctx: map[string]any{"at": "10000-01-01T00:00:00Z"}, invalid: "RFC 3339"},
		{name: "huge int", expr: "context.n > 0", ctx: map[string]any{"n": json.Number("1" + strings.Repeat("0", 400))}, invalid: "64 bits"},
		{name: "overflow at evaluation", expr: "context.n * context.n > 0", ctx: map[string]any{"n": json.Number("9223372036854775807")}, failed: true},
		{name: "timestamp overflow at evaluation", expr: "context.at + duration('87600h') > now", ctx: map[string]any{"at": "9999-01-01T00:00:00Z"}, failed: true},
		{name: "missing attribute", expr: "context.mfa", ctx: map[string]any{}, failed: true},
		{name: "division by zero", expr: "context.n / 0 > 1", ctx: map[string]any{"n": 1}, failed: true},
		{name: "bad regexp at evaluation", expr: "context.name.matches(context.name)", ctx: map[string]any{"name": "("}, failed: true},
		{name: "not a bool", expr: "context.name", load: "must be a bool"},
		{name: "an undeclared attribute", expr: "context.nope", load: "undefined field 'nope'"},
		{name: "deeply nested expression", expr: strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300), load: "recursion"},
		{name: "expression too large", expr: strings.Repeat("true && ", 3000) + "true", load: "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := condPolicy(t, tc.expr, 0)
			if tc.load != "" {
				if err == nil || !strings.Contains(err.Error(), tc.load) {
					t.Fatalf("load error %v, want %q", err, tc.load)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range []string{"doc", "secret"} {
				start := time.Now()
				d, err := p.Decide(&engine.Query{Subject: "alice", Resource: res, Action: "read", Context: tc.ctx})
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("%s: decided in %v", res, elapsed)
				}
				if tc.invalid != "" {
					if !errors.Is(err, engine.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.invalid) || d.Allowed {
						t.Fatalf("%s: %v, %+v; want an invalid request %q", res, err, d, tc.invalid)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", res, err)
				}
				if res == "secret" && d.Allowed {
					t.Fatalf("secret allowed: %+v", d)
				}
				if failed := len(d.ConditionErrors) > 0; failed != tc.failed {
					t.Fatalf("%s: condition errors %+v, want failed %v (%s)", res, d.ConditionErrors, tc.failed, d.Reason)
				}
				if tc.failed && d.Allowed {
					t.Fatalf("%s: allowed though the condition failed: %+v", res, d)
				}
				if tc.failed && res == "secret" && (d.Rule != "rules.deny" || !strings.Contains(d.Reason, "could not be evaluated")) {
					t.Fatalf("secret: %+v, want the deny to apply because its condition failed", d)
				}
			}
		})
	}
}

// TestConditionCostLimit: the limit is the policy's, and passing it fails
// the evaluation (SPEC 12.3).
func TestConditionCostLimit(t *testing.T) {
	t.Parallel()
	expr := "context.name.contains('zzzzzzzzzz')"
	q := &engine.Query{Subject: "alice", Resource: "doc", Action: "read", Context: map[string]any{"name": strings.Repeat("x", 5000)}}
	for _, tc := range []struct {
		limit  uint64
		failed bool
	}{{100, true}, {0, false}, {1 << 20, false}} {
		p, err := condPolicy(t, expr, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.Decide(q)
		if err != nil {
			t.Fatal(err)
		}
		failed := len(d.ConditionErrors) > 0 && strings.Contains(d.ConditionErrors[0].Error, "cost limit")
		if failed != tc.failed {
			t.Errorf("limit %d: %+v, want failed %v", tc.limit, d, tc.failed)
		}
	}
}

// FuzzConditions: any expression either fails to load with an error or
// loads; any JSON context is either refused as invalid or decided; and
// decisions fail closed: what the deny of "secret" covers is never
// allowed, and an allow never comes with a condition error.
func FuzzConditions(f *testing.F) {
	for _, s := range [][2]string{
		{"context.mfa", `{"mfa": true}`},
		{`context.ip.in_cidr("10.0.0.0/8") && now.getHours() >= 9`, `{"ip": "10.1.2.3"}`},
		{"resource.split(':')[1] == subject", `{}`},
		{"context.n / context.n > 0", `{"n": 0}`},
		{"context.at < now", `{"at": "2026-01-01T00:00:00Z"}`},
		{"context.tags.exists(t, t == subject)", `{"tags": ["alice"]}`},
		{"'admin' in principals || context.amount > 1e9", `{"amount": 1e308}`},
		{"context.ttl > duration('1h')", `{"ttl": "2h"}`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, expr string, ctxJSON []byte) {
		p, err := condPolicy(t, expr, 0)
		if err != nil {
			if p != nil {
				t.Fatal("a policy and an error")
			}
			return
		}
		var ctx map[string]any
		dec := json.NewDecoder(bytes.NewReader(ctxJSON))
		dec.UseNumber()
		if dec.Decode(&ctx) != nil {
			return
		}
		now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
		for _, res := range []string{"doc", "secret"} {
			q := &engine.Query{Subject: "alice", Resource: res, Action: "read", Context: ctx, Now: now}
			d, err := p.Decide(q)
			if err != nil {
				if !errors.Is(err, engine.ErrInvalidRequest) || d.Allowed {
					t.Fatalf("%q: %v, %+v", expr, err, d)
				}
				continue
			}
			if res == "secret" && d.Allowed {
				t.Fatalf("%q: secret allowed: %+v", expr, d)
			}
			if d.Allowed && len(d.ConditionErrors) > 0 {
				t.Fatalf("%q: allowed with condition errors: %+v", expr, d)
			}
			e, err := p.Explain(q)
			if err != nil || e.Decision.Allowed != d.Allowed || e.Decision.Reason != d.Reason {
				t.Fatalf("%q: Explain %+v, %v; Decide %+v", expr, e.Decision, err, d)
			}
		}
	})
}
