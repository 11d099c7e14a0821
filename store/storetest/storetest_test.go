package storetest_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/storetest"
)

var (
	_ store.Store    = (*store.Memory)(nil)
	_ store.Notifier = (*store.Memory)(nil)
	_ store.Policies = (*store.Memory)(nil)
)

// broken is store.Memory with one deliberate fault, named by its mode.
type broken struct {
	*store.Memory
	mode   string
	mu     sync.Mutex
	calls  int
	closed bool
}

func (b *broken) Write(ctx context.Context, batch store.Batch) (store.Revision, error) {
	switch b.mode {
	case "gap":
		b.mu.Lock()
		b.calls++
		skip := b.calls%3 == 0
		b.mu.Unlock()
		if skip {
			b.Memory.Write(ctx, store.Batch{})
		}
	case "partial-batch":
		if err := batch.Check(); err != nil {
			for i, w := range batch.Writes {
				if w.Check() != nil {
					b.Memory.Write(ctx, store.Batch{Writes: batch.Writes[:i]})
					break
				}
			}
			return 0, err
		}
	case "ignores-if-revision":
		batch.IfRevision = nil
	case "add-replaces":
		// An add of an existing record removes and adds it again.
		var ws []store.Write
		for _, w := range batch.Writes {
			if w.Op == store.OpAdd {
				rm := w
				rm.Op = store.OpRemove
				ws = append(ws, rm)
			}
			ws = append(ws, w)
		}
		if len(ws) <= store.MaxBatch {
			batch.Writes = ws
		}
	case "panics-when-closed":
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			panic("write after close")
		}
	}
	return b.Memory.Write(ctx, batch)
}

func (b *broken) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	if b.mode != "splits-revisions" {
		return b.Memory.Changes(ctx, after, limit)
	}
	if limit < 0 || limit > store.MaxLimit {
		return b.Memory.Changes(ctx, after, limit)
	}
	page, through, err := b.Memory.Changes(ctx, after, store.MaxLimit)
	if limit == 0 {
		limit = store.DefaultLimit
	}
	if err == nil && len(page) > limit {
		page = page[:limit]
		through = page[limit-1].Revision
	}
	return page, through, err
}

func (b *broken) List(ctx context.Context, f store.Filter) ([]store.Record, string, error) {
	page, next, err := b.Memory.List(ctx, f)
	if b.mode == "reverses-pages" {
		slices.Reverse(page)
	}
	return page, next, err
}

func (b *broken) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	rev, err := b.Memory.Snapshot(ctx, fn)
	if b.mode == "snapshot-behind" && rev > 1 {
		rev--
	}
	return rev, err
}

func (b *broken) Wait(ctx context.Context, after store.Revision) (store.Revision, error) {
	if b.mode == "wait-ignores-context" {
		ctx = context.Background()
	}
	return b.Memory.Wait(ctx, after)
}

func (b *broken) Publish(ctx context.Context, v store.PolicyVersion) (store.PolicyVersion, error) {
	switch b.mode {
	case "policy-seq-gap":
		// Every other publish takes two Seqs.
		b.mu.Lock()
		b.calls++
		skip := b.calls%2 == 0
		b.mu.Unlock()
		if skip {
			b.Memory.Publish(ctx, v)
		}
	case "mangles-text":
		// As a store keeping the text in a column of valid UTF-8 would.
		v.Text = []byte(strings.ToValidUTF8(string(v.Text), "\uFFFD"))
	}
	return b.Memory.Publish(ctx, v)
}

func (b *broken) PolicyHistory(ctx context.Context, limit int) ([]store.PolicyVersion, error) {
	h, err := b.Memory.PolicyHistory(ctx, limit)
	if b.mode == "history-oldest-first" {
		slices.Reverse(h)
	}
	return h, err
}

func (b *broken) Rollback(ctx context.Context, version string) (store.PolicyVersion, error) {
	v, err := b.Memory.Rollback(ctx, version)
	if b.mode == "rollback-forgets-origin" {
		v.RollbackOf = 0
	}
	return v, err
}

