package warden_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
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

// TestWithDataMatchesEngine: a policy with a store's records merged in
// decides as an Engine on that store does, at the same version and
// revision, so the tools that read a whole policy agree with the service.
func TestWithDataMatchesEngine(t *testing.T) {
	t.Parallel()
	p, err := warden.Parse("sharing.toml", []byte(sharingPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st := store.NewMemory()
	eng, err := warden.NewEngine(ctx, p, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	grant := func(eff warden.Effect, s, r string) store.Write {
		return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: eff, Subject: s, Resource: r, Action: "edit"}}
	}
	member := func(op store.Op, m, g string) store.Write {
		return store.Write{Op: op, Membership: &store.Membership{Member: m, Group: g}}
	}
	for _, b := range [][]store.Write{
		{member(store.OpAdd, "alice", "editors"), member(store.OpAdd, "team:x", "editors"), member(store.OpAdd, "carol", "team:x")},
		{grant(warden.EffectAllow, "bob", "doc:1"), grant(warden.EffectDeny, "carol", "doc:2")},
		{member(store.OpRemove, "alice", "editors")},
	} {
		if _, err := eng.Write(ctx, store.Batch{Writes: b}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []store.Record
	rev, err := st.Snapshot(ctx, func(r store.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	merged, err := p.WithData(rev, recs)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Version() != p.Version() {
		t.Errorf("merged version %s; the model's is %s", merged.Version(), p.Version())
	}
	for _, s := range []string{"alice", "bob", "carol", "team:x", "dave"} {
		for _, r := range []string{"doc:1", "doc:2", "doc:3"} {
			req := warden.Request{Subject: s, Resource: r, Action: "edit", AtLeastRevision: rev}
			want, err := eng.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := merged.Decide(warden.Request{Subject: s, Resource: r, Action: "edit"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != want.Allowed || got.Rule != want.Rule || got.Effect != want.Effect || got.Revision != rev || got.PolicyVersion != want.PolicyVersion {
				t.Errorf("%s edit %s: merged %+v; engine %+v", s, r, got, want)
			}
		}
	}
	var none *warden.Policy
	if _, err := none.WithData(1, recs); !errors.Is(err, warden.ErrNoPolicy) {
		t.Errorf("nil policy: %v", err)
	}
}

// TestGuardAuditRevision: a guard whose actor comes from an Engine records
// the store revision its decision saw, so the event says which state of
// the data allowed the call; a policy file's actor has no store and
// records none.
func TestGuardAuditRevision(t *testing.T) {
	t.Parallel()
	p, err := warden.Parse("sharing.toml", []byte(sharingPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng, err := warden.NewEngine(ctx, p, store.NewMemory(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rev, err := eng.Write(ctx, store.Batch{Writes: []store.Write{
		{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: warden.EffectAllow, Subject: "bob", Resource: "doc:1", Action: "edit"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mem := &audit.Memory{}
	for _, c := range []struct {
		name string
		bob  func() (*warden.Actor, error)
		want uint64
	}{
		{"engine", func() (*warden.Actor, error) { return eng.Actor("bob") }, rev},
		{"policy file", func() (*warden.Actor, error) { return p.Actor("bob", "editors") }, 0},
	} {
		bob, err := c.bob()
		if err != nil {
			t.Fatal(err)
		}
		auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return bob, nil }),
			&guard.Options{Audit: mem})
		edit, err := auth.Guard("edit", "doc:{value}")
		if err != nil {
			t.Fatal(err)
		}
		actx, err := auth.Authorize(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if d, err := edit.Check(actx, "1"); err != nil || !d.Allowed {
			t.Fatalf("%s: %+v, %v", c.name, d, err)
		}
		events := mem.Events()
		if e := events[len(events)-1]; !e.Allowed || e.Revision != c.want || e.PolicyVersion != p.Version() {
			t.Errorf("%s: event %+v; want allowed at revision %d under %s", c.name, e, c.want, p.Version())
		}
	}
}
