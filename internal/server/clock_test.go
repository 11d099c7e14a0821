package server_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/server"
)

// fakeClock steps by step on every reading, from base.
type fakeClock struct {
	base  time.Time
	step  time.Duration
	ticks atomic.Int64
}

func (c *fakeClock) now() time.Time {
	return c.base.Add(time.Duration(c.ticks.Add(1)-1) * c.step)
}

// TestClock: Config.Clock times reloads (/readyz), audit events and their
// latencies, so none of them reads the real clock.
func TestClock(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{base: time.Date(2031, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 7200)), step: time.Millisecond}
	f := start(t, policyAllow, func(c *server.Config) { c.Clock = clock.now; c.NoWatch = true })

	r := f.do(t, "GET", "/readyz", "")
	var ready struct {
		LoadedAt   time.Time                `json:"loaded_at"`
		LastReload struct{ Time time.Time } `json:"last_reload"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if !ready.LoadedAt.Equal(clock.base) || !ready.LastReload.Time.Equal(clock.base) {
		t.Errorf("/readyz: loaded at %v, reloaded at %v; want the clock's first reading %v", ready.LoadedAt, ready.LastReload.Time, clock.base)
	}

	for _, req := range []struct{ path, body string }{
		{"/v1/check", `{"subject":"alice","resource":"doc:1","action":"read"}`},
		{"/v1/check/batch", `{"requests":[{"subject":"bob","resource":"doc:1","action":"read"},{"subject":"a*","action":"read"}]}`},
	} {
		if r := f.do(t, "POST", req.path, req.body); r.status != 200 {
			t.Fatalf("%s: %d %s", req.path, r.status, r.body)
		}
	}
	f.flush(t)
	events := f.store.Events()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	last := clock.base.Add(time.Duration(clock.ticks.Load()) * clock.step)
	for _, e := range events {
		// Each decision reads the clock when it starts and when it ends,
		// and nothing reads it in between.
		if e.Latency != clock.step {
			t.Errorf("%s: latency %v, want one step of the clock, %v", e.Subject, e.Latency, clock.step)
		}
		if e.Time.Before(clock.base) || !e.Time.Before(last) || e.Time.Location() != time.UTC {
			t.Errorf("%s: time %v, want a UTC reading of the clock in [%v, %v)", e.Subject, e.Time, clock.base, last)
		}
	}
}
