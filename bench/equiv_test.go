package bench

import (
	"testing"
)

// TestEquivalence is the precondition of every figure: on each workload's
// sample of SampleSize requests, casbin, cedar-go and OPA decide exactly
// as warden does (on the two slowest workloads, 100 requests balanced between
// allows and denies unless BENCH_EQUIV_FULL=1; see checkLimit). The sample
// must hold both allows and denies, or agreeing would say little.
//
// With -short, casbin and cedar-go are asked 1,000 requests of each sample
// (half allowed, half denied) instead of all of it: casbin's checks on
// toffi, deny-override and rbac-medium take most of the full run.
func TestEquivalence(t *testing.T) {
	t.Parallel()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, _, _ := setup(t, name, "warden")
			want := reference(t, name, SampleSize)
			if len(want) != SampleSize {
				t.Fatalf("sample has %d requests, want %d", len(want), SampleSize)
			}
			allowed := 0
			for _, ok := range want {
				if ok {
					allowed++
				}
			}
			// The sparsest samples, glob-100000 and glob-1000, allow 47 and 73.
			if allowed < 40 || SampleSize-allowed < 40 {
				t.Fatalf("warden allows %d of %d requests: the sample does not exercise both decisions", allowed, SampleSize)
			}
			for _, e := range Engines[1:] {
				t.Run(e.Name, func(t *testing.T) {
					normal := 0
					if testing.Short() {
						normal = 1000
					}
					limit := checkLimit(w, e.Name, normal, 100)
					agree(t, name, e.Name, limit)
					n := limit
					if n == 0 {
						n = SampleSize
					}
					t.Logf("%d requests agree; warden allows %d of the whole sample", n, allowed)
				})
			}
		})
	}
}