func (b *broken) WaitPolicy(ctx context.Context, after uint64) (uint64, error) {
	if b.mode == "wait-policy-ignores-context" {
		ctx = context.Background()
	}
	return b.Memory.WaitPolicy(ctx, after)
}

func (b *broken) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.Memory.Close()
}

// zeroPanics is a store whose zero value panics, as a store holding a
// pointer it never checks would.
type zeroPanics struct{ m *store.Memory }

func (z *zeroPanics) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	z.check()
	return z.m.Write(ctx, b)
}
func (z *zeroPanics) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	z.check()
	return z.m.Snapshot(ctx, fn)
}
func (z *zeroPanics) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	z.check()
	return z.m.Changes(ctx, after, limit)
}
func (z *zeroPanics) List(ctx context.Context, f store.Filter) ([]store.Record, string, error) {
	z.check()
	return z.m.List(ctx, f)
}
func (z *zeroPanics) Revision(ctx context.Context) (store.Revision, error) {
	z.check()
	return z.m.Revision(ctx)
}
func (z *zeroPanics) Close() error { z.check(); return z.m.Close() }

// check panics on a zero or nil store, as code that never checks would.
func (z *zeroPanics) check() {
	if z.m == nil {
		panic("nil store")
	}
}

// brokenModes maps each fault to a check that must catch it.
var brokenModes = map[string]string{
	"gap":                  "revisions",
	"partial-batch":        "atomicity",
	"ignores-if-revision":  "if-revision",
	"add-replaces":         "semantics",
	"splits-revisions":     "changes",
	"reverses-pages":       "list",
	"snapshot-behind":      "read-your-writes",
	"wait-ignores-context": "notifier",
	"panics-when-closed":   "closed",
	"zero-panics":          "zero-value",

	"policy-seq-gap":              "policy-publish",
	"history-oldest-first":        "policy-history",
	"rollback-forgets-origin":     "policy-rollback",
	"mangles-text":                "policy-hostile",
	"wait-policy-ignores-context": "policy-wait",
}

// TestBrokenStores runs the suite on the broken stores; it runs only in
// the child process TestRunCatchesFaults starts, since its failures are
// the point.
func TestBrokenStores(t *testing.T) {
	if os.Getenv("STORETEST_BROKEN") != "1" {
		t.Skip("run by TestRunCatchesFaults")
	}
	for _, mode := range slices.Sorted(maps.Keys(brokenModes)) {
		t.Run(mode, func(t *testing.T) {
			// Together, so the checks that wait 10 s for a call that
			// hangs wait at the same time.
			t.Parallel()
			storetest.Run(t, func(t *testing.T) store.Store {
				if mode == "zero-panics" {
					return &zeroPanics{m: store.NewMemory()}
				}
				return &broken{Memory: store.NewMemory(), mode: mode}
			})
		})
	}
}

// TestRunCatchesFaults checks the suite itself: each broken store must
// fail the check written for its fault, and the suite must never panic
// or hang on one.
func TestRunCatchesFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	// -rapid.nofailfile: the broken stores fail the property test on
	// purpose; their reproductions are not worth keeping.
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStores$", "-test.v", "-test.timeout=5m", "-rapid.nofailfile")
	cmd.Env = append(os.Environ(), "STORETEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) {
		t.Fatalf("the suite passed every broken store (%v):\n%s", err, out)
	}
	if strings.Contains(string(out), "panic:") || strings.Contains(string(out), "test timed out") {
		t.Fatalf("the suite panicked or hung:\n%s", out)
	}
	for mode, check := range brokenModes {
		if !strings.Contains(string(out), "--- FAIL: TestBrokenStores/"+mode+"/"+check+" ") {
			t.Errorf("store %q passed %q, which must catch it", mode, check)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

// TestMemory runs the suite on store.Memory, the reference store.
func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory()
		t.Cleanup(func() { m.Close() })
		return m
	})
}
