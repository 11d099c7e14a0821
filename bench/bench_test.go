package bench

import (
	"testing"

	"github.com/warden-authz/warden/internal/workload"
)

// Sub-benchmarks are named workload=<name>/engine=<name>, so that
// benchstat can put the engines side by side (-col /engine) and
// cmd/ratios can pair them.

// A benchmark checks casbin and cedar-go against warden before timing
// them, on benchCheck requests of the sample (benchCheckSlow on the Slow
// workloads), half allowed and half denied; TestEquivalence checks the
// whole sample. The check runs once per process, not once per -count.
const benchCheck, benchCheckSlow = 1000, 20

// eachPair runs f for every workload and engine, after checking that the
// engine agrees with warden on the workload's sample.
func eachPair(b *testing.B, f func(b *testing.B, w *Workload, e Engine, inst Instance)) {
	for _, name := range Names {
		for _, e := range Engines {
			b.Run("workload="+name+"/engine="+e.Name, func(b *testing.B) {
				w, _, inst := setup(b, name, e.Name)
				agree(b, name, e.Name, checkLimit(w, e.Name, benchCheck, benchCheckSlow))
				f(b, w, e, inst)
			})
		}
	}
}

var sink bool

// BenchmarkDecide repeats the workload's hot request, as casbin's own
// benchmarks do.
func BenchmarkDecide(b *testing.B) {
	eachPair(b, func(b *testing.B, w *Workload, _ Engine, inst Instance) {
		decide := inst.Decider([]workload.Request{w.Hot}, false)
		b.ReportAllocs()
		for b.Loop() {
			ok, err := decide(0)
			if err != nil {
				b.Fatal(err)
			}
			sink = ok
		}
	})
}

// BenchmarkDecideMixed cycles through the whole sample, hits and misses,
// so lookups miss the CPU cache as real traffic does.
func BenchmarkDecideMixed(b *testing.B) {
	eachPair(b, func(b *testing.B, w *Workload, _ Engine, inst Instance) {
		decide := inst.Decider(w.Requests, false)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ok, err := decide(i)
			if err != nil {
				b.Fatal(err)
			}
			sink = ok
			if i++; i == len(w.Requests) {
				i = 0
			}
		}
	})
}

// BenchmarkDecideParallel asks the hot request from GOMAXPROCS goroutines
// at once; casbin's through its SyncedEnforcer, as concurrent callers
// must use it.
func BenchmarkDecideParallel(b *testing.B) {
	eachPair(b, func(b *testing.B, w *Workload, _ Engine, inst Instance) {
		decide := inst.Decider([]workload.Request{w.Hot}, true)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := decide(0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLoad parses and compiles the workload in the engine's own
// language (warden's TOML, casbin's model and policy CSV, cedar's policy
// text and entities JSON) and reports the live heap the result holds
// (heap-MB) and one more load's time (ms/load).
func BenchmarkLoad(b *testing.B) {
	eachPair(b, func(b *testing.B, w *Workload, e Engine, _ Instance) {
		_, d, _ := setup(b, w.Name, e.Name)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Load(d); err != nil {
				b.Fatal(err)
			}
		}
		workload.ReportHeap(b, "load", func() Instance {
			inst, err := e.Load(d)
			if err != nil {
				b.Fatal(err)
			}
			return inst
		})
	})
}
