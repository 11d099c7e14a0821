package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
)

// gate is a BatchSink that can be paused and made to fail, and remembers
// every batch it stored.
type gate struct {
	mu      sync.Mutex
	batches [][]audit.Event
	fail    atomic.Int32 // fail this many more writes
	down    atomic.Bool  // fail every write
	open    chan struct{}
}

func newGate() *gate { g := &gate{open: make(chan struct{})}; close(g.open); return g }

func (g *gate) Record(ctx context.Context, e *audit.Event) error {
	return g.WriteBatch(ctx, []audit.Event{*e})
}

func (g *gate) WriteBatch(_ context.Context, events []audit.Event) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
	if g.down.Load() || g.fail.Add(-1) >= 0 {
		return errors.New("sink down")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.batches = append(g.batches, append([]audit.Event(nil), events...))
	return nil
}

func (g *gate) pause() { g.mu.Lock(); g.open = make(chan struct{}); g.mu.Unlock() }
func (g *gate) resume() {
	g.mu.Lock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
	g.mu.Unlock()
}

func (g *gate) subjects() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, b := range g.batches {
		for _, e := range b {
			out = append(out, e.Subject)
		}
	}
	return out
}

func ev(i int) *audit.Event { return &audit.Event{Subject: fmt.Sprint(i)} }

