package bench

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	stringadapter "github.com/casbin/casbin/v2/persist/string-adapter"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/store"
)

// The write benchmarks add runtime data to RBAC large, one write at a
// time, as an application does when a user joins a role (casbin's
// AddGroupingPolicy) or a document is shared with a user (AddPolicy).
// warden applies each write to the compiled policy as a new revision
// (engine.Policy.Apply, which is what a store's changelog drives);
// casbin adds it to its model and role manager. Before timing, both take
// the same writes and must then agree on requests that need them.

// writeOf is the i-th write: a user joins a role, or a user is given a
// document.
func writeOf(kind string, i int) (user, target string) {
	user = "user" + strconv.Itoa(i*7919%100000)
	if kind == "membership" {
		return user, "group" + strconv.Itoa(i*104729%10000)
	}
	return user, "doc" + strconv.Itoa(i)
}

func wardenChange(kind string, rev uint64, i int) store.Change {
	u, t := writeOf(kind, i)
	c := store.Change{Revision: rev, Op: store.OpAdd}
	if kind == "membership" {
		c.Membership = &store.Membership{Member: u, Group: t}
	} else {
		c.Grant = &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: u, Resource: t, Action: "read"}
	}
	return c
}

// rbacLargeWritable is RBAC large with a dynamic block for grants, for
// warden, and the same policy as casbin's model and CSV.
func rbacLargeWritable(b *testing.B) (*engine.Policy, *casbin.Enforcer) {
	b.Helper()
	w, err := Get("rbac-large")
	if err != nil {
		b.Fatal(err)
	}
	docs, err := Translate(w)
	if err != nil {
		b.Fatal(err)
	}
	src := *w.Source
	src.Dynamic = []engine.DynamicBlock{{ID: "rules.shares", End: len(src.Rules)}}
	p, errs := engine.Compile(&src)
	if errs != nil {
		b.Fatal(errs)
	}
	m, err := model.NewModelFromString(docs.CasbinModel)
	if err != nil {
		b.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, stringadapter.NewAdapter(docs.CasbinPolicy))
	if err != nil {
		b.Fatal(err)
	}
	return p, e
}

// agreeAfterWrites gives both engines the same 200 writes of a kind and
// checks they then decide alike on requests that need them.
func agreeAfterWrites(b *testing.B, kind string) {
	p, e := rbacLargeWritable(b)
	for i := range 200 {
		var err error
		if p, err = p.Apply(uint64(i+1), []store.Change{wardenChange(kind, uint64(i+1), i)}); err != nil {
			b.Fatal(err)
		}
		u, t := writeOf(kind, i)
		if kind == "membership" {
			_, err = e.AddGroupingPolicy(u, t)
		} else {
			_, err = e.AddPolicy(u, t, "read")
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		u, t := writeOf(kind, i)
		res := t
		if kind == "membership" {
			res = "data" + strconv.Itoa(mustAtoi(t[len("group"):])/10)
		}
		for _, r := range []string{res, "data999999"} {
			d, err := p.Decide(&engine.Query{Subject: u, Resource: r, Action: "read"})
			if err != nil {
				b.Fatal(err)
			}
			c, err := e.Enforce(u, r, "read")
			if err != nil {
				b.Fatal(err)
			}
			if d.Allowed != c {
				b.Fatalf("after the writes, warden says %v and casbin %v for %s %s read", d.Allowed, c, u, r)
			}
		}
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// BenchmarkApply is one write, in process, on RBAC large (100,000 users,
// 10,000 roles, 110,000 rules), each building on every write before it.
// It reports the p50 and p99 of single writes beside the mean.
func BenchmarkApply(b *testing.B) {
	for _, kind := range []string{"membership", "grant"} {
		agreeAfterWrites(b, kind)
		b.Run("workload=rbac-large-"+kind+"/engine=warden", func(b *testing.B) {
			p, _ := rbacLargeWritable(b)
			lat := make([]time.Duration, 0, b.N)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				c := wardenChange(kind, uint64(i), i)
				t0 := time.Now()
				next, err := p.Apply(uint64(i), []store.Change{c})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				p = next
			}
			reportLatency(b, lat)
		})
		b.Run("workload=rbac-large-"+kind+"/engine=casbin", func(b *testing.B) {
			_, e := rbacLargeWritable(b)
			lat := make([]time.Duration, 0, b.N)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				u, t := writeOf(kind, i)
				t0 := time.Now()
				var err error
				if kind == "membership" {
					_, err = e.AddGroupingPolicy(u, t)
				} else {
					_, err = e.AddPolicy(u, t, "read")
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkEngineWrite is a write through warden.Engine with an in-memory
// store: checked against the policy, committed, applied and read back,
// the whole in-process path an application's write takes.
func BenchmarkEngineWrite(b *testing.B) {
	w, err := Get("rbac-large")
	if err != nil {
		b.Fatal(err)
	}
	docs, err := Translate(w)
	if err != nil {
		b.Fatal(err)
	}
	text := append(slices.Clone(docs.Warden), "\n[rules.shares]\ndynamic = true\n"...)
	p, err := warden.Parse("rbac-large.toml", text)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	eng, err := warden.NewEngine(ctx, p, store.NewMemory(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	lat := make([]time.Duration, 0, b.N)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		u, t := writeOf("grant", i)
		t0 := time.Now()
		_, err := eng.Write(ctx, store.Batch{Writes: []store.Write{{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: warden.EffectAllow, Subject: u, Resource: t, Action: "read"}}}})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
