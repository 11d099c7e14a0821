package guard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
)

type failingSink struct{}

func (failingSink) Record(context.Context, *audit.Event) error { return errors.New("disk full") }

// TestGuardAudit: every guarded call produces an event with the SPEC 8.1
// fields; a failing sink fails the call closed only when audit is required.
func TestGuardAudit(t *testing.T) {
	t.Parallel()
	alice, _ := warden.NewActor("alice", warden.Allow("doc:read", "docs:*"))
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	tick := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	mem := &audit.Memory{}
	provider := guard.ActorProviderFunc(func(_ context.Context, id string) (*warden.Actor, error) {
		if id == "alice" {
			return alice, nil
		}
		return nil, nil
	})
	auth := guard.NewAuth(provider, &guard.Options{Audit: mem, Clock: tick})
	read, _ := auth.Guard("doc:read", "docs:{value}")
	ctx, _ := auth.Authorize(context.Background(), "alice")
	ctx = audit.WithFields(ctx, map[string]any{"request_id": "r-1"})

	read.Check(ctx, "1")                  // allowed
	read.Check(ctx, "x:*")                // malformed index: error
	read.Check(context.Background(), "1") // no actor: error
	write, _ := auth.Guard("doc:write", "docs:{value}")
	write.Check(ctx, "1") // denied

	events := mem.Events()
	want := []struct {
		status            audit.Status
		subject, resource string
		allowed           bool
	}{
		{audit.StatusAllowed, "alice", "docs:1", true},
		{audit.StatusError, "alice", "", false},
		{audit.StatusError, "", "", false},
		{audit.StatusDenied, "alice", "docs:1", false},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.Status != w.status || e.Subject != w.subject || e.Resource != w.resource || e.Allowed != w.allowed {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		if e.ID == "" || e.Time.Location() != time.UTC || e.Latency != time.Millisecond {
			t.Errorf("event %d: id %q, time %v, latency %v", i, e.ID, e.Time, e.Latency)
		}
		if i > 0 && e.ID <= events[i-1].ID {
			t.Errorf("event ids do not sort by time: %q after %q", e.ID, events[i-1].ID)
		}
	}
	if events[0].Fields["request_id"] != "r-1" || events[0].Rule != "actor.alice" || events[0].PolicyVersion == "" {
		t.Errorf("allowed event lacks fields, rule or version: %+v", events[0])
	}
	if events[1].Error == "" || events[3].Reason == "" {
		t.Errorf("error or reason missing: %+v", events)
	}

	denialsOnly := guard.NewAuth(provider, &guard.Options{Audit: mem, AuditDenialsOnly: true})
	g, _ := denialsOnly.Guard("doc:read", "docs:{value}")
	before := len(mem.Events())
	g.Check(ctx, "1")
	g.Check(ctx, "x:*")
	if got := len(mem.Events()) - before; got != 1 {
		t.Errorf("denials-only recorded %d events, want 1", got)
	}

	for _, required := range []bool{false, true} {
		var heard error
		a := guard.NewAuth(provider, &guard.Options{Audit: failingSink{}, AuditRequired: required, OnAuditError: func(err error) { heard = err }})
		g, _ := a.Guard("doc:read", "docs:{value}")
		d, err := g.Check(ctx, "1")
		if required && (d.Allowed || !errors.Is(err, guard.ErrAuditFailed)) {
			t.Errorf("audit required, sink failing: %+v, %v", d, err)
		}
		if !required && (!d.Allowed || err != nil || heard == nil) {
			t.Errorf("audit optional, sink failing: %+v, %v, reported %v", d, err, heard)
		}
	}
}

// TestGuardAuditRequiredAsync: with a batching sink in Wait mode, an
// audit-required guard denies while the sink is down (SPEC 8.3).
func TestGuardAuditRequiredAsync(t *testing.T) {
	t.Parallel()
	alice, _ := warden.NewActor("alice", warden.Allow("doc:read"))
	provider := guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return alice, nil })
	a := audit.NewAsync(failingSink{}, &audit.AsyncOptions{Wait: true, Backoff: time.Millisecond, CloseTimeout: time.Millisecond})
	defer a.Close()
	auth := guard.NewAuth(provider, &guard.Options{Audit: a, AuditRequired: true})
	g, _ := auth.Guard("doc:read", "")
	ctx, _ := auth.Authorize(context.Background(), "alice")
	if d, err := g.Check(ctx); d.Allowed || !errors.Is(err, guard.ErrAuditFailed) {
		t.Errorf("sink down, audit required: %+v, %v", d, err)
	}
}

// BenchmarkGuardCheckAudited is BenchmarkGuardCheck's call with every
// decision written to an in-memory store through the batching writer: what
// audit adds on the request path.
func BenchmarkGuardCheckAudited(b *testing.B) {
	alice, _ := warden.NewActor("alice", warden.Allow("doc:read", "docs:*"))
	provider := guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return alice, nil })
	for _, bc := range []struct {
		name string
		sink audit.Sink
	}{{"off", nil}, {"async", audit.NewAsync(discard{}, nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			auth := guard.NewAuth(provider, &guard.Options{Audit: bc.sink})
			g, _ := auth.Guard("doc:read", "docs:{value}")
			ctx, _ := auth.Authorize(context.Background(), "alice")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Check(ctx, "42"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Record(context.Context, *audit.Event) error      { return nil }
func (discard) WriteBatch(context.Context, []audit.Event) error { return nil }