func TestAsyncOrderAndBatches(t *testing.T) {
	t.Parallel()
	g := newGate()
	a := audit.NewAsync(g, &audit.AsyncOptions{Batch: 7})
	for i := range 100 {
		if err := a.Record(context.Background(), ev(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := g.subjects()
	if len(got) != 100 {
		t.Fatalf("%d events after Flush", len(got))
	}
	for i, s := range got {
		if s != fmt.Sprint(i) {
			t.Fatalf("event %d is %s: order lost", i, s)
		}
	}
	for _, b := range g.batches {
		if len(b) > 7 {
			t.Errorf("batch of %d, over the limit of 7", len(b))
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(context.Background(), ev(0)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
}

// TestAsyncBackpressure: a full queue blocks the caller (by default) until
// the context ends; nothing is dropped.
func TestAsyncBackpressure(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.pause()
	a := audit.NewAsync(g, &audit.AsyncOptions{Queue: 2, Batch: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var blocked error
	for i := range 10 {
		if err := a.Record(ctx, ev(i)); err != nil {
			blocked = err
			break
		}
	}
	if !errors.Is(blocked, context.DeadlineExceeded) || a.Dropped() != 0 {
		t.Fatalf("full queue: %v, dropped %d", blocked, a.Dropped())
	}
	g.resume()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncDrop: with Drop, a full queue drops, counts, reports and says so.
func TestAsyncDrop(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.pause()
	var reported atomic.Int32
	a := audit.NewAsync(g, &audit.AsyncOptions{Queue: 2, Batch: 1, Drop: true, OnError: func(error) { reported.Add(1) }})
	dropped := 0
	for i := range 20 {
		if err := a.Record(context.Background(), ev(i)); errors.Is(err, audit.ErrDropped) {
			dropped++
		}
	}
	if dropped == 0 || int64(dropped) != a.Dropped() || int(reported.Load()) != dropped {
		t.Errorf("dropped %d, counted %d, reported %d", dropped, a.Dropped(), reported.Load())
	}
	g.resume()
	a.Close()
	if got := len(g.subjects()); got+dropped != 20 {
		t.Errorf("%d written + %d dropped != 20", got, dropped)
	}
}

// TestAsyncOutage: a failing sink is retried; events wait and arrive once
// it is back, and the failures are reported.
func TestAsyncOutage(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.fail.Store(3)
	var reported atomic.Int32
	a := audit.NewAsync(g, &audit.AsyncOptions{Backoff: time.Millisecond, OnError: func(error) { reported.Add(1) }})
	for i := range 50 {
		a.Record(context.Background(), ev(i))
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(g.subjects()); n != 50 || a.Failed() < 3 || reported.Load() < 3 {
		t.Errorf("%d events, %d failures, %d reports", n, a.Failed(), reported.Load())
	}
	a.Close()
}

// TestAsyncWait: in Wait mode Record returns once written, and reports a
// failing sink at once, while the event is still retried.
func TestAsyncWait(t *testing.T) {
	t.Parallel()
	g := newGate()
	a := audit.NewAsync(g, &audit.AsyncOptions{Wait: true, Backoff: time.Millisecond})
	if err := a.Record(context.Background(), ev(1)); err != nil || len(g.subjects()) != 1 {
		t.Fatalf("Record in Wait mode: %v, %d stored", err, len(g.subjects()))
	}
	g.fail.Store(2)
	if err := a.Record(context.Background(), ev(2)); err == nil {
		t.Error("a failed write was acknowledged")
	}
	a.Flush(context.Background())
	if n := len(g.subjects()); n != 2 {
		t.Errorf("the failed event was not retried: %d stored", n)
	}
	a.Close()
}

// TestAsyncCloseWhileBlocked: Close while callers wait on a full queue
// finishes once the sink drains, with everything written.
func TestAsyncCloseWhileBlocked(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.pause()
	a := audit.NewAsync(g, &audit.AsyncOptions{Queue: 1, Batch: 1})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { a.Record(context.Background(), ev(i)) })
	}
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error)
	go func() { closed <- a.Close() }()
	time.Sleep(20 * time.Millisecond)
	g.resume()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close deadlocked")
	}
	wg.Wait()
	if n := len(g.subjects()); n != 8 {
		t.Errorf("%d of 8 events written", n)
	}
}

// TestAsyncCloseGivesUp: a sink that never comes back does not hang Close
// forever, and Close says how many events were not written.
func TestAsyncCloseGivesUp(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.down.Store(true)
	a := audit.NewAsync(g, &audit.AsyncOptions{Backoff: time.Millisecond, CloseTimeout: 50 * time.Millisecond})
	for i := range 5 {
		a.Record(context.Background(), ev(i))
	}
	if err := a.Close(); err == nil {
		t.Error("Close reported success with a dead sink")
	}
}

// TestAsyncPlainSink: a sink without WriteBatch is written event by event.
func TestAsyncPlainSink(t *testing.T) {
	t.Parallel()
	mem := &audit.Memory{}
	a := audit.NewAsync(plain{mem}, nil)
	for i := range 10 {
		a.Record(context.Background(), ev(i))
	}
	a.Close()
	if n := len(mem.Events()); n != 10 {
		t.Errorf("%d events", n)
	}
}

type plain struct{ s audit.Sink }

func (p plain) Record(ctx context.Context, e *audit.Event) error { return p.s.Record(ctx, e) }

// refusing refuses any batch holding the subject "bad", as a sink does
// with an event its format cannot carry.
type refusing struct{ mem *audit.Memory }

func (r refusing) Record(ctx context.Context, e *audit.Event) error {
	return r.WriteBatch(ctx, []audit.Event{*e})
}

func (r refusing) WriteBatch(ctx context.Context, events []audit.Event) error {
	for _, e := range events {
		if e.Subject == "bad" {
			return fmt.Errorf("event %q: %w", e.Subject, audit.ErrRefused)
		}
	}
	for i := range events {
		r.mem.Record(ctx, &events[i])
	}
	return nil
}

// TestAsyncRefused: an event the sink refuses is dropped and reported;
// the rest of its batch is written and the writer goes on.
func TestAsyncRefused(t *testing.T) {
	t.Parallel()
	mem := &audit.Memory{}
	var reported atomic.Int32
	a := audit.NewAsync(refusing{mem}, &audit.AsyncOptions{Backoff: time.Millisecond, OnError: func(error) { reported.Add(1) }})
	for _, s := range []string{"a", "bad", "b", "c"} {
		a.Record(context.Background(), &audit.Event{Subject: s})
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(mem.Events()); n != 3 || a.Refused() != 1 || reported.Load() != 1 {
		t.Errorf("%d stored, %d refused, %d reported", n, a.Refused(), reported.Load())
	}
}

// TestAsyncLinger: with Linger, events that trickle in share a batch; a
// Flush, a Wait-mode caller and Close never wait for the linger to end.
func TestAsyncLinger(t *testing.T) {
	t.Parallel()
	const hour = time.Hour // a linger no test could sit out
	cases := []struct {
		name string
		run  func(t *testing.T, g *gate)
	}{
		{"trickle shares a batch", func(t *testing.T, g *gate) {
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: 200 * time.Millisecond, Batch: 10})
			defer a.Close()
			for i := range 10 { // the tenth fills the batch and ends the linger
				a.Record(context.Background(), ev(i))
				time.Sleep(time.Millisecond)
			}
			if err := a.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if len(g.batches) != 1 || len(g.batches[0]) != 10 {
				t.Fatalf("10 events arriving a millisecond apart made %d batches, want 1 of 10", len(g.batches))
			}
		}},
		{"a full batch ends the linger", func(t *testing.T, g *gate) {
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: hour, Batch: 10})
			defer a.Close()
			a.Record(context.Background(), ev(0))
			time.Sleep(5 * time.Millisecond) // let the writer start lingering
			for i := 1; i < 15; i++ {        // the tenth fills the batch
				a.Record(context.Background(), ev(i))
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(g.subjects()) < 10 {
				if time.Now().After(deadline) {
					t.Fatalf("a full batch was not written during a linger: the sink holds %d events", len(g.subjects()))
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			if n := len(g.subjects()); n != 10 {
				t.Fatalf("the sink holds %d events, want the 10 of the full batch while 5 linger", n)
			}
		}},
		{"a full queue ends the linger", func(t *testing.T, g *gate) {
			// The queue never holds a whole batch; its filling up must
			// wake the writer, or senders wait out the linger.
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: hour, Batch: 100, Queue: 4})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range 30 {
					a.Record(context.Background(), ev(i))
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				// No Close: it would wait for the blocked sender.
				t.Fatalf("30 events into a queue of 4 still blocked after 10s; the sink holds %d", len(g.subjects()))
			}
			if err := a.Close(); err != nil || len(g.subjects()) != 30 {
				t.Fatalf("Close: %v; the sink holds %d events, want 30", err, len(g.subjects()))
			}
		}},
		{"flush ends the linger", func(t *testing.T, g *gate) {
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: hour})
			defer a.Close()
			a.Record(context.Background(), ev(1))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Flush(ctx); err != nil {
				t.Fatalf("Flush during a linger: %v", err)
			}
			if got := g.subjects(); len(got) != 1 {
				t.Fatalf("after Flush the sink holds %v", got)
			}
		}},
		{"wait mode is not delayed", func(t *testing.T, g *gate) {
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: hour, Wait: true})
			defer a.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := range 3 {
				if err := a.Record(ctx, ev(i)); err != nil {
					t.Fatalf("Record %d in Wait mode with a linger: %v", i, err)
				}
			}
		}},
		{"close ends the linger", func(t *testing.T, g *gate) {
			a := audit.NewAsync(g, &audit.AsyncOptions{Linger: hour})
			a.Record(context.Background(), ev(1))
			time.Sleep(5 * time.Millisecond) // let the writer start lingering
			done := make(chan error, 1)
			go func() { done <- a.Close() }()
			select {
			case err := <-done:
				if err != nil || len(g.subjects()) != 1 {
					t.Fatalf("Close: %v, sink holds %v", err, g.subjects())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close waited for the linger")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newGate())
		})
	}
}

// TestAsyncConcurrentFlush: many producers, each flushing now and then,
// with and without a linger and with batches of several sizes. Every
// Flush must find all of its caller's earlier events written, however
// the writer's linger and wake-ups interleave with them, and Close must
// leave every event written exactly once.
func TestAsyncConcurrentFlush(t *testing.T) {
	t.Parallel()
	for _, linger := range []time.Duration{0, time.Millisecond, time.Hour} {
		for _, batch := range []int{1, 7, 100} {
			t.Run(fmt.Sprintf("linger=%v/batch=%d", linger, batch), func(t *testing.T) {
				t.Parallel()
				g := newGate()
				a := audit.NewAsync(g, &audit.AsyncOptions{Linger: linger, Batch: batch, Queue: 64})
				const producers, each, flushEvery = 6, 300, 37
				var wg sync.WaitGroup
				for p := range producers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range each {
							if err := a.Record(context.Background(), ev(p*each+i)); err != nil {
								t.Errorf("Record: %v", err)
								return
							}
							if i%flushEvery != flushEvery-1 {
								continue
							}
							ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
							err := a.Flush(ctx)
							cancel()
							if err != nil {
								t.Errorf("Flush: %v", err)
								return
							}
							written := map[string]bool{}
							for _, s := range g.subjects() {
								written[s] = true
							}
							for j := 0; j <= i; j++ {
								if !written[fmt.Sprint(p*each+j)] {
									t.Errorf("event %d, recorded before a Flush, is not written after it", p*each+j)
									return
								}
							}
						}
					}()
				}
				wg.Wait()
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
				seen := map[string]int{}
				for _, s := range g.subjects() {
					seen[s]++
				}
				if len(seen) != producers*each {
					t.Errorf("%d distinct events written, want %d", len(seen), producers*each)
				}
				for s, n := range seen {
					if n != 1 {
						t.Errorf("event %s written %d times", s, n)
					}
				}
			})
		}
	}
}

