package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/warden-authz/warden/audit"
)

type failing struct{ err error }

func (f failing) Record(context.Context, *audit.Event) error { return f.err }

func TestMemory(t *testing.T) {
	t.Parallel()
	m := &audit.Memory{Limit: 3}
	fields := map[string]any{"k": "v"}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		e := &audit.Event{Subject: s, Fields: fields}
		if err := m.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		e.Subject = "changed after Record"
	}
	fields["k"] = "changed"
	got := m.Events()
	if len(got) != 3 || got[0].Subject != "c" || got[2].Subject != "e" || m.Dropped() != 2 {
		t.Fatalf("events %+v, dropped %d", got, m.Dropped())
	}
	if got[0].Fields["k"] != "v" {
		t.Error("Memory kept the caller's map, not a copy")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	m := &audit.Memory{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.Record(context.Background(), &audit.Event{Subject: "s"})
			}
		})
	}
	wg.Wait()
	if n := len(m.Events()); n != 800 || m.Dropped() != 0 {
		t.Errorf("%d events, %d dropped", n, m.Dropped())
	}
}

func TestFanout(t *testing.T) {
	t.Parallel()
	a, b := &audit.Memory{}, &audit.Memory{}
	e1, e2 := errors.New("one"), errors.New("two")
	err := audit.Fanout{a, failing{e1}, b, failing{e2}}.Record(context.Background(), &audit.Event{Subject: "x"})
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Errorf("errors not joined: %v", err)
	}
	if len(a.Events()) != 1 || len(b.Events()) != 1 {
		t.Error("a failing sink stopped the others")
	}
}

func TestWithFields(t *testing.T) {
	t.Parallel()
	ctx := audit.WithFields(context.Background(), map[string]any{"a": 1, "b": 2})
	ctx = audit.WithFields(ctx, map[string]any{"b": 3})
	f := audit.Fields(ctx)
	if f["a"] != 1 || f["b"] != 3 || len(f) != 2 {
		t.Errorf("fields %v", f)
	}
	if audit.Fields(context.Background()) != nil {
		t.Error("fields from nowhere")
	}
}

func TestNewIDSorts(t *testing.T) {
	t.Parallel()
	prev := ""
	for range 1000 {
		id, err := audit.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("%q after %q", id, prev)
		}
		prev = id
	}
}
