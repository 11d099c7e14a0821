package warden

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/live"
	"github.com/warden-authz/warden/store"
)

// Errors of runtime data.
var (
	// ErrRevisionUnavailable: a request's AtLeastRevision was not
	// applied within the wait (SPEC 10.4). It comes with a denying
	// decision.
	ErrRevisionUnavailable = store.ErrRevisionUnavailable
	// ErrConflict: a write would list a role in a group (SPEC 3.2, 10.2).
	ErrConflict = engine.ErrConflict
	// ErrNotDynamic: a grant names a rule block the policy does not
	// declare dynamic = true (SPEC 10.2).
	ErrNotDynamic = engine.ErrNotDynamic
)

// Engine decides with a policy and the runtime data of a store, kept
// current as batches commit (SPEC 10): memberships and grants written
// through Write, or by any other process sharing the store, apply to the
// compiled policy without a recompile, and every decision says the store
// revision it saw.
//
// An Engine is safe for concurrent use. Decisions read the current state
// with one atomic load and never wait, unless they ask for a revision not
// yet applied. The zero Engine has no policy: it denies with ErrNoPolicy.
type Engine struct {
	f    *live.Follower
	opts EngineOptions
}

// EngineOptions configure an Engine; nil means the defaults.
type EngineOptions struct {
	// RevisionWait bounds how long a decision waits for its
	// AtLeastRevision; 0 means 1s.
	RevisionWait time.Duration
	// Poll is how often the store is asked for changes when nothing woke
	// the engine; 0 means 1s.
	Poll time.Duration
	// FollowPolicy makes the engine serve the store's published policy
	// versions (SPEC 11.3): NewEngine may then be given no policy, and
	// starts with the current version. The store must keep policies
	// (store.Policies).
	FollowPolicy bool
}

// NewEngine loads the store's data onto the policy and starts following
// the store. It returns once the data is loaded.
func NewEngine(ctx context.Context, p *Policy, st store.Store, opts *EngineOptions) (*Engine, error) {
	if st == nil {
		return nil, errors.New("warden: NewEngine: no store")
	}
	e := &Engine{}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.RevisionWait <= 0 {
		e.opts.RevisionWait = time.Second
	}
	cfg := live.Config{Store: st, Poll: e.opts.Poll}
	var c *engine.Policy
	if p != nil {
		c = p.c
	}
	if e.opts.FollowPolicy {
		ps, ok := st.(store.Policies)
		if !ok {
			return nil, fmt.Errorf("warden: NewEngine: the store %T keeps no policy versions", st)
		}
		cfg.Policies, cfg.Compile = ps, compileVersion
	} else if c == nil {
		return nil, ErrNoPolicy
	}
	f, err := live.Start(ctx, c, cfg)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	e.f = f
	return e, nil
}

// state returns the state to decide r on: the current one, or, for
// AtLeastRevision past it, one that includes that revision.
func (e *Engine) state(ctx context.Context, atLeast uint64) (*engine.Policy, error) {
	if e == nil || e.f == nil {
		return nil, ErrNoPolicy
	}
	p := e.f.Policy()
	if p.Revision() >= atLeast {
		return p, nil
	}
	wctx, cancel := context.WithTimeout(ctx, e.opts.RevisionWait)
	defer cancel()
	p, err := e.f.Wait(wctx, atLeast)
	if err != nil {
		return p, fmt.Errorf("%w: revision %d not applied within %v (applied: %d)", ErrRevisionUnavailable, atLeast, e.opts.RevisionWait, p.Revision())
	}
	return p, nil
}

// Decide answers a request on the current state, or on one that includes
// r.AtLeastRevision. It does not allocate unless it waits.
func (e *Engine) Decide(ctx context.Context, r Request) (Decision, error) {
	p, err := e.state(ctx, r.AtLeastRevision)
	if err != nil {
		return Decision{Reason: "revision unavailable", Revision: p.Revision()}, err
	}
	q := engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action, Groups: r.Groups, Context: r.Context, Now: r.Now}
	return p.Decide(&q)
}

// Explain answers like Decide and lists every rule item and grant that
// matched, with the membership chains, data included.
func (e *Engine) Explain(ctx context.Context, r Request) (Explanation, error) {
	p, err := e.state(ctx, r.AtLeastRevision)
	if err != nil {
		return Explanation{Decision: Decision{Reason: "revision unavailable", Revision: p.Revision()}}, err
	}
	q := engine.Query{Subject: r.Subject, Resource: r.Resource, Action: r.Action, Groups: r.Groups, Context: r.Context, Now: r.Now}
	return p.Explain(&q)
}

// Write commits a batch to the store and returns its revision once this
// engine has applied it, so the next decision reads the write (SPEC
// 10.3–10.4). A batch that breaks the names' rules or the policy's
// (a grant to a block that is not dynamic, a role in a group) is refused
// whole and never reaches the store.
func (e *Engine) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if e == nil || e.f == nil {
		return 0, ErrNoPolicy
	}
	return e.f.Write(ctx, b)
}

// SetPolicy swaps in a new policy, with the store's data rebuilt onto it.
// Decisions go on with the old policy until it returns.
func (e *Engine) SetPolicy(ctx context.Context, p *Policy) error {
	if e == nil || e.f == nil {
		return ErrNoPolicy
	}
	if p == nil || p.c == nil {
		return ErrNoPolicy
	}
	return e.f.SetPolicy(ctx, p.c)
}