// bigEv is an event whose Fields hold n keys, as a decoded request context
// does.
func bigEv(i, n int) *audit.Event {
	e := ev(i)
	e.Fields = make(map[string]any, n)
	for k := range n {
		e.Fields[fmt.Sprintf("k%d", k)] = "v"
	}
	return e
}

// TestAsyncQueueBytes: the byte budget fills long before the count bound
// when events are large; then Record waits (or, with Drop, drops), the
// bytes in flight never pass the budget, and they are given back once
// written.
func TestAsyncQueueBytes(t *testing.T) {
	t.Parallel()
	one := audit.EventSize(bigEv(0, 1000))
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprint("drop=", drop), func(t *testing.T) {
			t.Parallel()
			g := newGate()
			g.pause()
			a := audit.NewAsync(g, &audit.AsyncOptions{Queue: 1000, Batch: 1, QueueBytes: 3 * one, Drop: drop})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			var took int
			var stop error
			for i := range 50 {
				if stop = a.Record(ctx, bigEv(i, 1000)); stop != nil {
					break
				}
				took++
			}
			want := context.DeadlineExceeded
			if drop {
				want = audit.ErrDropped
			}
			if !errors.Is(stop, want) || took != 3 {
				t.Fatalf("took %d events of %d bytes each in a budget of %d, then %v; want 3, then %v", took, one, 3*one, stop, want)
			}
			if a.InFlight() != 3 || a.InFlightBytes() > 3*one {
				t.Errorf("in flight: %d events, %d bytes; want 3, at most %d", a.InFlight(), a.InFlightBytes(), 3*one)
			}
			g.resume()
			if err := a.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a.InFlight() != 0 || a.InFlightBytes() != 0 {
				t.Errorf("after Flush: %d events, %d bytes in flight", a.InFlight(), a.InFlightBytes())
			}
			// The budget is back: as many events fit again.
			for i := range 3 {
				if err := a.Record(context.Background(), bigEv(i, 1000)); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAsyncHugeEvent: an event larger than the whole budget still goes
// through, alone.
func TestAsyncHugeEvent(t *testing.T) {
	t.Parallel()
	g := newGate()
	a := audit.NewAsync(g, &audit.AsyncOptions{QueueBytes: 1024, Wait: true})
	if err := a.Record(context.Background(), bigEv(1, 5000)); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(context.Background(), ev(2)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if n := len(g.subjects()); n != 2 {
		t.Errorf("%d stored, want 2", n)
	}
}

// TestEventSize: the size counts what decoding a context makes, so a
// context of many small keys weighs far more than its JSON text.
func TestEventSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		e        *audit.Event
		min, max int64
	}{
		{"nil", nil, 0, 0},
		{"zero", &audit.Event{}, 100, 400},
		{"strings", &audit.Event{Subject: strings.Repeat("s", 1000), Reason: strings.Repeat("r", 1000)}, 2000, 2400},
		// 70,000 keys are about 1 MiB of JSON; decoded they hold several.
		{"70k keys", bigEv(0, 70000), 70000 * 60, 70000 * 200},
		{"nested", &audit.Event{Fields: map[string]any{"a": []any{map[string]any{"b": json.Number("1")}, "x", 1.5, true, nil}}}, 200, 1500},
		{"struct", &audit.Event{Fields: map[string]any{"s": struct{ A, B, C, D, E, F, G, H, I, J int64 }{}}}, 80, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := audit.EventSize(c.e); got < c.min || got > c.max {
				t.Errorf("EventSize = %d, want %d..%d", got, c.min, c.max)
			}
		})
	}
}

// TestAsyncGroupCommit: events submitted by many callers at once share
// writes: far fewer batches than events, and every receipt hears its
// write's result.
func TestAsyncGroupCommit(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.pause()
	a := audit.NewAsync(g, &audit.AsyncOptions{Batch: 1000})
	var receipts []audit.Receipt
	for i := range 200 {
		r, err := a.Submit(context.Background(), ev(i))
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, r)
	}
	g.resume()
	for i, r := range receipts {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}
	g.mu.Lock()
	batches := len(g.batches)
	g.mu.Unlock()
	if batches > 3 {
		t.Errorf("200 waiting events took %d writes; want them to share a few", batches)
	}
	// A failed write reaches every waiter of its batch.
	g.pause()
	g.fail.Store(1)
	r1, _ := a.Submit(context.Background(), ev(300))
	r2, _ := a.Submit(context.Background(), ev(301))
	g.resume()
	if e1, e2 := r1.Wait(context.Background()), r2.Wait(context.Background()); e1 == nil && e2 == nil {
		t.Error("a failed write was acknowledged to every waiter")
	}
	a.Close()
}

