package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// AsyncOptions configure an Async. A nil *AsyncOptions means the defaults.
type AsyncOptions struct {
	// Queue is how many events may wait to be written; 0 means 10,000.
	// When it is full, Record blocks (backpressure) or, with Drop, drops
	// the event.
	Queue int
	// QueueBytes bounds the memory the events held by the Async take, as
	// EventSize counts it: queued, lingering and being written alike, so
	// an event's bytes are given back only once its write has ended. 0
	// means DefaultQueueBytes. A full byte budget acts as a full Queue
	// does. An event larger than the whole budget is admitted alone, once
	// everything before it is written, so the bound is QueueBytes or one
	// event, whichever is larger.
	QueueBytes int64
	// Batch is the most events written at once; 0 means 1,000.
	Batch int
	// Drop makes a full queue drop events instead of blocking the caller.
	// Dropped events are counted (Dropped), reported (OnError) and Record
	// returns ErrDropped; never choose it where the log must be complete.
	Drop bool
	// Wait makes Record return only once its event is written, or the
	// write failed: the mode for an audit-required Auth (SPEC 8.3). Events
	// of concurrent callers share batches (group commit): the writer takes
	// everything queued, up to Batch, into one write. Submit gives the
	// same guarantee per event, whatever Wait says.
	Wait bool
	// OnError hears every failed write and every drop; nil ignores them
	// (they are still counted). Failed writes are reported from the writer
	// goroutine, drops from the goroutine whose Record dropped: with Drop
	// it runs on many goroutines at once and must be safe for concurrent
	// use. It must not call the Async's Flush or Close, which wait for the
	// writer it may be running on.
	OnError func(error)
	// Backoff is the first wait before retrying a failed write; it doubles
	// up to a minute. 0 means 100ms.
	Backoff time.Duration
	// Linger is how long the writer may wait for a batch to fill before
	// writing it; 0 writes whatever is queued at once. Each write costs a
	// commit and an fsync whatever its size, so under steady load a few
	// milliseconds of linger turn many small writes into a few large ones.
	// It delays when events become durable, never the caller: Record
	// returns at once, and a waiting Flush or Wait-mode event ends the
	// linger early. Like a batch being written, a lingering batch holds up
	// to Batch events besides the Queue, so memory stays bounded by
	// Queue + Batch events.
	Linger time.Duration
	// CloseTimeout bounds how long Close keeps retrying a failing sink;
	// 0 means 10s. Events still unwritten then are reported by Close's
	// error, never dropped silently.
	CloseTimeout time.Duration
}

// DefaultQueueBytes is AsyncOptions.QueueBytes's default: 64 MiB.
const DefaultQueueBytes = 64 << 20

// Errors of Record.
var (
	// ErrNotStarted: the Async is a zero value, not made by NewAsync.
	ErrNotStarted = errors.New("audit: Async not started (make it with NewAsync)")
	// ErrClosed: Record after Close.
	ErrClosed = errors.New("audit: sink closed")
	// ErrDropped: the queue was full and the Async drops (Drop). The
	// event is not recorded; a guard that requires audit fails closed.
	ErrDropped = errors.New("audit: queue full, event dropped")
)

// Async writes events to a sink in batches, off the caller's path. Record
// queues a copy of the event and returns; one goroutine writes batches,
// retrying a failing sink with backoff, so events wait rather than vanish
// while the sink is down, up to the queue's bound.
//
// An Async is safe for concurrent use. Close flushes it. The zero Async is
// not started: Record, Submit and Flush fail with ErrNotStarted, Close
// returns nil, and the counters are zero.
type Async struct {
	sink BatchSink
	opts AsyncOptions

	// bytes is the byte budget (QueueBytes), taken by Record before an
	// event is queued and given back once its write has ended.
	bytes *semaphore.Weighted
	// inflight and inflightBytes count the events taken in and not yet
	// written (or given up): what a crash would lose.
	inflight, inflightBytes atomic.Int64

	queue chan item
	// mu guards closed; Record holds it shared while queueing, so Close,
	// which holds it exclusively, never closes the queue under a sender.
	mu     sync.RWMutex
	closed bool
	// closing is closed, readable without the lock: the writer must never
	// wait for mu, since Close may hold it waiting for senders the writer
	// is about to unblock.
	closing atomic.Bool
	done    chan struct{}

	dropped atomic.Int64
	failed  atomic.Int64
	refused atomic.Int64
	lost    atomic.Int64

	// need is how many more events the lingering writer waits for, and 0
	// while it is not lingering. Record pokes it only when the queue holds
	// that many, or someone waits on the event, so a stream of events
	// does not wake the writer once per event.
	need atomic.Int64
	poke chan struct{} // capacity 1; a stale poke costs one extra look
}

