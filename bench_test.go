package warden_test

import (
	"sync"
	"syscall"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/workload"
)

var benchWorkloads = sync.OnceValue(workload.All)

// BenchmarkLoad measures reading a policy file (TOML parsing and
// compilation together) and the heap the loaded policy keeps (heap-MB).
func BenchmarkLoad(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run(w.Name, func(b *testing.B) {
			text := []byte(workload.TOML(w.Source))
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := warden.Parse(w.Name+".toml", text); err != nil {
					b.Fatal(err)
				}
			}
			workload.ReportHeap(b, "load", func() *warden.Policy {
				p, _ := warden.Parse(w.Name+".toml", text)
				return p
			})
		})
	}
}

// BenchmarkDecide is the public API's hot path on each workload's hot
// request; it must not allocate.
func BenchmarkDecide(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run(w.Name, func(b *testing.B) {
			p, err := warden.Parse(w.Name+".toml", []byte(workload.TOML(w.Source)))
			if err != nil {
				b.Fatal(err)
			}
			req := warden.Request{Subject: w.Hot.Subject, Resource: w.Hot.Resource, Action: w.Hot.Action}
			b.ReportAllocs()
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			cpu := ru.Utime.Nano() + ru.Stime.Nano()
			for b.Loop() {
				if _, err := p.Decide(req); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per decision: steadier than wall time on shared cores.
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