// TestZeroValues: the zero value of every exported type of package audit,
// and nil where a pointer is accepted, works or returns an error; nothing
// panics.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var nilMem *audit.Memory
	cases := []struct {
		name    string
		f       func() error
		wantErr bool
	}{
		{"zero Async Close", func() error { return new(audit.Async).Close() }, false},
		{"zero Async Record", func() error { return new(audit.Async).Record(ctx, ev(1)) }, true},
		{"zero Async Submit", func() error { _, err := new(audit.Async).Submit(ctx, ev(1)); return err }, true},
		{"zero Async Flush", func() error { return new(audit.Async).Flush(ctx) }, true},
		{"zero Async counters", func() error {
			var a audit.Async
			if a.Pending()+int(a.Dropped()+a.Failed()+a.Refused()+a.InFlight()+a.InFlightBytes()) != 0 {
				return errors.New("nonzero")
			}
			return nil
		}, false},
		{"zero Receipt Wait", func() error { return audit.Receipt{}.Wait(ctx) }, true},
		{"Async of nil sink", func() error {
			a := audit.NewAsync(nil, &audit.AsyncOptions{Wait: true})
			defer a.Close()
			return a.Record(ctx, ev(1))
		}, true},
		{"Async nil event", func() error {
			a := audit.NewAsync(&audit.Memory{}, nil)
			defer a.Close()
			return a.Record(ctx, nil)
		}, true},
		{"nil Memory Record", func() error { return nilMem.Record(ctx, ev(1)) }, true},
		{"nil Memory Query", func() error { _, err := nilMem.Query(ctx, audit.Query{}); return err }, true},
		{"nil Memory Events", func() error {
			if nilMem.Events() != nil || nilMem.Dropped() != 0 {
				return errors.New("nonzero")
			}
			return nil
		}, false},
		{"zero Memory", func() error { return new(audit.Memory).Record(ctx, ev(1)) }, false},
		{"Memory nil event", func() error { return new(audit.Memory).Record(ctx, nil) }, true},
		{"zero Fanout", func() error { return audit.Fanout{}.Record(ctx, ev(1)) }, false},
		{"Fanout of nil", func() error { return audit.Fanout{nil, nilMem}.Record(ctx, ev(1)) }, true},
		{"zero Query", func() error { _, err := audit.Query{}.Compile(); return err }, false},
		{"zero Event size", func() error { audit.EventSize(&audit.Event{}); return nil }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.f(); (err != nil) != c.wantErr {
				t.Errorf("error %v, want error: %v", err, c.wantErr)
			}
		})
	}
}