// Revision is the store revision decisions see now.
func (e *Engine) Revision() store.Revision {
	if e == nil || e.f == nil {
		return 0
	}
	return e.f.Policy().Revision()
}

// Actor returns an actor that decides with the engine's current state,
// data included; groups are supplied memberships, as for Policy.Actor.
func (e *Engine) Actor(id string, groups ...string) (*Actor, error) {
	if e == nil || e.f == nil {
		return nil, ErrNoPolicy
	}
	a, err := newBoundActor(id, groups)
	if err != nil {
		return nil, err
	}
	a.live = e
	return a, nil
}

// Close stops following the store; it does not close the store.
func (e *Engine) Close() error {
	if e == nil || e.f == nil {
		return nil
	}
	return e.f.Close()
}

// CheckWrites checks writes against the policy before they reach a store
// (SPEC 10.2): each grant names a block the policy declares dynamic, and
// no membership lists a role in a group. Engine.Write checks this itself;
// programs that write to a store directly call it first.
func (p *Policy) CheckWrites(writes []store.Write) error {
	if p == nil || p.c == nil {
		return ErrNoPolicy
	}
	if err := (store.Batch{Writes: writes}).Check(); err != nil {
		return err
	}
	return p.c.CheckWrites(writes)
}

// WithData returns the policy as if its file declared the records: each
// membership a member of its group, each grant an item of its dynamic
// block, in document order (records as a store's Snapshot gives them).
// Decisions carry rev. It compiles the whole policy again: it is for
// tools that read a whole policy, such as Who, Can and diff; an Engine
// applies data without recompiling.
func (p *Policy) WithData(rev store.Revision, records []store.Record) (*Policy, error) {
	if p == nil || p.c == nil || p.src == nil {
		return nil, ErrNoPolicy
	}
	src := engine.MergeSource(p.src, records)
	c, errs := engine.Compile(src)
	if len(errs) > 0 {
		return nil, &PolicyError{Diagnostics: errs}
	}
	c, err := c.Apply(rev, nil)
	if err != nil {
		return nil, err
	}
	return &Policy{c: c, src: src}, nil
}

// compileVersion compiles a policy version kept in a store.
func compileVersion(v store.PolicyVersion) (*engine.Policy, error) {
	p, err := Parse(v.Name, v.Text)
	if err != nil {
		return nil, err
	}
	return p.c, nil
}

// Publish checks that a policy file loads and stores it in st as the new
// current version, which engines following the store switch to (SPEC
// 11.3). A file that does not load is never published: the error lists
// its problems, as Parse's does.
func Publish(ctx context.Context, st store.Policies, name string, text []byte) (store.PolicyVersion, error) {
	if st == nil {
		return store.PolicyVersion{}, errors.New("warden: Publish: no store")
	}
	if len(text) > store.MaxPolicyBytes {
		// Refused before parsing: no store would keep it.
		return store.PolicyVersion{}, fmt.Errorf("warden: Publish: %s: %w: %d bytes, over the limit of %d", name, store.ErrInvalid, len(text), store.MaxPolicyBytes)
	}
	p, err := Parse(name, text)
	if err != nil {
		return store.PolicyVersion{}, err
	}
	return st.Publish(ctx, store.PolicyVersion{Version: p.Version(), Name: name, Text: text})
}

// Snapshot returns the engine's current state as a Policy: the policy
// with its data at one revision, or, when atLeast is past it, a state
// that includes atLeast, waiting for it as Decide does. Every decision on
// the snapshot sees the same revision, as a batch of checks should.
// Its Who and Can are not available (ErrNoPolicy): WithData serves tools.
func (e *Engine) Snapshot(ctx context.Context, atLeast uint64) (*Policy, error) {
	p, err := e.state(ctx, atLeast)
	if err != nil {
		return nil, err
	}
	return &Policy{c: p}, nil
}

// EngineStatus says how current an Engine is (SPEC 11.4).
type EngineStatus struct {
	// Applied is the store revision decisions see; Latest the newest the
	// store reported.
	Applied, Latest store.Revision
	// StoreErr is the last store error, nil once the store answers
	// again; Since is when it began, Checked when the store last
	// answered.
	StoreErr       error
	Since, Checked time.Time
	// PolicySeq is the store's policy version serving, when the engine
	// follows them; PolicyErr why the newest one is not.
	PolicySeq uint64
	PolicyErr error
	// PolicyVersion is the content hash of the policy serving, and
	// PolicyLoadedAt when it began to serve.
	PolicyVersion  string
	PolicyLoadedAt time.Time
	// Digest fingerprints the state decisions see: the policy version,
	// the revision and the data itself. Instances of a fleet at the same
	// revision have the same digest, or one of them is wrong.
	Digest string
}

// Status reports how current the engine is.
func (e *Engine) Status() EngineStatus {
	if e == nil || e.f == nil {
		return EngineStatus{}
	}
	s := e.f.Status()
	p := e.f.Policy()
	return EngineStatus{
		Applied: s.Applied, Latest: s.Latest, StoreErr: s.Err, Since: s.Since, Checked: s.Checked,
		PolicySeq: s.PolicySeq, PolicyErr: s.PolicyErr, PolicyVersion: p.Version(), PolicyLoadedAt: s.PolicyAt,
		Digest: fmt.Sprintf("%s/%d/%s", p.Version(), p.Revision(), p.DataDigest()),
	}
}
