package audittest_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/audittest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(*testing.T) audit.Sink { return &audit.Memory{} })
}

// batchMemory adds WriteBatch to Memory, so the batch checks run too.
type batchMemory struct{ audit.Memory }

func (m *batchMemory) WriteBatch(ctx context.Context, events []audit.Event) error {
	for i := range events {
		if err := m.Record(ctx, &events[i]); err != nil {
			return err
		}
	}
	return nil
}

func TestBatchMemory(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(*testing.T) audit.Sink { return &batchMemory{} })
}

// A sink that cannot be read back still gets the checks that need no
// reading, and no failure for the rest.
func TestWriteOnlySink(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(*testing.T) audit.Sink { return struct{ audit.Sink }{&audit.Memory{}} })
}

// broken is a sink with one deliberate fault, named by its mode.
type broken struct {
	mode   string
	mu     sync.Mutex
	events []audit.Event
	n      int
}

func (b *broken) Record(_ context.Context, e *audit.Event) error {
	c := *e
	if b.mode != "keeps-fields" {
		c.Fields = maps.Clone(e.Fields)
	}
	switch b.mode {
	case "trims-spaces":
		c.Subject, c.Reason = strings.TrimSpace(c.Subject), strings.TrimSpace(c.Reason)
	case "replaces-invalid-utf8":
		c.Reason = strings.ToValidUTF8(c.Reason, "\uFFFD")
	case "refuses-invalid-utf8-resource":
		if !utf8.ValidString(c.Resource) {
			return errors.New("resource is not valid UTF-8")
		}
	case "drops-revision":
		c.Revision = 0
	case "revision-through-float64":
		c.Revision = uint64(float64(c.Revision))
	case "revision-wraps-over-int64":
		c.Revision = uint64(int64(c.Revision) & math.MaxInt64)
	case "fields-through-float64":
		b, _ := json.Marshal(c.Fields)
		c.Fields = nil
		json.Unmarshal(b, &c.Fields)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.mode == "loses-some" && b.n%10 == 0 {
		return nil
	}
	b.events = append(b.events, c)
	return nil
}

func (b *broken) Query(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	if _, err := q.Compile(); err != nil && b.mode != "clamps-limit" {
		return nil, err
	}
	m := &audit.Memory{}
	b.mu.Lock()
	for i := range b.events {
		m.Record(ctx, &b.events[i])
	}
	b.mu.Unlock()
	switch b.mode {
	case "until-inclusive":
		if !q.Until.IsZero() {
			q.Until = q.Until.Add(1)
		}
	case "clamps-limit":
		q.Limit = min(q.Limit, audit.MaxLimit)
	case "subject-ignores-case":
		want := q.Subject
		q.Subject, q.Limit = "", audit.MaxLimit
		all, err := m.Query(ctx, q)
		return slices.DeleteFunc(all, func(e audit.Event) bool { return !strings.EqualFold(e.Subject, want) }), err
	case "orders-by-time":
		limit := q.Limit
		q.Limit = audit.MaxLimit
		all, err := m.Query(ctx, q)
		slices.SortStableFunc(all, func(x, y audit.Event) int { return x.Time.Compare(y.Time) })
		if limit == 0 {
			limit = audit.DefaultLimit
		}
		return all[:min(limit, len(all))], err
	}
	return m.Query(ctx, q)
}

// brokenModes maps each fault to a check that must catch it.
var brokenModes = map[string]string{
	"keeps-fields":                  "record-does-not-keep",
	"trims-spaces":                  "hostile/padded/record",
	"replaces-invalid-utf8":         "hostile/invalid-utf8/record",
	"refuses-invalid-utf8-resource": "hostile/invalid-utf8-resource/record",
	"fields-through-float64":        "record",
	"drops-revision":                "record",
	"revision-through-float64":      "record",
	"revision-wraps-over-int64":     "hostile/revision-over-int64/record",
	"loses-some":                    "query",
	"until-inclusive":               "query/until",
	"clamps-limit":                  "query/invalid/limit-over-max",
	"subject-ignores-case":          "query/subject-none/ALICE",
	"orders-by-time":                "query/paging/all-by-7",
}

// TestBrokenSinks runs the suite on the broken sinks; it runs only in the
// child process TestRunCatchesFaults starts, since its failures are the
// point.
func TestBrokenSinks(t *testing.T) {
	if os.Getenv("AUDITTEST_BROKEN") != "1" {
		t.Skip("run by TestRunCatchesFaults")
	}
	for _, mode := range slices.Sorted(maps.Keys(brokenModes)) {
		t.Run(mode, func(t *testing.T) {
			audittest.Run(t, func(*testing.T) audit.Sink { return &broken{mode: mode} })
		})
	}
}

// TestRunCatchesFaults checks the suite itself: each broken sink must
// fail the check written for its fault.
func TestRunCatchesFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSinks$", "-test.v")
	cmd.Env = append(os.Environ(), "AUDITTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed every broken sink:\n%s", out)
	}
	if strings.Contains(string(out), "panic:") {
		t.Fatalf("the suite panicked:\n%s", out)
	}
	for mode, check := range brokenModes {
		if !strings.Contains(string(out), "--- FAIL: TestBrokenSinks/"+mode+"/"+check+" ") {
			t.Errorf("sink %q passed %q, which must catch it", mode, check)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}
