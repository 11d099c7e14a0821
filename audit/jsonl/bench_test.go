package jsonl_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
)

// batch returns n events shaped like a guarded call's, with request
// fields.
func batch(b *testing.B, n int) []audit.Event {
	events := make([]audit.Event, n)
	for i := range events {
		e := event(b, fmt.Sprintf("user%d", i%50))
		e.Resource = fmt.Sprintf("articles:animals:%d", i)
		e.PolicyVersion = "sha256:9f86d081884c7d65"
		e.Fields = map[string]any{"request_id": fmt.Sprintf("req-%08d", i), "remote": "192.0.2.7:51234"}
		events[i] = e
	}
	return events
}

// BenchmarkWriteBatch appends batches of 1000 events, each one write and
// one fsync, as a batching writer would. Besides events/s it reports the
// process's CPU time per event, which a shared machine's noise hardly
// moves: a File writes from one goroutine at a time, so one core bounds
// it at 1e9/cpu-ns events/s, less the time each fsync waits for the disk.
//
// The baseline=write-fsync variant appends the same bytes, a batch's
// lines already encoded, with one write and one fsync each and nothing
// else: the floor this disk sets, measured right after the store so the
// two can be compared.
func BenchmarkWriteBatch(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		path := tempPath(b)
		f := open(b, path)
		events := batch(b, 1000)
		n := 0
		cpu0 := processCPU(b)
		for b.Loop() {
			if err := f.WriteBatch(b.Context(), events); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cpu := processCPU(b) - cpu0
		reportRate(b, path, n*len(events))
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*len(events)), "cpu-ns/event")
	})
	b.Run("baseline=write-fsync", func(b *testing.B) {
		// The lines a batch is written as, from a store of its own.
		src := tempPath(b)
		if err := open(b, src).WriteBatch(b.Context(), batch(b, 1000)); err != nil {
			b.Fatal(err)
		}
		lines, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		path := tempPath(b)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		n := 0
		cpu0 := processCPU(b)
		for b.Loop() {
			if _, err := f.Write(lines); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cpu := processCPU(b) - cpu0
		reportRate(b, path, n*1000)
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*1000), "cpu-ns/event")
	})
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecord appends one event at a time, an fsync each: the cost
// batching saves.
func BenchmarkRecord(b *testing.B) {
	path := tempPath(b)
	f := open(b, path)
	e := batch(b, 1)[0]
	n := 0
	for b.Loop() {
		if err := f.Record(b.Context(), &e); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b, path, n)
}

func reportRate(b *testing.B, path string, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if st, err := os.Stat(path); err == nil && events > 0 {
		b.ReportMetric(float64(st.Size())/float64(events), "B/event")
	}
}

// BenchmarkQuery pages through a file of 100,000 events by subject: every
// page scans and decodes the whole file.
func BenchmarkQuery(b *testing.B) {
	f := open(b, tempPath(b))
	for range 100 {
		if err := f.WriteBatch(b.Context(), batch(b, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	q := audit.Query{Subject: "user7"}
	for b.Loop() {
		got, err := f.Query(b.Context(), q)
		if err != nil || len(got) != audit.DefaultLimit {
			b.Fatalf("%d events, %v", len(got), err)
		}
	}
	b.ReportMetric(100000, "lines/query")
}
