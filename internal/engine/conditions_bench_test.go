package engine_test

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
)

// conditionPolicy is a small policy whose hot rule has a condition, beside
// unconditioned rules the walk also meets.
func conditionPolicy(b *testing.B, when string) *engine.Policy {
	b.Helper()
	w := &engine.Condition{Text: when}
	src := &engine.Source{
		Groups:     []engine.Group{{Name: "staff", Section: "groups", Members: []engine.Member{{Name: "alice"}, {Name: "bob"}}}},
		Context:    []engine.ContextAttribute{{Name: "mfa", Type: "bool"}, {Name: "ip", Type: "ip"}},
		ContextSet: true,
		Rules: []engine.Rule{
			{ID: "rules.read", Item: 1, Effect: engine.EffectAllow, Subject: "staff", Resource: "docs:*", Action: "read"},
			{ID: "rules.office", Item: 1, Effect: engine.EffectAllow, Subject: "staff", Resource: "payroll:*", Action: "read", When: w},
			{ID: "rules.deny", Item: 1, Effect: engine.EffectDeny, Subject: "bob", Resource: "payroll:*", Action: "write"},
		},
	}
	p, errs := engine.Compile(src)
	if errs != nil {
		b.Fatal(errs)
	}
	return p
}

// BenchmarkDecideCondition decides requests whose deciding rule has a
// condition: context.mfa, and an in_cidr plus an hour check, with the
// clock read for now as in production.
func BenchmarkDecideCondition(b *testing.B) {
	for _, bc := range []struct {
		name, when string
		ctx        map[string]any
	}{
		// none decides by the unconditioned rule of the same policy: the
		// baseline the others add their condition to.
		{"none", "context.mfa", nil},
		{"mfa", "context.mfa", map[string]any{"mfa": true}},
		{"cidr-hour", `context.ip.in_cidr("10.0.0.0/8") && now.getHours() >= 0 && now.getHours() < 24`, map[string]any{"ip": "10.1.2.3"}},
		// The same, with the address a netip.Addr and the time given, as
		// a Go caller may: no text to parse, no clock to read.
		{"cidr-hour-native", `context.ip.in_cidr("10.0.0.0/8") && now.getHours() >= 0 && now.getHours() < 24`, map[string]any{"ip": netip.MustParseAddr("10.1.2.3")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := conditionPolicy(b, bc.when)
			q := &engine.Query{Subject: "alice", Resource: "payroll:2026", Action: "read", Context: bc.ctx}
			switch bc.name {
			case "none":
				q.Resource = "docs:1"
			case "cidr-hour-native":
				q.Now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				d, err := p.Decide(q)
				if err != nil || !d.Allowed {
					b.Fatal(d, err)
				}
			}
			// The cores are shared: CPU time per decision is steadier
			// than wall time.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's CPU time so far, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCompileConditions compiles 10,000 rule blocks, each with its own
// condition.
func BenchmarkCompileConditions(b *testing.B) {
	src := &engine.Source{
		Context:    []engine.ContextAttribute{{Name: "mfa", Type: "bool"}, {Name: "ip", Type: "ip"}, {Name: "level", Type: "int"}, {Name: "team", Type: "string"}},
		ContextSet: true,
	}
	forms := []string{
		"context.mfa && context.level > %d",
		`context.ip.in_cidr("10.%d.0.0/16")`,
		"context.team == 'team-%d' || 'admin' in principals",
		"now.getHours() >= %d %% 24 && resource.split(':')[1] == subject",
	}
	for i := range 10_000 {
		w := &engine.Condition{Text: fmt.Sprintf(forms[i%len(forms)], i%256)}
		if i%len(forms) == 0 {
			w.Text = fmt.Sprintf(forms[0], i)
		}
		id := fmt.Sprintf("rules.r%d", i)
		src.Rules = append(src.Rules, engine.Rule{ID: id, Item: 1, Effect: engine.EffectAllow, Subject: fmt.Sprintf("user%d", i), Resource: "doc:*", Action: "read", When: w})
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, errs := engine.Compile(src); errs != nil {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
