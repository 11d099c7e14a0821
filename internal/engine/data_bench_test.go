package engine_test

import (
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
	"github.com/warden-authz/warden/store"
)

// rbacLargeDynamic is RBAC large with a dynamic block for grants.
func rbacLargeDynamic(b *testing.B) *engine.Policy {
	b.Helper()
	w := workload.RBAC("rbac-large", 100000, 10000)
	src := *w.Source
	src.Dynamic = []engine.DynamicBlock{{ID: "rules.shares", End: len(src.Rules)}}
	p, errs := engine.Compile(&src)
	if errs != nil {
		b.Fatal(errs)
	}
	return p
}

// reportLatency reports the p50 and p99 of samples, in nanoseconds.
func reportLatency(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkApply is one write applied to RBAC large in process (100,000
// users, 10,000 roles, 110,000 rules): a user joins a role, or a document
// is shared with a user. Each write is its own revision, as a store
// commits it, building on all the writes before it.
func BenchmarkApply(b *testing.B) {
	for _, kind := range []string{"membership", "grant"} {
		b.Run(kind, func(b *testing.B) {
			p := rbacLargeDynamic(b)
			var samples []time.Duration
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				c := store.Change{Revision: uint64(i), Op: store.OpAdd}
				u := "user" + strconv.Itoa(i%100000)
				if kind == "membership" {
					c.Membership = &store.Membership{Member: u, Group: "group" + strconv.Itoa(i*7%10000)}
				} else {
					c.Grant = &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: u, Resource: "doc" + strconv.Itoa(i), Action: "read"}
				}
				start := time.Now()
				next, err := p.Apply(uint64(i), []store.Change{c})
				samples = append(samples, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				p = next
			}
			reportLatency(b, samples)
		})
	}
}

// BenchmarkDecideWhileWriting decides RBAC large's mixed requests while
// another goroutine applies 1,000 writes a second and swaps the policy in,
// as a server does: readers load the current policy from an atomic
// pointer and never wait.
func BenchmarkDecideWhileWriting(b *testing.B) {
	w := workload.RBAC("rbac-large", 100000, 10000)
	var cur atomic.Pointer[engine.Policy]
	cur.Store(rbacLargeDynamic(b))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var applied atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			u := "user" + strconv.Itoa(i*13%100000)
			c := []store.Change{{Revision: uint64(i), Op: store.OpAdd, Membership: &store.Membership{Member: u, Group: "group" + strconv.Itoa(i%10000)}}}
			if i%2 == 0 {
				c[0].Membership = nil
				c[0].Grant = &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: u, Resource: "data" + strconv.Itoa(i%1000), Action: "write"}
			}
			next, err := cur.Load().Apply(uint64(i), c)
			if err != nil {
				b.Error(err)
				return
			}
			cur.Store(next)
			applied.Add(1)
		}
	})
	samples := make([]time.Duration, 0, 1<<20)
	runtime.GC()
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		r := w.Requests[i%len(w.Requests)]
		i++
		q := engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action}
		t0 := time.Now()
		if _, err := cur.Load().Decide(&q); err != nil {
			b.Fatal(err)
		}
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(t0))
		}
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	reportLatency(b, samples)
	b.ReportMetric(float64(applied.Load())/elapsed.Seconds(), "writes/s")
}

// BenchmarkLoadData applies a million memberships and a million grants to
// RBAC large in batches of 10,000, as a server starting from a store's
// snapshot does, and reports the heap the result holds.
func BenchmarkLoadData(b *testing.B) {
	const n = 1000000
	for b.Loop() {
		p := rbacLargeDynamic(b)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		bl, err := p.Builder(1)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			u := "user" + strconv.Itoa(i%100000)
			bl.Add(store.Change{Revision: 1, Index: 2 * i, Op: store.OpAdd, Membership: &store.Membership{Member: "m" + strconv.Itoa(i), Group: "group" + strconv.Itoa(i%10000)}})
			bl.Add(store.Change{Revision: 1, Index: 2*i + 1, Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: u, Resource: "doc" + strconv.Itoa(i), Action: "read"}})
		}
		if p, err = bl.Finish(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		b.ReportMetric(float64(ms.HeapAlloc-before.HeapAlloc)/(1<<20), "data-MB")
		q := engine.Query{Subject: "user77", Resource: "doc500077", Action: "read"}
		d, err := p.Decide(&q)
		if err != nil || !d.Allowed {
			b.Fatalf("a loaded grant does not decide: %+v %v", d, err)
		}
		// Decisions on the loaded state: 10,000 requests cycled, as
		// BenchmarkDecideMixed does, and 200,000 each asked once, so
		// every one starts with cold caches. Half ask for a shared
		// document, half for the data of a role a member joined.
		query := func(i int) engine.Query {
			j := (i * 7919) % n
			if i%2 == 1 {
				return engine.Query{Subject: "m" + strconv.Itoa(j), Resource: "data" + strconv.Itoa(j%10000/10), Action: "read"}
			}
			return engine.Query{Subject: "user" + strconv.Itoa(j%100000), Resource: "doc" + strconv.Itoa(j), Action: "read"}
		}
		for _, run := range []struct {
			name             string
			distinct, rounds int
		}{{"decide-mixed", 10000, 20}, {"decide-cold", 200000, 1}} {
			qs := make([]engine.Query, run.distinct)
			for i := range qs {
				qs[i] = query(i)
			}
			lat := make([]time.Duration, 0, run.distinct*run.rounds)
			for range run.rounds {
				for i := range qs {
					t0 := time.Now()
					d, err := p.Decide(&qs[i])
					lat = append(lat, time.Since(t0))
					if err != nil || !d.Allowed {
						b.Fatalf("%+v: %+v %v", qs[i], d, err)
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), run.name+"-p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), run.name+"-p99-ns")
		}
		runtime.KeepAlive(p)
	}
}

// loadedPolicy is RBAC large with a million memberships and a million
// grants, built once per process.
var loadedPolicy = sync.OnceValues(func() (*engine.Policy, error) {
	w := workload.RBAC("rbac-large", 100000, 10000)
	src := *w.Source
	src.Dynamic = []engine.DynamicBlock{{ID: "rules.shares", End: len(src.Rules)}}
	p, errs := engine.Compile(&src)
	if errs != nil {
		return nil, errs.Err()
	}
	bl, err := p.Builder(1)
	if err != nil {
		return nil, err
	}
	for i := range 1000000 {
		bl.Add(store.Change{Revision: 1, Index: 2 * i, Op: store.OpAdd, Membership: &store.Membership{Member: "m" + strconv.Itoa(i), Group: "group" + strconv.Itoa(i%10000)}})
		bl.Add(store.Change{Revision: 1, Index: 2*i + 1, Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: "user" + strconv.Itoa(i%100000), Resource: "doc" + strconv.Itoa(i), Action: "read"}})
	}
	return bl.Finish()
})

// BenchmarkDecideLoaded cycles 10,000 requests on the loaded policy, and
// the same requests on the policy without its data.
func BenchmarkDecideLoaded(b *testing.B) {
	p, err := loadedPolicy()
	if err != nil {
		b.Fatal(err)
	}
	qs := make([]engine.Query, 10000)
	for i := range qs {
		j := (i * 7919) % 1000000
		qs[i] = engine.Query{Subject: "user" + strconv.Itoa(j%100000), Resource: "doc" + strconv.Itoa(j), Action: "read"}
		if i%2 == 1 {
			qs[i] = engine.Query{Subject: "m" + strconv.Itoa(j), Resource: "data" + strconv.Itoa(j%10000/10), Action: "read"}
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Decide(&qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