type item struct {
	e     Event
	size  int64         // the bytes taken from the budget
	done  chan error    // Wait mode or Submit: the write's result
	flush chan struct{} // a Flush marker, not an event
}

// nilSink stands for the nil Sink NewAsync was given: it refuses every
// event, so they are reported, never silently lost, and waiting callers
// fail.
type nilSink struct{}

func (nilSink) Record(context.Context, *Event) error {
	return fmt.Errorf("%w: the Async has a nil sink", ErrRefused)
}

// batchOf adapts a plain Sink to batches by recording one event at a time.
type batchOf struct{ Sink }

func (b batchOf) WriteBatch(ctx context.Context, events []Event) error {
	for i := range events {
		if err := b.Record(ctx, &events[i]); err != nil {
			return err
		}
	}
	return nil
}

// NewAsync starts batching events into sink.
func NewAsync(sink Sink, opts *AsyncOptions) *Async {
	a := &Async{done: make(chan struct{}), poke: make(chan struct{}, 1)}
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.Queue <= 0 {
		a.opts.Queue = 10000
	}
	if a.opts.Batch <= 0 {
		a.opts.Batch = 1000
	}
	if a.opts.Backoff <= 0 {
		a.opts.Backoff = 100 * time.Millisecond
	}
	if a.opts.CloseTimeout <= 0 {
		a.opts.CloseTimeout = 10 * time.Second
	}
	if a.opts.QueueBytes <= 0 {
		a.opts.QueueBytes = DefaultQueueBytes
	}
	a.bytes = semaphore.NewWeighted(a.opts.QueueBytes)
	if bs, ok := sink.(BatchSink); ok {
		a.sink = bs
	} else if sink == nil {
		a.sink = batchOf{nilSink{}}
	} else {
		a.sink = batchOf{sink}
	}
	a.queue = make(chan item, a.opts.Queue)
	go a.run()
	return a
}

// Record queues a copy of e. It blocks while the queue is full, unless
// the Async drops, and until the event is written in Wait mode; ctx bounds
// both waits.
func (a *Async) Record(ctx context.Context, e *Event) error {
	if !a.opts.Wait {
		_, err := a.submit(ctx, e, false)
		return err
	}
	r, err := a.submit(ctx, e, true)
	if err != nil {
		return err
	}
	return r.Wait(ctx)
}

// Submit queues a copy of e, like Record, and returns a Receipt whose Wait
// says when the event is durable in the sink, or why it is not. Callers
// that decide many events at once (a batch request) submit them all and
// then wait on each receipt, so their events share the writer's batches:
// one transaction, one fsync.
func (a *Async) Submit(ctx context.Context, e *Event) (Receipt, error) {
	return a.submit(ctx, e, true)
}

func (a *Async) submit(ctx context.Context, e *Event, wait bool) (Receipt, error) {
	if a.queue == nil {
		return Receipt{}, ErrNotStarted
	}
	if e == nil {
		return Receipt{}, fmt.Errorf("%w: nil event", ErrRefused)
	}
	it := item{e: copyEvent(e)}
	it.size = min(EventSize(&it.e), a.opts.QueueBytes)
	if wait {
		it.done = make(chan error, 1)
	}
	if err := a.enqueue(ctx, it); err != nil {
		return Receipt{}, err
	}
	return Receipt{done: it.done}, nil
}

// Receipt is the completion of one submitted event. The zero Receipt
// stands for no event: its Wait returns an error.
type Receipt struct{ done chan error }

// Wait returns nil once the event is stored in the sink (for a durable
// sink: committed), the sink's error if its write failed, or ctx's error
// if ctx ends first; the event may still be written later then. Call it
// at most once.
func (r Receipt) Wait(ctx context.Context) error {
	if r.done == nil {
		return errors.New("audit: no event to wait for")
	}
	// Look first without ctx: ctx.Done allocates a request context's
	// channel, which an event already written need not pay for.
	select {
	case err := <-r.done:
		return err
	default:
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for the event to be written: %w", ctx.Err())
	}
}

