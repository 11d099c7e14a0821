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

// ErrRevisionUnavailable: a request's AtLeastRevision was not applied
// within the wait (SPEC 10.4). It comes with a denying decision.
var ErrRevisionUnavailable = store.ErrRevisionUnavailable

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
}

// NewEngine loads the store's data onto the policy and starts following
// the store. It returns once the data is loaded.
func NewEngine(ctx context.Context, p *Policy, st store.Store, opts *EngineOptions) (*Engine, error) {
	if p == nil || p.c == nil {
		return nil, ErrNoPolicy
	}
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
	f, err := live.Start(ctx, p.c, live.Config{Store: st, Poll: e.opts.Poll})
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
