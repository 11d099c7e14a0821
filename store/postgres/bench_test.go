package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

func benchBatch(first, n int) []store.Write {
	ws := make([]store.Write, n)
	for i := range ws {
		k := first + i
		if k%2 == 0 {
			ws[i] = member(store.OpAdd, fmt.Sprintf("user%d@example.com", k), fmt.Sprintf("group%d", k%10))
		} else {
			ws[i] = store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: fmt.Sprintf("user%d@example.com", k%1000), Resource: fmt.Sprintf("doc:%d", k), Action: "read"}}
		}
	}
	return ws
}

// BenchmarkWrite commits batches of 1 and of 1,000 adds (memberships and
// grants, half each) over loopback, and reports the latency of a single
// write and the records/s of batches.
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{1, 1000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			write(b, s, benchBatch(1<<40, store.MaxBatch)...)
			var lat []time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				ws := benchBatch(n, size)
				n += size
				b.StartTimer()
				start := time.Now()
				if _, err := s.Write(ctx, store.Batch{Writes: ws}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			var total time.Duration
			for _, l := range lat {
				total += l
			}
			b.ReportMetric(float64(n)/total.Seconds(), "records/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}
