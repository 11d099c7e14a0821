package bench

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/workload"
)

// Decide asks inst the first n requests of reqs, one at a time. A request
// the engine reports an error for is an error here, never a deny: the
// samples hold only valid requests, so an error means a broken
// translation.
func Decide(inst Instance, reqs []workload.Request, n int) ([]bool, error) {
	n = min(n, len(reqs))
	decide := inst.Decider(reqs[:n], false)
	out := make([]bool, n)
	for i := range out {
		ok, err := decide(i)
		if err != nil {
			return nil, fmt.Errorf("request %d %+v: %w", i, reqs[i], err)
		}
		out[i] = ok
	}
	return out, nil
}

// Compare reports every request on which got differs from want (the first
// ten of them by name), or nil when they agree.
func Compare(engine string, reqs []workload.Request, got, want []bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s decided %d requests, the reference %d", engine, len(got), len(want))
	}
	var diffs []string
	count := 0
	for i := range got {
		if got[i] != want[i] {
			count++
			if len(diffs) < 10 {
				diffs = append(diffs, fmt.Sprintf("  request %d %+v: %s %t, warden %t", i, reqs[i], engine, got[i], want[i]))
			}
		}
	}
	if count == 0 {
		return nil
	}
	return fmt.Errorf("%s disagrees with warden on %d of %d requests:\n%s", engine, count, len(got), strings.Join(diffs, "\n"))
}
