package cond_test

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkEval is a condition's evaluation alone, out of a decision:
// CEL's share of a conditioned decision. fresh takes new Vars from the
// pool for each evaluation, as a decision does; reuse evaluates with the
// same Vars, so it pays no boxing of subject, context values or now.
func BenchmarkEval(b *testing.B) {
	e := env(b, 0)
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name, expr string
		ctx        map[string]any
	}{
		{"true", "true", nil},
		{"mfa", "context.mfa", map[string]any{"mfa": true}},
		{"cidr", `context.ip.in_cidr("10.0.0.0/8")`, map[string]any{"ip": "10.1.2.3"}},
		{"hour", `now.getHours() >= 8 && now.getHours() < 18`, nil},
		{"hour-tz", `now.getHours("Europe/Paris") >= 8 && now.getHours("Europe/Paris") < 18`, nil},
		{"cidr-hour", `context.ip.in_cidr("10.0.0.0/8") && now.getHours() >= 8 && now.getHours() < 18`, map[string]any{"ip": "10.1.2.3"}},
		{"owner", `resource.split(':')[1] == subject`, nil},
	} {
		c, issues := e.Compile(bc.expr)
		if len(issues) > 0 {
			b.Fatal(issues)
		}
		for _, mode := range []string{"fresh", "reuse"} {
			b.Run(bc.name+"/"+mode, func(b *testing.B) {
				v := e.NewVars()
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					if mode == "fresh" {
						v.Release()
						v = e.NewVars()
					}
					v.Subject, v.Resource, v.Action, v.Context, v.Now = "alice", "drafts:alice:7", "edit", bc.ctx, now
					if r := c.Eval(v); r.Err != nil || !r.Value {
						b.Fatal(r)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
