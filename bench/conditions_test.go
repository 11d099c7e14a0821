package bench

import (
	"sync"
	"syscall"
	"testing"
)

// cpuTime is the process's CPU time so far, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

var condSample = sync.OnceValue(func() []CondRequest { return CondSample(SampleSize) })

// TestConditionsEquivalence: on the conditioned workload's sample, casbin's
// ABAC and cedar-go's when decide exactly as warden's conditions, and the
// sample holds allows and denies of every kind of rule.
func TestConditionsEquivalence(t *testing.T) {
	t.Parallel()
	reqs := condSample()
	if testing.Short() {
		reqs = reqs[:2000]
	}
	if err := CondAgree(reqs); err != nil {
		t.Fatal(err)
	}
	got, err := condDecide(CondEngines[0], reqs)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string][2]int{}
	for i, q := range reqs {
		k := q.Action + " " + q.Resource[:5]
		c := counts[k]
		if got[i] {
			c[0]++
		} else {
			c[1]++
		}
		counts[k] = c
	}
	for _, k := range []string{"read payro", "delete payro", "edit draft"} {
		if c := counts[k]; c[0] < 20 || c[1] < 20 {
			t.Errorf("%s: %d allowed, %d denied: the sample does not exercise both", k, c[0], c[1])
		}
	}
}

// BenchmarkConditions decides the conditioned workload's sample in turn,
// on each engine, after checking the engines agree on it.
func BenchmarkConditions(b *testing.B) {
	reqs := condSample()
	agreed := sync.OnceValue(func() error { return CondAgree(reqs[:1000]) })
	for _, e := range CondEngines {
		b.Run("workload=conditions/engine="+e.Name, func(b *testing.B) {
			if err := agreed(); err != nil {
				b.Fatal(err)
			}
			decide, err := e.Decider(reqs)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				ok, err := decide(i)
				if err != nil {
					b.Fatal(err)
				}
				sink = ok
				if i++; i == len(reqs) {
					i = 0
				}
			}
			// CPU time per decision: steadier than wall time on shared cores.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
