// Package live keeps a compiled policy current with a store's runtime data
// (SPEC 10, 11): it loads the store's snapshot, then applies the
// changelog in revision order as batches commit, and publishes each new
// state with one atomic store, so decisions never wait and never see half
// a batch.
//
// One goroutine, the follower, makes every state: it applies changes, and
// it swaps in a new policy file with the data rebuilt onto it. Writes and
// waits for a revision only ask it and watch. A store that can wake its
// readers (store.Notifier) wakes the follower at once; polling is the
// safety net for a notification lost with a connection.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/store"
)

// Config configures a Follower. Store is required; zero fields are
// defaults.
type Config struct {
	Store store.Store
	// Poll is how often the follower asks the store for changes when
	// nothing woke it; 0 means 1s.
	Poll time.Duration
	// StoreTimeout bounds each read the follower makes to keep current:
	// the changes past its revision, the newest policy version and its
	// text. A read that gets no answer within it fails as one from an
	// unreachable store does, so a store that stops answering without
	// refusing (a stalled network, a frozen server) is reported too
	// (SPEC 11.4) rather than hold the follower until TCP gives up. 0
	// means DefaultStoreTimeout. Loading a snapshot is not bounded: on a
	// large store it takes longer.
	StoreTimeout time.Duration
	// Logger hears store errors and recoveries; nil discards.
	Logger *slog.Logger
	// Clock gives the times of Status; nil means time.Now.
	Clock func() time.Time
	// Policies, when set, makes the follower follow the store's current
	// policy version (SPEC 11.3): Start loads it when no policy is given,
	// and each version published or rolled back later is compiled with
	// Compile and swapped in. A version that does not compile is
	// reported (Status.PolicyErr) and the current policy keeps serving;
	// one that compiles but could not be applied because the store
	// failed is reported too, and tried again at the next poll.
	Policies store.Policies
	Compile  func(store.PolicyVersion) (*engine.Policy, error)
}

// DefaultStoreTimeout is Config.StoreTimeout's default: a page of
// changes (store.MaxLimit) reads in milliseconds, and the largest policy
// text (16 MiB) well under a second, from a store that answers; five
// seconds without an answer is an outage.
const DefaultStoreTimeout = 5 * time.Second

// Follower holds the current state and keeps it current. It is safe for
// concurrent use; Close stops it.
type Follower struct {
	cfg Config
	log *slog.Logger

	cur     atomic.Pointer[engine.Policy]
	advance atomic.Pointer[chan struct{}] // closed when cur changes
	status  atomic.Pointer[Status]

	wake     chan struct{}
	policies chan policySwap
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	// retry paces the attempts at a published version whose data could
	// not be loaded because the store failed; only the follower's
	// goroutine uses it.
	retry struct {
		seq  uint64
		next time.Time
		wait time.Duration
	}
}

// maxPolicyRetry bounds the wait between attempts at a published version
// the store failed to load data for: each attempt reads the version and
// rebuilds every record onto it.
const maxPolicyRetry = 10 * time.Second

