package live_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/live"
	"github.com/warden-authz/warden/store"
)

func policy(t testing.TB) *engine.Policy {
	t.Helper()
	p, errs := engine.Compile(&engine.Source{
		Groups:  []engine.Group{{Name: "editors", Section: "groups"}, {Name: "admin", Section: "roles", Role: true}},
		Rules:   []engine.Rule{{ID: "rules.edit", Item: 1, Effect: engine.EffectAllow, Subject: "editors", Resource: "doc:*", Action: "edit"}},
		Dynamic: []engine.DynamicBlock{{ID: "rules.shares", End: 1}},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	return p
}

func member(m, g string) store.Write {
	return store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: m, Group: g}}
}

func share(s, r string) store.Write {
	return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: engine.EffectAllow, Subject: s, Resource: r, Action: "edit"}}
}

func allowed(t testing.TB, p *engine.Policy, s, r string) bool {
	t.Helper()
	d, err := p.Decide(&engine.Query{Subject: s, Resource: r, Action: "edit"})
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

func start(t testing.TB, st store.Store) *live.Follower {
	t.Helper()
	f, err := live.Start(context.Background(), policy(t), live.Config{Store: st, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestStartLoadsTheSnapshot: data written before start is there when
// Start returns, at the store's revision.
func TestStartLoadsTheSnapshot(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	st.Write(ctx, store.Batch{Writes: []store.Write{member("alice", "editors")}})
	st.Write(ctx, store.Batch{Writes: []store.Write{share("bob", "doc:1")}})
	st.Write(ctx, store.Batch{}) // a batch that changes nothing still counts
	f := start(t, st)
	p := f.Policy()
	if p.Revision() != 3 || !allowed(t, p, "alice", "doc:9") || !allowed(t, p, "bob", "doc:1") || allowed(t, p, "bob", "doc:2") {
		t.Fatalf("revision %d; the snapshot is not what decides", p.Revision())
	}
}

// TestWriteReadsYourWrite: once Write returns, the next decision sees it
// (SPEC 10.4), with no sleep in between; a write the policy refuses never
// reaches the store.
func TestWriteReadsYourWrite(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	f := start(t, st)
	ctx := context.Background()
	for i := range 50 {
		u := fmt.Sprintf("u%d", i)
		rev, err := f.Write(ctx, store.Batch{Writes: []store.Write{member(u, "editors")}})
		if err != nil {
			t.Fatal(err)
		}
		if p := f.Policy(); p.Revision() < rev || !allowed(t, p, u, "doc:1") {
			t.Fatalf("write %d (revision %d) not read back: policy at %d", i, rev, p.Revision())
		}
	}
	before, _ := st.Revision(ctx)
	for _, w := range []store.Write{
		{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.edit", Effect: engine.EffectAllow, Subject: "x", Resource: "y", Action: "z"}},
		member("admin", "editors"),
		member("doc:*", "editors"),
	} {
		if _, err := f.Write(ctx, store.Batch{Writes: []store.Write{member("ok", "editors"), w}}); err == nil {
			t.Errorf("write %+v accepted", w)
		}
	}
	if after, _ := st.Revision(ctx); after != before {
		t.Errorf("refused writes moved the store from %d to %d", before, after)
	}
}

// TestFollowsOtherWriters: writes made straight to the store, as another
// instance makes them, are applied in order; Wait returns a state with
// the revision asked for, or gives up when the ctx ends.
func TestFollowsOtherWriters(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	f := start(t, st)
	ctx := context.Background()
	var last store.Revision
	for i := range 20 {
		rev, err := st.Write(ctx, store.Batch{Writes: []store.Write{share(fmt.Sprintf("u%d", i), "doc:1")}})
		if err != nil {
			t.Fatal(err)
		}
		last = rev
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := f.Wait(wctx, last)
	if err != nil || p.Revision() < last || !allowed(t, p, "u19", "doc:1") {
		t.Fatalf("Wait(%d): revision %d, %v", last, p.Revision(), err)
	}
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := f.Wait(short, last+5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past the latest revision: %v", err)
	}
	if s := f.Status(); s.Applied != last || s.Err != nil {
		t.Errorf("status %+v", s)
	}
}

// TestConcurrentWritersAndReaders: writers through the follower and
// straight to the store, readers deciding all along; every reader sees
// revisions only rise, and the end state is a from-scratch compile of
// the store's data. Run with -race.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	f := start(t, st)
	ctx := context.Background()
	var wg sync.WaitGroup
	var stop atomic.Bool
	for r := range 3 {
		wg.Go(func() {
			var seen uint64
			for i := 0; !stop.Load(); i++ {
				p := f.Policy()
				if p.Revision() < seen {
					t.Errorf("reader %d: revision went back from %d to %d", r, seen, p.Revision())
					return
				}
				seen = p.Revision()
				allowed(t, p, fmt.Sprintf("u%d", i%40), "doc:1")
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := range 30 {
				b := store.Batch{Writes: []store.Write{member(fmt.Sprintf("u%d", (w*30+i)%40), "editors"), share(fmt.Sprintf("v%d", i), "doc:2")}}
				if i%3 == 0 {
					b.Writes[0].Op = store.OpRemove
				}
				var err error
				if w%2 == 0 {
					_, err = f.Write(ctx, b)
				} else {
					_, err = st.Write(ctx, b)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	latest, _ := st.Revision(ctx)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := f.Wait(wctx, latest)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var records []store.Record
	st.Snapshot(ctx, func(r store.Record) error { records = append(records, r); return nil })
	src := &engine.Source{
		Groups:  []engine.Group{{Name: "editors", Section: "groups"}, {Name: "admin", Section: "roles", Role: true}},
		Rules:   []engine.Rule{{ID: "rules.edit", Item: 1, Effect: engine.EffectAllow, Subject: "editors", Resource: "doc:*", Action: "edit"}},
		Dynamic: []engine.DynamicBlock{{ID: "rules.shares", End: 1}},
	}
	want, errs := engine.Compile(engine.MergeSource(src, records))
	if errs != nil {
		t.Fatal(errs)
	}
	for i := range 40 {
		for _, r := range []string{"doc:1", "doc:2"} {
			for _, s := range []string{fmt.Sprintf("u%d", i), fmt.Sprintf("v%d", i)} {
				if allowed(t, p, s, r) != allowed(t, want, s, r) {
					t.Errorf("%s on %s: the follower and a fresh compile disagree", s, r)
				}
			}
		}
	}
}

// TestSetPolicyKeepsTheData: a new policy gets the store's data rebuilt
// onto it.
func TestSetPolicyKeepsTheData(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	f := start(t, st)
	ctx := context.Background()
	if _, err := f.Write(ctx, store.Batch{Writes: []store.Write{member("alice", "editors"), share("bob", "doc:7")}}); err != nil {
		t.Fatal(err)
	}
	np, errs := engine.Compile(&engine.Source{
		Groups:  []engine.Group{{Name: "editors", Section: "groups"}},
		Rules:   []engine.Rule{{ID: "rules.edit", Item: 1, Effect: engine.EffectDeny, Subject: "editors", Resource: "doc:*", Action: "edit"}},
		Dynamic: []engine.DynamicBlock{{ID: "rules.shares", End: 1}},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	if err := f.SetPolicy(ctx, np); err != nil {
		t.Fatal(err)
	}
	p := f.Policy()
	if p.Version() != np.Version() || allowed(t, p, "alice", "doc:1") || !allowed(t, p, "bob", "doc:7") || p.Revision() != 1 {
		t.Fatalf("after SetPolicy: version %s, revision %d", p.Version(), p.Revision())
	}
}

// flaky fails every call while down is set, as an unreachable store does.
type flaky struct {
	store.Store
	down atomic.Bool
}

var errDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

func (f *flaky) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	if f.down.Load() {
		return nil, 0, errDown
	}
	return f.Store.Changes(ctx, after, limit)
}

// TestStoreOutage: while the store is down the follower keeps the last
// state and reports the error; when it is back it catches up without a
// restart (SPEC 11.4).
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	st := &flaky{Store: mem}
	f := start(t, st)
	ctx := context.Background()
	if _, err := f.Write(ctx, store.Batch{Writes: []store.Write{member("alice", "editors")}}); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	rev, _ := mem.Write(ctx, store.Batch{Writes: []store.Write{member("bob", "editors")}})
	deadline := time.Now().Add(5 * time.Second)
	for f.Status().Err == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := f.Status(); !errors.Is(s.Err, store.ErrUnavailable) || s.Since.IsZero() {
		t.Fatalf("status during the outage: %+v", s)
	}
	if p := f.Policy(); !allowed(t, p, "alice", "doc:1") || allowed(t, p, "bob", "doc:1") {
		t.Fatal("the last state was not kept")
	}
	st.down.Store(false)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if p, err := f.Wait(wctx, rev); err != nil || !allowed(t, p, "bob", "doc:1") {
		t.Fatalf("no catch-up after the outage: %v", err)
	}
	if s := f.Status(); s.Err != nil {
		t.Errorf("status after the outage: %+v", s)
	}
}

// stalled blocks every read while stall is set, as a store behind a
// network that stopped carrying packets does: no error, no answer.
type stalled struct {
	store.Store
	stall atomic.Bool
}

func (s *stalled) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	return s.Store.Changes(ctx, after, limit)
}

// TestStoreStalls: a store that stops answering, without refusing, is
// reported unreachable once a read has waited StoreTimeout, and the
// follower catches up when it answers again (SPEC 11.4).
func TestStoreStalls(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	st := &stalled{Store: mem}
	f, err := live.Start(context.Background(), policy(t), live.Config{Store: st, Poll: 20 * time.Millisecond, StoreTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	st.stall.Store(true)
	rev, _ := mem.Write(ctx, store.Batch{Writes: []store.Write{member("bob", "editors")}})
	deadline := time.Now().Add(10 * time.Second)
	for f.Status().Err == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := f.Status(); !errors.Is(s.Err, store.ErrUnavailable) || s.Since.IsZero() {
		t.Fatalf("status while the store stalls: %+v; want store.ErrUnavailable", s)
	}
	st.stall.Store(false)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if p, err := f.Wait(wctx, rev); err != nil || !allowed(t, p, "bob", "doc:1") {
		t.Fatalf("no catch-up once the store answers: %v", err)
	}
	if s := f.Status(); s.Err != nil {
		t.Errorf("status once the store answers: %+v", s)
	}
}

func TestStartRefuses(t *testing.T) {
	t.Parallel()
	if _, err := live.Start(context.Background(), nil, live.Config{Store: store.NewMemory()}); err == nil {
		t.Error("started without a policy")
	}
	if _, err := live.Start(context.Background(), policy(t), live.Config{}); err == nil {
		t.Error("started without a store")
	}
	var closed store.Memory
	if _, err := live.Start(context.Background(), policy(t), live.Config{Store: &closed}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("started on a closed store: %v", err)
	}
}

// TestFollowsPublishedPolicies: a follower started with no policy loads
// the store's current version, switches to each one published later,
// keeps serving when one does not compile, and reports it.
func TestFollowsPublishedPolicies(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	// The "file" is one rule: its text is the action the editors may do.
	compile := func(v store.PolicyVersion) (*engine.Policy, error) {
		action := string(v.Text)
		if action == "broken" {
			return nil, errors.New("does not compile")
		}
		p, errs := engine.Compile(&engine.Source{
			Groups: []engine.Group{{Name: "editors", Section: "groups"}},
			Rules:  []engine.Rule{{ID: "rules.edit", Item: 1, Effect: engine.EffectAllow, Subject: "editors", Resource: "doc:*", Action: action}},
		})
		return p, errs.Err()
	}
	publish := func(text string) {
		if _, err := st.Publish(ctx, store.PolicyVersion{Version: "v-" + text, Name: "p.toml", Text: []byte(text)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.Start(ctx, nil, live.Config{Store: st, Policies: st, Compile: compile}); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("start on a store with no policy: %v", err)
	}
	publish("edit")
	st.Write(ctx, store.Batch{Writes: []store.Write{member("alice", "editors")}})
	f, err := live.Start(ctx, nil, live.Config{Store: st, Policies: st, Compile: compile, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !allowed(t, f.Policy(), "alice", "doc:1") || f.Status().PolicySeq != 1 {
		t.Fatal("the published policy with its data does not decide")
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %+v", what, f.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	publish("publish")
	waitFor("version 2", func() bool { return f.Status().PolicySeq == 2 })
	if allowed(t, f.Policy(), "alice", "doc:1") {
		t.Error("version 2 does not serve")
	}
	d, _ := f.Policy().Decide(&engine.Query{Subject: "alice", Resource: "doc:1", Action: "publish"})
	if !d.Allowed {
		t.Error("version 2 lost the data")
	}
	publish("broken")
	waitFor("version 3 refused", func() bool { return f.Status().PolicySeq == 3 && f.Status().PolicyErr != nil })
	d, _ = f.Policy().Decide(&engine.Query{Subject: "alice", Resource: "doc:1", Action: "publish"})
	if !d.Allowed {
		t.Error("a broken version stopped the good one serving")
	}
	if _, err := st.Rollback(ctx, "v-edit"); err != nil {
		t.Fatal(err)
	}
	waitFor("the rollback", func() bool { return f.Status().PolicySeq == 4 && f.Status().PolicyErr == nil })
	if !allowed(t, f.Policy(), "alice", "doc:1") {
		t.Error("the rollback does not serve")
	}
}

// countingPolicies counts the reads of the whole current version.
type countingPolicies struct {
	*store.Memory
	texts atomic.Int64
}

func (c *countingPolicies) CurrentPolicy(ctx context.Context) (store.PolicyVersion, error) {
	c.texts.Add(1)
	return c.Memory.CurrentPolicy(ctx)
}

// TestPollsReadNoText: while nothing is published, a poll asks for the
// newest entry's seq and never reads the version's text again.
func TestPollsReadNoText(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	if _, err := st.Publish(ctx, store.PolicyVersion{Version: "v1", Name: "p.toml", Text: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	pol := &countingPolicies{Memory: st}
	compile := func(store.PolicyVersion) (*engine.Policy, error) { return policy(t), nil }
	f, err := live.Start(ctx, nil, live.Config{Store: st, Policies: pol, Compile: compile, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := pol.texts.Load()
	time.Sleep(200 * time.Millisecond) // about 40 polls
	if n := pol.texts.Load() - start; n != 0 {
		t.Errorf("%d reads of the whole version while nothing was published", n)
	}
	if _, err := st.Publish(ctx, store.PolicyVersion{Version: "v2", Name: "p.toml", Text: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Status().PolicySeq != 2 {
		if time.Now().After(deadline) {
			t.Fatal("version 2 was not followed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// snapshotDown fails Snapshot while down is set: a store that answered
// the policy's reads and then went away before the data was rebuilt onto
// the new version.
type snapshotDown struct {
	store.Store
	down atomic.Bool
}

func (s *snapshotDown) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	if s.down.Load() {
		return 0, errDown
	}
	return s.Store.Snapshot(ctx, fn)
}

// versionCompiler compiles a published version whose text is the action
// editors may take on documents: a policy that says which version serves.
func versionCompiler(v store.PolicyVersion) (*engine.Policy, error) {
	p, errs := engine.Compile(&engine.Source{
		Groups: []engine.Group{{Name: "editors", Section: "groups"}},
		Rules:  []engine.Rule{{ID: "rules.edit", Item: 1, Effect: engine.EffectAllow, Subject: "editors", Resource: "doc:*", Action: string(v.Text)}},
	})
	return p, errs.Err()
}

// publisher publishes to mem the version versionCompiler reads as text.
func publisher(t *testing.T, mem *store.Memory) func(text string) {
	return func(text string) {
		t.Helper()
		if _, err := mem.Publish(context.Background(), store.PolicyVersion{Version: "v-" + text, Name: "p.toml", Text: []byte(text)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPublishedPolicyAfterStoreError: a published version that could
// not be applied because the store failed while its data was rebuilt is
// applied once the store is back. Nothing is wrong with the version, so
// unlike one that does not compile it is tried again (SPEC 11.3, 11.4).
func TestPublishedPolicyAfterStoreError(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	ctx := context.Background()
	compile, publish := versionCompiler, publisher(t, mem)
	publish("edit")
	if _, err := mem.Write(ctx, store.Batch{Writes: []store.Write{member("alice", "editors")}}); err != nil {
		t.Fatal(err)
	}
	st := &snapshotDown{Store: mem}
	f, err := live.Start(ctx, nil, live.Config{Store: st, Policies: mem, Compile: compile, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	may := func(action string) bool {
		d, err := f.Policy().Decide(&engine.Query{Subject: "alice", Resource: "doc:1", Action: action})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	st.down.Store(true)
	publish("publish")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %+v", what, f.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the failed attempt at version 2", func() bool { return f.Status().PolicyErr != nil })
	if !may("edit") || may("publish") {
		t.Fatal("version 1 stopped serving while version 2 could not be applied")
	}
	st.down.Store(false)
	waitFor("version 2 once the store is back", func() bool { return may("publish") })
	if s := f.Status(); s.PolicySeq != 2 || s.PolicyErr != nil {
		t.Fatalf("status with version 2 serving: %+v", s)
	}
}

// snapshotCounting fails every Snapshot with err while failing is set,
// and counts the attempts.
type snapshotCounting struct {
	store.Store
	err      error
	failing  atomic.Bool
	attempts atomic.Int64
}

func (s *snapshotCounting) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	if s.failing.Load() {
		s.attempts.Add(1)
		return 0, s.err
	}
	return s.Store.Snapshot(ctx, fn)
}

// TestPublishedPolicyRetriesPaced: a published version whose data cannot
// be loaded is not rebuilt from the whole store at every poll. When the
// version itself is at fault (the data does not apply to it) it is tried
// once and marked seen, as a version that does not compile is; when the
// store failed, it is tried again after a wait that doubles.
func TestPublishedPolicyRetriesPaced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		seen     bool
		attempts int64 // at most, in the half second watched
	}{
		{"the data does not apply", errors.New("nested too deeply"), true, 1},
		{"the store is down", errDown, false, 7}, // 20, 40, 80, 160, 320 ms: 5 or 6; 25 at every poll
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := store.NewMemory()
			ctx := context.Background()
			compile, publish := versionCompiler, publisher(t, mem)
			publish("edit")
			st := &snapshotCounting{Store: mem, err: tc.err}
			f, err := live.Start(ctx, nil, live.Config{Store: st, Policies: mem, Compile: compile, Poll: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st.failing.Store(true)
			publish("publish")
			deadline := time.Now().Add(10 * time.Second)
			for f.Status().PolicyErr == nil {
				if time.Now().After(deadline) {
					t.Fatalf("no attempt at version 2: %+v", f.Status())
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond)
			if n := st.attempts.Load(); n > tc.attempts {
				t.Errorf("%d snapshot loads for version 2 in half a second; want at most %d", n, tc.attempts)
			}
			if s := f.Status(); (s.PolicySeq == 2) != tc.seen || s.PolicyErr == nil {
				t.Errorf("status %+v; want version 2 seen: %v, with its error", s, tc.seen)
			}
		})
	}
}

// snapshotStall sends its first record, then nothing, until its context
// ends: a store behind a network that stopped carrying packets.
type snapshotStall struct{ store.Store }

func (s snapshotStall) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	if err := fn(store.Record{Added: 1, Membership: &store.Membership{Member: "alice", Group: "editors"}}); err != nil {
		return 0, err
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestSnapshotStallReported: a snapshot whose records stop coming is
// given up after StoreTimeout as the store's failure, rather than
// waited on for as long as the connection lives.
func TestSnapshotStallReported(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	if _, err := mem.Write(context.Background(), store.Batch{Writes: []store.Write{member("alice", "editors")}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := live.Start(context.Background(), policy(t), live.Config{Store: snapshotStall{mem}, StoreTimeout: 100 * time.Millisecond})
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Start on a stalled snapshot: %v; want an error wrapping store.ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start on a stalled snapshot had not returned after 10 s")
	}
}
