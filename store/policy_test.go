package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-authz/warden/store"
)

// TestMemoryPolicies: publish, history newest first, rollback as a new
// entry, and waiting for the next version.
func TestMemoryPolicies(t *testing.T) {
	t.Parallel()
	m := store.NewMemory()
	ctx := context.Background()
	if _, err := m.CurrentPolicy(ctx); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("empty store: %v", err)
	}
	for _, bad := range []store.PolicyVersion{{}, {Version: "v"}, {Text: []byte("x")}, {Version: "v", Text: make([]byte, store.MaxPolicyBytes+1)}} {
		if _, err := m.Publish(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Publish(%q, %d bytes): %v", bad.Version, len(bad.Text), err)
		}
	}
	v1, err := m.Publish(ctx, store.PolicyVersion{Version: "sha256:1", Name: "p.toml", Text: []byte("one")})
	if err != nil || v1.Seq != 1 {
		t.Fatalf("first publish: %+v %v", v1, err)
	}
	waited := make(chan uint64, 1)
	go func() {
		seq, _ := m.WaitPolicy(ctx, 1)
		waited <- seq
	}()
	v2, _ := m.Publish(ctx, store.PolicyVersion{Version: "sha256:2", Name: "p.toml", Text: []byte("two")})
	select {
	case seq := <-waited:
		if seq != 2 {
			t.Errorf("WaitPolicy returned %d", seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitPolicy did not wake")
	}
	r, err := m.Rollback(ctx, "sha256:1")
	if err != nil || r.Seq != 3 || r.RollbackOf != 1 || r.Version != "sha256:1" {
		t.Fatalf("rollback: %+v %v", r, err)
	}
	cur, _ := m.CurrentPolicy(ctx)
	if cur.Version != "sha256:1" || string(cur.Text) != "one" {
		t.Fatalf("current after rollback: %+v", cur)
	}
	h, _ := m.PolicyHistory(ctx, 10)
	if len(h) != 3 || h[0].Seq != 3 || h[2].Seq != 1 || h[1].Version != v2.Version || h[0].Text != nil {
		t.Fatalf("history: %+v", h)
	}
	if _, err := m.Rollback(ctx, "sha256:nope"); !errors.Is(err, store.ErrNoPolicy) {
		t.Errorf("rollback to an unknown version: %v", err)
	}
	m.Close()
	if _, err := m.CurrentPolicy(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
