package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// AsyncOptions configure an Async. A nil *AsyncOptions means the defaults.
type AsyncOptions struct {
	// Queue is how many events may wait to be written; 0 means 10,000.
	// It bounds memory: when it is full, Record blocks (backpressure) or,
	// with Drop, drops the event.
	Queue int
	// Batch is the most events written at once; 0 means 1,000.
	Batch int
	// Drop makes a full queue drop events instead of blocking the caller.
	// Dropped events are counted (Dropped), reported (OnError) and Record
	// returns ErrDropped; never choose it where the log must be complete.
	Drop bool
	// Wait makes Record return only once its event is written, or the
	// write failed: the mode for an audit-required Auth (SPEC 8.3). Events
	// of concurrent callers still share batches.
	Wait bool
	// OnError hears every failed write and every drop; nil ignores them
	// (they are still counted). It is called from the writer goroutine.
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

// Errors of Record.
var (
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
// An Async is safe for concurrent use. Close flushes it.
type Async struct {
	sink BatchSink
	opts AsyncOptions

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
	done  chan error    // Wait mode: the write's result
	flush chan struct{} // a Flush marker, not an event
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
	if bs, ok := sink.(BatchSink); ok {
		a.sink = bs
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
	it := item{e: copyEvent(e)}
	if a.opts.Wait {
		it.done = make(chan error, 1)
	}
	if err := a.enqueue(ctx, it); err != nil {
		return err
	}
	if it.done == nil {
		return nil
	}
	select {
	case err := <-it.done:
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
	if a.opts.Drop && it.flush == nil {
		select {
		case a.queue <- it:
			a.wake(it)
			return nil
		default:
			n := a.dropped.Add(1)
			a.report(fmt.Errorf("%w (%d dropped so far)", ErrDropped, n))
			return ErrDropped
		}
	}
	// Try without ctx first: ctx.Done makes a request context allocate
	// its channel, a cost every event would pay for a full queue's sake.
	select {
	case a.queue <- it:
		a.wake(it)
		return nil
	default:
	}
	select {
	case a.queue <- it:
		a.wake(it)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: queue full: %w", ctx.Err())
	}
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
		if batch, markers, stop = a.drain(batch, markers); stop {
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
// It says stop when the batch is to be written now: it is full, the queue
// has closed, or someone waits on an item taken.
func (a *Async) drain(batch []item, markers []chan struct{}) ([]item, []chan struct{}, bool) {
	for len(batch) < a.opts.Batch {
		select {
		case it, ok := <-a.queue:
			if !ok {
				return batch, markers, true
			}
			batch, markers = a.take(batch, markers, it)
			if it.flush != nil || it.done != nil {
				return batch, markers, true
			}
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
