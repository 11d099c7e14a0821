package warden_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/store"
)

const sharingPolicy = `
[groups]
editors = []

[rules.edit]
allow = [['editors', 'doc:*', 'edit']]

[rules.shares]
dynamic = true
`

// TestEngine: data written through the Engine decides at once, a request
// can ask for a revision, and one the store has not reached is
// revision_unavailable, never a decision on an older state (SPEC 10.4).
func TestEngine(t *testing.T) {
	t.Parallel()
	p, err := warden.Parse("sharing.toml", []byte(sharingPolicy))
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	ctx := context.Background()
	eng, err := warden.NewEngine(ctx, p, st, &warden.EngineOptions{RevisionWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	req := warden.Request{Subject: "bob", Resource: "doc:1", Action: "edit"}
	if d, err := eng.Decide(ctx, req); err != nil || d.Allowed {
		t.Fatalf("before any write: %+v, %v", d, err)
	}
	rev, err := eng.Write(ctx, store.Batch{Writes: []store.Write{
		{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: warden.EffectAllow, Subject: "bob", Resource: "doc:1", Action: "edit"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req.AtLeastRevision = rev
	d, err := eng.Decide(ctx, req)
	if err != nil || !d.Allowed || d.Revision != rev || d.Rule != "rules.shares" || d.PolicyVersion != p.Version() {
		t.Fatalf("after the write: %+v, %v", d, err)
	}
	e, err := eng.Explain(ctx, req)
	if err != nil || len(e.Matches) != 1 || !e.Matches[0].Decided || e.Matches[0].Item != 0 {
		t.Fatalf("explanation of a grant: %+v, %v", e, err)
	}
	req.AtLeastRevision = rev + 10
	if d, err := eng.Decide(ctx, req); !errors.Is(err, warden.ErrRevisionUnavailable) || d.Allowed {
		t.Fatalf("a revision not reached: %+v, %v", d, err)
	}
	bob, err := eng.Actor("bob")
	if err != nil || !bob.IsAllowed("edit", "doc:1") || bob.IsAllowed("edit", "doc:2") {
		t.Fatalf("engine actor: %v", err)
	}
	if _, err := bob.Add(warden.Allow("x")); !errors.Is(err, warden.ErrReadOnly) {
		t.Errorf("an engine actor took rules: %v", err)
	}
	if _, err := eng.Write(ctx, store.Batch{Writes: []store.Write{
		{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.edit", Effect: warden.EffectAllow, Subject: "bob", Resource: "doc:2", Action: "edit"}},
	}}); err == nil {
		t.Error("a grant to a static block was written")
	}
}

func TestEngineZero(t *testing.T) {
	t.Parallel()
	var eng *warden.Engine
	ctx := context.Background()
	if d, err := eng.Decide(ctx, warden.Request{Subject: "a", Action: "b"}); !errors.Is(err, warden.ErrNoPolicy) || d.Allowed {
		t.Errorf("nil engine: %+v, %v", d, err)
	}
	var zero warden.Engine
	if _, err := zero.Write(ctx, store.Batch{}); !errors.Is(err, warden.ErrNoPolicy) {
		t.Errorf("zero engine write: %v", err)
	}
	if zero.Revision() != 0 || zero.Close() != nil {
		t.Error("zero engine")
	}
	if _, err := warden.NewEngine(ctx, nil, store.NewMemory(), nil); !errors.Is(err, warden.ErrNoPolicy) {
		t.Errorf("NewEngine without a policy: %v", err)
	}
	p, _ := warden.Parse("p.toml", []byte(sharingPolicy))
	if _, err := warden.NewEngine(ctx, p, nil, nil); err == nil {
		t.Error("NewEngine without a store")
	}
}

// TestEngineFollowsPublishedPolicies: an engine with no policy of its own
// serves the store's published version and switches when a new one is
// published; a file that does not load is never published.
func TestEngineFollowsPublishedPolicies(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	if _, err := warden.Publish(ctx, st, "bad.toml", []byte("[rules.x]\nallow = [['a::b', 'c', 'd']]\n")); err == nil {
		t.Fatal("a broken policy was published")
	}
	if _, err := warden.NewEngine(ctx, nil, st, &warden.EngineOptions{FollowPolicy: true}); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("an engine started on a store with no policy: %v", err)
	}
	v1, err := warden.Publish(ctx, st, "sharing.toml", []byte(sharingPolicy))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := warden.NewEngine(ctx, nil, st, &warden.EngineOptions{FollowPolicy: true, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	req := warden.Request{Subject: "editors", Resource: "doc:1", Action: "edit"}
	if d, _ := eng.Decide(ctx, req); !d.Allowed || d.PolicyVersion != v1.Version {
		t.Fatalf("version 1: %+v", d)
	}
	v2, err := warden.Publish(ctx, st, "sharing.toml", []byte(strings.Replace(sharingPolicy, "'edit'", "'review'", 1)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, _ := eng.Decide(ctx, req)
		if d.PolicyVersion == v2.Version {
			if d.Allowed {
				t.Fatalf("version 2 still allows edit: %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 2 not served: %+v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := warden.NewEngine(ctx, nil, plainStore{st}, &warden.EngineOptions{FollowPolicy: true}); err == nil {
		t.Error("followed policies on a store that keeps none")
	}
}

// plainStore hides a store's policy versions.
type plainStore struct{ store.Store }

// TestPublishRefusesOversizedFiles: a file over store.MaxPolicyBytes is
// refused before it is parsed, and nothing is published.
func TestPublishRefusesOversizedFiles(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	text := []byte("#" + strings.Repeat(" ", store.MaxPolicyBytes) + "\n")
	if _, err := warden.Publish(ctx, st, "big.toml", text); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "big.toml") {
		t.Fatalf("Publish of %d bytes: %v; want store.ErrInvalid naming the file", len(text), err)
	}
	if _, err := st.CurrentPolicy(ctx); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("after the refusal: %v; want nothing published", err)
	}
}
