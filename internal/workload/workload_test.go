package workload_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// TestSmallSizes: sizes below a workload's minimum are raised to it, and
// every workload so made compiles and has requests.
func TestSmallSizes(t *testing.T) {
	t.Parallel()
	for _, w := range []workload.Workload{
		workload.Glob(0), workload.Glob(-1),
		workload.RBAC("zero", 0, 0), workload.RBAC("negative", -1, -1), workload.RBAC("few roles", 25, 0),
	} {
		if _, errs := engine.Compile(w.Source); len(errs) > 0 {
			t.Errorf("%s: %v", w.Name, errs)
		}
		if len(w.Requests) == 0 {
			t.Errorf("%s: no requests", w.Name)
		}
	}
	if s := workload.TOML(nil); s != "" {
		t.Errorf("TOML(nil) = %q", s)
	}
	workload.ReportHeap[int](nil, "nothing", nil)
}