func (a *Async) enqueue(ctx context.Context, it item) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return ErrClosed
	}
	if it.flush != nil {
		return a.send(ctx, it)
	}
	if a.opts.Drop {
		if !a.bytes.TryAcquire(it.size) {
			return a.drop()
		}
		select {
		case a.queue <- it:
			a.taken(it)
			return nil
		default:
			a.bytes.Release(it.size)
			return a.drop()
		}
	}
	if !a.bytes.TryAcquire(it.size) {
		if err := a.bytes.Acquire(ctx, it.size); err != nil {
			return fmt.Errorf("audit: queue full (bytes): %w", err)
		}
	}
	if err := a.send(ctx, it); err != nil {
		a.bytes.Release(it.size)
		return err
	}
	return nil
}

func (a *Async) drop() error {
	n := a.dropped.Add(1)
	a.report(fmt.Errorf("%w (%d dropped so far)", ErrDropped, n))
	return ErrDropped
}

// send puts it on the queue, waiting while the queue is full.
func (a *Async) send(ctx context.Context, it item) error {
	// Try without ctx first: ctx.Done makes a request context allocate
	// its channel, a cost every event would pay for a full queue's sake.
	select {
	case a.queue <- it:
		a.taken(it)
		return nil
	default:
	}
	select {
	case a.queue <- it:
		a.taken(it)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: queue full: %w", ctx.Err())
	}
}

// taken counts a queued event in flight and wakes the writer if needed.
func (a *Async) taken(it item) {
	if it.flush == nil {
		a.inflight.Add(1)
		a.inflightBytes.Add(it.size)
	}
	a.wake(it)
}

