package bench

import (
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/warden-authz/warden/internal/workload"
)

// loaded holds each workload's documents and each engine's loaded policy,
// so that -count runs and the several benchmarks of one workload build and
// load it once per process.
var loaded = struct {
	sync.Mutex
	workloads map[string]*Workload
	docs      map[string]*Docs
	instances map[string]Instance
	reference map[string][]bool
	checked   map[string]bool
}{
	workloads: map[string]*Workload{},
	docs:      map[string]*Docs{},
	instances: map[string]Instance{},
	reference: map[string][]bool{},
	checked:   map[string]bool{},
}

// setup returns the workload, its documents and the named engine's loaded
// instance, building and loading them on first use.
func setup(tb testing.TB, name, engine string) (*Workload, *Docs, Instance) {
	tb.Helper()
	loaded.Lock()
	defer loaded.Unlock()
	w := loaded.workloads[name]
	if w == nil {
		built, err := Get(name)
		if err != nil {
			tb.Fatal(err)
		}
		d, err := Translate(built)
		if err != nil {
			tb.Fatal(err)
		}
		w = &built
		loaded.workloads[name], loaded.docs[name] = w, d
	}
	d := loaded.docs[name]
	key := name + "/" + engine
	inst := loaded.instances[key]
	if inst == nil {
		e, ok := engineByName(engine)
		if !ok {
			tb.Fatalf("unknown engine %q", engine)
		}
		var err error
		if inst, err = e.Load(d); err != nil {
			tb.Fatalf("%s: %s: load: %v", name, engine, err)
		}
		loaded.instances[key] = inst
	}
	return w, d, inst
}

func engineByName(name string) (Engine, bool) {
	for _, e := range Engines {
		if e.Name == name {
			return e, true
		}
	}
	return Engine{}, false
}

// reference returns warden's decisions on the first n requests of the
// workload's sample.
func reference(tb testing.TB, name string, n int) []bool {
	tb.Helper()
	w, _, inst := setup(tb, name, "warden")
	loaded.Lock()
	defer loaded.Unlock()
	ref := loaded.reference[name]
	if ref == nil {
		var err error
		if ref, err = Decide(inst, w.Requests, len(w.Requests)); err != nil {
			tb.Fatalf("%s: warden: %v", name, err)
		}
		loaded.reference[name] = ref
	}
	return ref[:min(n, len(ref))]
}

// agree checks that engine decides the workload's sample as warden does,
// once per process for each (workload, engine, limit). limit 0 checks the
// whole sample; otherwise limit requests are checked, half of them ones
// warden allows and half ones it denies (fewer if the sample has fewer),
// so that a short check still exercises both decisions.
func agree(tb testing.TB, name, engine string, limit int) {
	tb.Helper()
	w, _, inst := setup(tb, name, engine)
	ref := reference(tb, name, SampleSize)
	key := name + "/" + engine + "/" + strconv.Itoa(limit)
	loaded.Lock()
	done := loaded.checked[key]
	loaded.Unlock()
	if done {
		return
	}
	reqs, want := w.Requests, ref
	if limit > 0 {
		reqs, want = balanced(w.Requests, ref, limit)
	}
	got, err := Decide(inst, reqs, len(reqs))
	if err != nil {
		tb.Fatalf("%s: %s: %v", name, engine, err)
	}
	if err := Compare(engine, reqs, got, want); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	loaded.Lock()
	loaded.checked[key] = true
	loaded.Unlock()
}

// balanced picks up to limit/2 allowed and limit/2 denied requests, in
// sample order.
func balanced(reqs []workload.Request, ref []bool, limit int) ([]workload.Request, []bool) {
	var out []workload.Request
	var want []bool
	allowed, denied := 0, 0
	for i, ok := range ref {
		if ok && allowed < limit/2 {
			allowed++
		} else if !ok && denied < limit-limit/2 {
			denied++
		} else {
			continue
		}
		out = append(out, reqs[i])
		want = append(want, ok)
	}
	return out, want
}

// checkLimit is how many requests a check asks a compared engine: normal
// on most workloads (0 for the whole sample), slow on workloads marked
// Slow, where casbin takes 90 ms a decision on rbac-large and 170 ms on
// glob-100000 and cedar-go 11 ms and 115 ms, so that the whole sample
// would take over an hour. warden, the reference, and BENCH_EQUIV_FULL=1
// always check the whole sample.
func checkLimit(w *Workload, engine string, normal, slow int) int {
	switch {
	case engine == "warden" || os.Getenv("BENCH_EQUIV_FULL") == "1":
		return 0
	case w.Slow:
		return slow
	}
	return normal
}
