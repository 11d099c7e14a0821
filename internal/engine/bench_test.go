package engine_test

import (
	"sync"
	"syscall"
	"testing"

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
			cpu := benchCPU()
			for b.Loop() {
				if _, err := p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkDecideMixed cycles through 10,000 generated requests, so caches
// are cold and matches and misses mix as in real traffic.
func BenchmarkDecideMixed(b *testing.B) {
	cycle(b, func(p *engine.Policy, r workload.Request) error {
		_, err := p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action})
		return err
	})
}

// cycle runs decide on each workload's requests in turn.
func cycle(b *testing.B, decide func(*engine.Policy, workload.Request) error) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			p := compiled(b, w)
			b.ReportAllocs()
			i := 0
			cpu := benchCPU()
			for b.Loop() {
				if err := decide(p, w.Requests[i%len(w.Requests)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu)
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
					if _, err := p.Decide(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action}); err != nil {
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
	cycle(b, func(p *engine.Policy, r workload.Request) error {
		_, err := p.Explain(&engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action})
		return err
	})
}

// BenchmarkCompile measures compile time and reports the live heap the
// compiled policy holds (heap-MB), measured after a full GC.
func BenchmarkCompile(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				compiled(b, w)
			}
			workload.ReportHeap(b, "compile", func() *engine.Policy { return compiled(b, w) })
		})
	}
}

// benchCPU is the process's CPU time so far; reportCPU reports the CPU
// time per operation since then. The cores are shared: CPU time per
// operation is steadier than wall time when other work runs.
func benchCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func reportCPU(b *testing.B, since int64) {
	b.ReportMetric(float64(benchCPU()-since)/float64(b.N), "cpu-ns/op")
}