// wake ends the writer's linger once the queue holds what it waits for,
// or is full (a Queue smaller than Batch never holds a whole batch, and
// senders would wait out the linger), or at once for an item someone
// waits on. A wake-up lost to a race with the writer only lets the linger
// run to its end.
func (a *Async) wake(it item) {
	n := a.need.Load()
	if n == 0 || (it.done == nil && it.flush == nil && int64(len(a.queue)) < min(n, int64(cap(a.queue)))) {
		return
	}
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// Flush waits until every event queued before it is written.
func (a *Async) Flush(ctx context.Context) error {
	if a.queue == nil {
		return ErrNotStarted
	}
	marker := item{flush: make(chan struct{})}
	if err := a.enqueue(ctx, marker); err != nil {
		return err
	}
	select {
	case <-marker.flush:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes every queued event and stops. If the sink keeps failing
// for CloseTimeout, Close gives up and says how many events were not
// written.
func (a *Async) Close() error {
	if a.queue == nil {
		return nil // never started: nothing to write
	}
	a.closing.Store(true)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.queue)
	a.mu.Unlock()
	select { // end a linger at once: everything queued is to be written
	case a.poke <- struct{}{}:
	default:
	}
	<-a.done
	if n := a.lost.Load(); n > 0 {
		return fmt.Errorf("audit: %d events could not be written before closing", n)
	}
	return nil
}

// Dropped is how many events a full queue dropped (only with Drop).
func (a *Async) Dropped() int64 { return a.dropped.Load() }

// Refused is how many events the sink refused as unstorable (ErrRefused);
// they were reported and dropped, the rest of their batch written.
func (a *Async) Refused() int64 { return a.refused.Load() }

// Failed is how many batch writes failed (and were retried).
func (a *Async) Failed() int64 { return a.failed.Load() }

// Pending is how many events wait in the queue.
func (a *Async) Pending() int { return len(a.queue) }

// InFlight is how many events the Async has taken and not yet written
// (nor given up on): queued, lingering or being written. They are what a
// crash of the process would lose.
func (a *Async) InFlight() int64 { return a.inflight.Load() }

// InFlightBytes is the memory the events in flight take, as EventSize
// counts it (at most QueueBytes, or one larger event).
func (a *Async) InFlightBytes() int64 { return a.inflightBytes.Load() }

func (a *Async) report(err error) {
	if a.opts.OnError != nil {
		a.opts.OnError(err)
	}
}

// run is the writer: it takes what the queue holds, up to a batch, writes
// it, and answers flush markers once everything before them is written.
func (a *Async) run() {
	defer close(a.done)
	batch := make([]item, 0, a.opts.Batch)
	var markers []chan struct{}
	for {
		it, ok := <-a.queue
		if !ok {
			return
		}
		batch, markers = a.take(batch[:0], markers[:0], it)
		var stop bool
		batch, markers, stop = a.drain(batch, markers)
		if !stop && a.opts.Linger > 0 && !waited(batch, markers) {
			batch, markers = a.linger(batch, markers)
		}
		a.write(batch)
		var size int64
		for i := range batch {
			size += batch[i].size
			batch[i] = item{} // let the event go
		}
		a.inflight.Add(-int64(len(batch)))
		a.inflightBytes.Add(-size)
		a.bytes.Release(size)
		for _, m := range markers {
			close(m)
		}
	}
}

// waited reports whether anyone waits on the batch: a Flush, or a caller
// in Wait mode. Then lingering would only delay them.
func waited(batch []item, markers []chan struct{}) bool {
	if len(markers) > 0 {
		return true
	}
	for i := range batch {
		if batch[i].done != nil {
			return true
		}
	}
	return false
}

// linger adds to the batch what arrives within Linger, until it is full,
// someone waits on it, or the queue closes. It does not take events one
// by one as they come, which would wake the writer for each: it sleeps
// until the timer, or until Record says the queue holds enough (wake).
func (a *Async) linger(batch []item, markers []chan struct{}) ([]item, []chan struct{}) {
	t := time.NewTimer(a.opts.Linger)
	defer t.Stop()
	defer a.need.Store(0)
	for {
		// Announce the need before looking, so an event queued after the
		// look sees it and wakes the writer.
		a.need.Store(int64(a.opts.Batch - len(batch)))
		var stop bool
		if batch, markers, stop = a.drain(batch, markers); stop || waited(batch, markers) {
			return batch, markers
		}
		select {
		case <-t.C:
			batch, markers, _ = a.drain(batch, markers)
			return batch, markers
		case <-a.poke:
		}
	}
}

// drain takes what the queue holds, without waiting, up to a full batch.
// It says stop when the batch is to be written now: it is full or the
// queue has closed. It does not stop at an item someone waits on: taking
// everything queued into one write is what lets concurrent waiters share
// a commit (group commit); run skips the linger for such a batch.
func (a *Async) drain(batch []item, markers []chan struct{}) ([]item, []chan struct{}, bool) {
	for len(batch) < a.opts.Batch {
		select {
		case it, ok := <-a.queue:
			if !ok {
				return batch, markers, true
			}
			batch, markers = a.take(batch, markers, it)
		default:
			return batch, markers, false
		}
	}
	return batch, markers, true
}

func (a *Async) take(batch []item, markers []chan struct{}, it item) ([]item, []chan struct{}) {
	if it.flush != nil {
		return batch, append(markers, it.flush)
	}
	return append(batch, it), markers
}

// write stores one batch, retrying with backoff until it is stored or,
// once closing, CloseTimeout has passed. Waiting callers hear about the
// first failure at once, so an audit-required decision does not wait for
// the sink to come back.
func (a *Async) write(batch []item) {
	if len(batch) == 0 {
		return
	}
	events := make([]Event, len(batch))
	for i := range batch {
		events[i] = batch[i].e
	}
	backoff := a.opts.Backoff
	var giveUp time.Time
	told := false
	for {
		err := a.sink.WriteBatch(context.Background(), events)
		if errors.Is(err, ErrRefused) && len(batch) > 1 {
			// One event the sink will never take must not hold the
			// others hostage: write them one by one.
			for i := range batch {
				a.write(batch[i : i+1])
			}
			return
		}
		if errors.Is(err, ErrRefused) {
			a.refused.Add(1)
			a.report(fmt.Errorf("audit: event dropped, the sink refuses it: %w", err))
			if it := batch[0]; it.done != nil && !told {
				it.done <- err
			}
			return
		}
		if err == nil {
			for _, it := range batch {
				if it.done != nil && !told {
					it.done <- nil
				}
			}
			return
		}
		a.failed.Add(1)
		a.report(fmt.Errorf("audit: writing %d events: %w", len(events), err))
		if !told {
			for _, it := range batch {
				if it.done != nil {
					it.done <- err
				}
			}
			told = true
		}
		if a.closing.Load() {
			if giveUp.IsZero() {
				giveUp = time.Now().Add(a.opts.CloseTimeout)
			} else if time.Now().After(giveUp) {
				a.lost.Add(int64(len(events)))
				return
			}
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Minute)
	}
}

func copyEvent(e *Event) Event {
	c := *e
	if e.Fields != nil {
		c.Fields = make(map[string]any, len(e.Fields))
		for k, v := range e.Fields {
			c.Fields[k] = v
		}
	}
	return c
}