// transient reports whether err is the store's failure (unreachable, or
// no answer in time) rather than the version's: one worth trying again.
func transient(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// Status reports how current the follower is (SPEC 11.4).
type Status struct {
	// Applied is the revision decisions see; Latest the newest the store
	// reported.
	Applied, Latest store.Revision
	// Err is the last store error, nil once the store answers again;
	// Since is when it began.
	Err   error
	Since time.Time
	// Checked is when the store last answered.
	Checked time.Time
	// PolicySeq is the store's policy version serving (0 when the policy
	// came from elsewhere); PolicyErr why the newest version is not.
	PolicySeq uint64
	PolicyErr error
	// PolicyAt is when the policy serving was applied: at Start, or at
	// the last SetPolicy or published version switched to.
	PolicyAt time.Time
}

type policySwap struct {
	p    *engine.Policy
	done chan error
}

// ErrClosed is returned by a Follower after Close.
var ErrClosed = errors.New("live: follower closed")

// Start loads the store's snapshot onto p and starts following the
// store. It returns once the state is loaded, so a server is ready when
// it returns (SPEC 11.4); an error loading it is returned.
func Start(ctx context.Context, p *engine.Policy, cfg Config) (*Follower, error) {
	if cfg.Store == nil {
		return nil, errors.New("live: no store")
	}
	if cfg.Policies != nil && cfg.Compile == nil {
		return nil, errors.New("live: following policy versions needs Compile")
	}
	var seq uint64
	if p == nil && cfg.Policies != nil {
		v, err := cfg.Policies.CurrentPolicy(ctx)
		if err != nil {
			return nil, fmt.Errorf("live: the store's policy: %w", err)
		}
		if p, err = cfg.Compile(v); err != nil {
			return nil, fmt.Errorf("live: the store's policy version %d (%s): %w", v.Seq, v.Version, err)
		}
		seq = v.Seq
	}
	if p == nil {
		return nil, engine.ErrNoPolicy
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	f := &Follower{
		cfg: cfg, log: cfg.Logger,
		wake: make(chan struct{}, 1), policies: make(chan policySwap),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan struct{})
	f.advance.Store(&ch)
	loaded, err := f.load(ctx, p)
	if err != nil {
		return nil, err
	}
	f.publish(loaded)
	now := cfg.Clock()
	f.status.Store(&Status{Applied: loaded.Revision(), Latest: loaded.Revision(), Checked: now, PolicySeq: seq, PolicyAt: now})
	go f.follow()
	return f, nil
}

// load builds p's state from the store's snapshot.
func (f *Follower) load(ctx context.Context, p *engine.Policy) (*engine.Policy, error) {
	// The snapshot's revision is known only at its end; build at
	// revision 0 and set the revision once it is.
	var b *engine.Builder
	var berr error
	// A snapshot of millions of records takes seconds, so it has no
	// deadline; but one whose records stop coming for StoreTimeout (a
	// stalled network) is given up as the store's failure, so that a
	// stall is reported rather than hidden in a load that never ends.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var progress atomic.Int64
	progress.Store(time.Now().UnixNano())
	watched := make(chan struct{})
	go func() {
		tick := time.NewTicker(max(f.cfg.StoreTimeout/8, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-watched:
				return
			case now := <-tick.C:
				if now.UnixNano()-progress.Load() > int64(f.cfg.StoreTimeout) {
					cancel(fmt.Errorf("live: %w: no record of the snapshot within %v", store.ErrUnavailable, f.cfg.StoreTimeout))
					return
				}
			}
		}
	}()
	n := 0
	rev, err := f.cfg.Store.Snapshot(ctx, func(r store.Record) error {
		if n++; n&1023 == 0 {
			progress.Store(time.Now().UnixNano())
		}
		if b == nil {
			if b, berr = p.Builder(0); berr != nil {
				return berr
			}
		}
		b.Add(store.Change{Revision: r.Added, Index: r.Index, Op: store.OpAdd, Membership: r.Membership, Grant: r.Grant})
		return nil
	})
	close(watched)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause // the watchdog's: the store stalled
		}
		return nil, fmt.Errorf("live: loading the store's data: %w", err)
	}
	if b == nil {
		return p.Apply(rev, nil)
	}
	loaded, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("live: loading the store's data: %w", err)
	}
	return loaded.Apply(rev, nil)
}

// Policy returns the current state: the policy with its data at its
// revision. It never waits.
func (f *Follower) Policy() *engine.Policy { return f.cur.Load() }

// Status reports the applied and latest revisions and the store's health.
func (f *Follower) Status() Status { return *f.status.Load() }

func (f *Follower) publish(p *engine.Policy) {
	f.cur.Store(p)
	next := make(chan struct{})
	old := f.advance.Swap(&next)
	close(*old)
}

// Wait returns a state at revision rev or later, waiting for the follower
// to apply it; the caller bounds the wait with ctx (SPEC 10.4's
// at_least_revision). It wakes the follower, so a revision committed by
// another process is fetched at once rather than at the next poll.
func (f *Follower) Wait(ctx context.Context, rev store.Revision) (*engine.Policy, error) {
	woke := false
	for {
		ch := f.advance.Load()
		p := f.cur.Load()
		if p.Revision() >= rev {
			return p, nil
		}
		if !woke {
			f.nudge()
			woke = true
		}
		select {
		case <-*ch:
		case <-ctx.Done():
			return p, ctx.Err()
		case <-f.done:
			return p, ErrClosed
		}
	}
}

func (f *Follower) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Write checks a batch against the current policy (CheckWrites), commits
// it to the store, and returns once the follower has applied it, so the
// writer reads its own write (SPEC 10.4). A batch the policy refuses
// never reaches the store.
func (f *Follower) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if err := b.Check(); err != nil {
		return 0, err
	}
	if err := f.cur.Load().CheckWrites(b.Writes); err != nil {
		return 0, err
	}
	rev, err := f.cfg.Store.Write(ctx, b)
	if err != nil {
		return 0, err
	}
	if _, err := f.Wait(ctx, rev); err != nil {
		return rev, fmt.Errorf("live: revision %d is committed but not yet applied: %w", rev, err)
	}
	return rev, nil
}

