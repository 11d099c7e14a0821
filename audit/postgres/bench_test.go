package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
)

// BenchmarkWriteBatch writes 1,000-event batches and reports events/s.
func BenchmarkWriteBatch(b *testing.B) {
	s := open(b)
	const size = 1000
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	batches := make([][]audit.Event, 16)
	for i := range batches {
		for j := range size {
			batches[i] = append(batches[i], event(b, base.Add(time.Duration(j)*time.Millisecond), j))
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		batch := batches[i%len(batches)]
		// Fresh ids: the key is (time, id).
		for j := range batch {
			id, _ := audit.NewID()
			batch[j].ID = id
		}
		if err := s.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += size
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
