package engine_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

var workloads = sync.OnceValue(workload.All)

func compiled(b *testing.B, w workload.Workload) *engine.Policy {
	b.Helper()
	p, errs := engine.Compile(w.Source)
	if errs != nil {
		b.Fatal(errs)
	}
	return p
}

// BenchmarkDecide repeats each workload's hot request: the path that needs
// no explanation, which must not allocate.
func BenchmarkDecide(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			p := compiled(b, w)
			r := w.Hot
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Decide(r.Subject, r.Resource, r.Action); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecideMixed cycles through 10,000 generated requests, so caches
// are cold and matches and misses mix as in real traffic.
func BenchmarkDecideMixed(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			p := compiled(b, w)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := w.Requests[i%len(w.Requests)]
				i++
				if _, err := p.Decide(r.Subject, r.Resource, r.Action); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecideParallel is BenchmarkDecideMixed on every core at once: the
// compiled policy is shared without locks.
func BenchmarkDecideParallel(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			p := compiled(b, w)
			b.ReportAllocs()
			b.ResetTimer() // RunParallel, unlike b.Loop, would count the compile
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r := w.Requests[i%len(w.Requests)]
					i++
					if _, err := p.Decide(r.Subject, r.Resource, r.Action); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkExplain is the path that renders membership chains and every
// matching rule; it allocates by design.
func BenchmarkExplain(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			p := compiled(b, w)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := w.Requests[i%len(w.Requests)]
				i++
				if _, err := p.Explain(r.Subject, r.Resource, r.Action); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompile measures compile time and reports the live heap the
// compiled policy holds (heap-MB), measured after a full GC.
func BenchmarkCompile(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			b.ReportAllocs()
			var p *engine.Policy
			for b.Loop() {
				p = compiled(b, w)
			}
			b.StopTimer()
			var before, after runtime.MemStats
			p = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			p = compiled(b, w)
			once := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(p)
			b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "heap-MB")
			b.ReportMetric(once.Seconds()*1000, "ms/compile")
		})
	}
}
