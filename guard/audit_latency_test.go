package guard_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
	"github.com/warden-authz/warden/audit/sqlite"
	"github.com/warden-authz/warden/guard"
)

// BenchmarkGuardCheckAuditLatency measures what audit adds to one guarded
// call, as a distribution, with every event going to a real store through
// the batching writer (target: at most 1 µs added at p50).
//
// Calls are paced at a rate the store sustains, 20,000 a second. Calling
// as fast as possible would measure backpressure instead: a store that
// writes 50,000 events a second cannot absorb a million guarded calls a
// second, and the queue, full, makes callers wait by design. Each call is
// timed on its own; the pacing is not part of any call's time.
//
// It reports p50-ns and p99-ns; the p50 with a store minus the p50 with
// audit off is what audit adds.
func BenchmarkGuardCheckAuditLatency(b *testing.B) {
	alice, _ := warden.NewActor("alice", warden.Allow("doc:read", "docs:*"))
	provider := guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return alice, nil })
	stores := []struct {
		name string
		open func(b *testing.B) audit.BatchSink
	}{
		{"off", nil},
		{"sqlite", func(b *testing.B) audit.BatchSink {
			s, err := sqlite.Open(filepath.Join(b.TempDir(), "audit.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"jsonl", func(b *testing.B) audit.BatchSink {
			f, err := jsonl.Open(filepath.Join(b.TempDir(), "audit.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}},
	}
	const (
		rate  = 20_000
		burst = 100 // calls between pacing sleeps
	)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			var async *audit.Async
			opts := &guard.Options{}
			if st.open != nil {
				async = audit.NewAsync(st.open(b), nil)
				opts.Audit = async
			}
			auth := guard.NewAuth(provider, opts)
			g, _ := auth.Guard("doc:read", "docs:{value}")
			ctx, _ := auth.Authorize(context.Background(), "alice")
			lat := make([]time.Duration, 0, 1<<16)
			start := time.Now()
			n := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := g.Check(ctx, "42"); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				n++
				if n%burst == 0 {
					if ahead := time.Duration(n)*time.Second/rate - time.Since(start); ahead > 0 {
						time.Sleep(ahead)
					}
				}
			}
			b.StopTimer()
			if async != nil {
				if err := async.Close(); err != nil {
					b.Fatal(err)
				}
				if async.Dropped() != 0 || async.Failed() != 0 {
					b.Fatalf("audit dropped %d events and failed %d writes", async.Dropped(), async.Failed())
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(0, "ns/op") // pacing makes ns/op meaningless
		})
	}
}