// SetPolicy swaps in a new policy with the store's data rebuilt onto it
// (a reload of the policy file, SPEC 9.2, or a published version,
// SPEC 11.3). Until it returns, decisions go on with the old policy.
func (f *Follower) SetPolicy(ctx context.Context, p *engine.Policy) error {
	if p == nil {
		return engine.ErrNoPolicy
	}
	s := policySwap{p: p, done: make(chan error, 1)}
	select {
	case f.policies <- s:
	case <-ctx.Done():
		return ctx.Err()
	case <-f.done:
		return ErrClosed
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops following. The last state stays readable.
func (f *Follower) Close() error {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
	})
	return nil
}

// follow is the follower goroutine: every new state is made here.
func (f *Follower) follow() {
	defer close(f.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-f.stop
		cancel()
	}()
	notifier, _ := f.cfg.Store.(store.Notifier)
	woken := make(chan store.Revision, 1)
	if notifier != nil {
		go f.listen(ctx, notifier, woken)
	}
	published := make(chan uint64, 1)
	if f.cfg.Policies != nil {
		go f.listenPolicies(ctx, published)
	}
	timer := time.NewTimer(f.cfg.Poll)
	defer timer.Stop()
	for {
		f.catchUp(ctx)
		select {
		case <-ctx.Done():
			return
		case s := <-f.policies:
			s.done <- f.swapPolicy(ctx, s.p)
		case <-f.wake:
		case <-woken:
		case <-published:
			f.followPolicy(ctx)
		case <-timer.C:
			f.followPolicy(ctx)
			timer.Reset(f.cfg.Poll)
		}
	}
}

// listenPolicies passes on the store's policy notifications.
func (f *Follower) listenPolicies(ctx context.Context, published chan<- uint64) {
	for ctx.Err() == nil {
		seq, err := f.cfg.Policies.WaitPolicy(ctx, f.status.Load().PolicySeq)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.cfg.Poll):
			}
			continue
		}
		select {
		case published <- seq:
		default:
		}
		// Let the follower switch before waiting past it.
		for ctx.Err() == nil && f.status.Load().PolicySeq < seq {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// followPolicy switches to the store's current policy version when it is
// newer than the one serving (SPEC 11.3).
func (f *Follower) followPolicy(ctx context.Context) {
	if f.cfg.Policies == nil {
		return
	}
	// The newest entry's seq first: every poll of every instance would
	// otherwise read the whole text (up to 16 MiB) to learn nothing moved.
	// A store error here leaves the version serving; an unreachable
	// store is reported as the data's reads report it.
	var head []store.PolicyVersion
	err := f.read(ctx, func(ctx context.Context) (err error) {
		head, err = f.cfg.Policies.PolicyHistory(ctx, 1)
		return err
	})
	if err != nil || len(head) == 0 || head[0].Seq <= f.status.Load().PolicySeq {
		f.policyReadFailed(err)
		return
	}
	if r := &f.retry; r.seq == head[0].Seq && f.cfg.Clock().Before(r.next) {
		return // the store failed this version's last attempt; wait
	}
	var v store.PolicyVersion
	err = f.read(ctx, func(ctx context.Context) (err error) {
		v, err = f.cfg.Policies.CurrentPolicy(ctx)
		return err
	})
	if err != nil || v.Seq <= f.status.Load().PolicySeq {
		f.policyReadFailed(err)
		return
	}
	p, err := f.cfg.Compile(v)
	if err != nil {
		// The version stays unapplied; the next one may load. Marking
		// it seen keeps a bad version from being compiled every poll.
		s := *f.status.Load()
		s.PolicySeq = v.Seq
		s.PolicyErr = fmt.Errorf("live: policy version %d (%s) not applied: %w", v.Seq, v.Version, err)
		f.status.Store(&s)
		f.log.Error("published policy not applied; keeping the one serving", "seq", v.Seq, "version", v.Version, "error", err)
		return
	}
	if err := f.swapPolicy(ctx, p); err != nil {
		s := *f.status.Load()
		if !transient(err) {
			// The data cannot be applied to this version (it nests too
			// deeply, say): it would fail the same way at every poll,
			// each time after reading every record, so it is marked
			// seen, as a version that does not compile is.
			s.PolicySeq = v.Seq
			s.PolicyErr = fmt.Errorf("live: policy version %d (%s) not applied: %w", v.Seq, v.Version, err)
			f.status.Store(&s)
			f.log.Error("published policy not applied: the store's data does not apply to it; keeping the one serving", "seq", v.Seq, "version", v.Version, "error", err)
			return
		}
		// The store failed while the data was rebuilt onto the version:
		// nothing is wrong with the version, so it is not marked seen,
		// and it is tried again, after a wait that doubles up to
		// maxPolicyRetry (SPEC 11.4: an instance catches up by itself
		// once the store is back).
		r := &f.retry
		if r.seq != v.Seq {
			r.seq, r.wait = v.Seq, 0
		}
		r.wait = min(max(2*r.wait, f.cfg.Poll), maxPolicyRetry)
		r.next = f.cfg.Clock().Add(r.wait)
		s.PolicyErr = fmt.Errorf("live: policy version %d (%s) not applied yet: %w", v.Seq, v.Version, err)
		f.status.Store(&s)
		f.log.Error("published policy not applied yet; keeping the one serving until the store answers", "seq", v.Seq, "version", v.Version, "error", err, "retry_in", r.wait)
		return
	}
	f.retry.seq = 0
	s := *f.status.Load()
	s.PolicySeq, s.PolicyErr = v.Seq, nil
	f.status.Store(&s)
	f.log.Info("switched to the published policy", "seq", v.Seq, "version", v.Version)
}

// listen waits on the store's notifications and passes them on; after an
// error it pauses for a poll interval, and polling covers the gap.
func (f *Follower) listen(ctx context.Context, n store.Notifier, woken chan<- store.Revision) {
	for ctx.Err() == nil {
		rev, err := n.Wait(ctx, f.cur.Load().Revision())
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.cfg.Poll):
			}
			continue
		}
		select {
		case woken <- rev:
		default:
		}
		// Let the follower apply it before waiting past it.
		ch := f.advance.Load()
		if f.cur.Load().Revision() < rev {
			select {
			case <-*ch:
			case <-ctx.Done():
				return
			case <-time.After(f.cfg.Poll):
			}
		}
	}
}

// catchUp applies every change the store has past the current revision,
// a page at a time: a page holds whole revisions, so each is one new
// state (store.Store.Changes).
func (f *Follower) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		cur := f.cur.Load()
		var changes []store.Change
		var through store.Revision
		err := f.read(ctx, func(ctx context.Context) (err error) {
			changes, through, err = f.cfg.Store.Changes(ctx, cur.Revision(), store.MaxLimit)
			return err
		})
		if err != nil {
			f.failed(err)
			return
		}
		f.healthy(through)
		if through <= cur.Revision() {
			return // caught up
		}
		next, err := cur.Apply(through, changes)
		if err != nil {
			// The data cannot be applied (it outgrew the closure bound);
			// this state stays, and the error is reported until the
			// store's data or the policy changes.
			f.failed(fmt.Errorf("live: applying revision %d: %w", through, err))
			return
		}
		f.publish(next)
		f.setApplied(through)
	}
}

// read runs one read of the store bounded by StoreTimeout; a read that
// ran out of it fails as an unreachable store's does.
func (f *Follower) read(ctx context.Context, fn func(context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, f.cfg.StoreTimeout)
	defer cancel()
	err := fn(rctx)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		err = fmt.Errorf("live: %w: no answer within %v: %w", store.ErrUnavailable, f.cfg.StoreTimeout, err)
	}
	return err
}

// policyReadFailed reports a policy read that found the store
// unreachable; other errors leave the status to the data's reads.
func (f *Follower) policyReadFailed(err error) {
	if errors.Is(err, store.ErrUnavailable) {
		f.failed(err)
	}
}

// swapPolicy rebuilds the store's data onto p and publishes it.
func (f *Follower) swapPolicy(ctx context.Context, p *engine.Policy) error {
	loaded, err := f.load(ctx, p)
	if err != nil {
		return err
	}
	f.publish(loaded)
	f.setApplied(loaded.Revision())
	st := *f.status.Load()
	st.PolicyAt = f.cfg.Clock()
	f.status.Store(&st)
	return nil
}

func (f *Follower) failed(err error) {
	s := *f.status.Load()
	if s.Err == nil {
		s.Since = f.cfg.Clock()
		f.log.Error("store unreachable; deciding on the last state applied", "applied", s.Applied, "error", err)
	}
	s.Err = err
	f.status.Store(&s)
}

func (f *Follower) healthy(latest store.Revision) {
	s := *f.status.Load()
	if s.Err != nil {
		f.log.Info("store reachable again", "down", f.cfg.Clock().Sub(s.Since), "applied", s.Applied, "latest", latest)
	}
	s.Err, s.Since = nil, time.Time{}
	s.Latest = max(s.Latest, latest)
	s.Checked = f.cfg.Clock()
	f.status.Store(&s)
}

func (f *Follower) setApplied(rev store.Revision) {
	s := *f.status.Load()
	s.Applied = rev
	s.Latest = max(s.Latest, rev)
	f.status.Store(&s)
}
