package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/warden-authz/warden/audit"
)

const insertSQL = `INSERT INTO events (
	id, time_ns, subject, action, resource, allowed, status,
	rule, reason, latency_ns, policy_version, revision, error, fields
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// The times int64 nanoseconds can hold: about 1677-09-21 to 2262-04-11.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ErrInvalidEvent is wrapped by WriteBatch's errors for an event it can
// never store as given; the batch is not written. It wraps
// audit.ErrRefused, so a batching writer (audit.Async) drops and reports
// that one event instead of retrying the batch forever.
var ErrInvalidEvent error = invalidEvent{}

// invalidEvent is ErrInvalidEvent: its own message, audit.ErrRefused's
// meaning.
type invalidEvent struct{}

func (invalidEvent) Error() string { return "audit/sqlite: invalid event" }
func (invalidEvent) Unwrap() error { return audit.ErrRefused }

// Record stores one event, as a batch of one: it returns nil only once the
// event is committed. Each call is a transaction and an fsync; callers
// recording many events should batch them (audit.Async, WriteBatch).
func (s *Store) Record(ctx context.Context, e *audit.Event) error {
	if s == nil || s.w == nil {
		return ErrNotOpen
	}
	if e == nil {
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	}
	return s.WriteBatch(ctx, []audit.Event{*e})
}

// row is one event as the insert statement's arguments.
type row [14]any

// WriteBatch stores events in one transaction: it returns nil only after
// the transaction committed (and, with synchronous=FULL, reached the disk),
// and on any error nothing of the batch is stored. It does not keep events.
//
// It refuses, wrapping ErrInvalidEvent (and so audit.ErrRefused), an event
// with an empty ID or an ID already stored (the id is the key, and an event
// is never overwritten), a Time outside what int64 nanoseconds hold (years
// 1678 to 2262, which excludes the zero Time), a Revision above
// math.MaxInt64, or Fields with a value JSON has no form for (a channel,
// a NaN). Every string, in the columns and in
// Fields, is stored byte for byte, invalid UTF-8 and NULs included.
func (s *Store) WriteBatch(ctx context.Context, events []audit.Event) error {
	if s == nil || s.w == nil {
		return ErrNotOpen
	}
	if len(events) == 0 {
		return nil
	}
	// Encode everything before the transaction: a bad event then fails
	// the batch without holding the write lock.
	rows := make([]row, len(events))
	for i := range events {
		if err := encode(&events[i], &rows[i]); err != nil {
			return err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit/sqlite: writing batch: %w", err)
	}
	stmt := tx.StmtContext(ctx, s.insert)
	for i := range rows {
		// A batch of 1,000 takes about 15 ms of CPU. Go preempts a
		// running goroutine only after 10 ms, and meanwhile the requests
		// queued behind this writer on its core wait: in warden serve, on
		// two cores, that took the p99 of single checks from about 4 ms to
		// 10 ms at 32 clients. Yielding every 64 rows (about 1 ms) lets
		// them run; it costs nothing measurable (docs/performance.md).
		if i%64 == 63 {
			runtime.Gosched()
		}
		if _, err := stmt.ExecContext(ctx, rows[i][:]...); err != nil {
			tx.Rollback() //nolint:errcheck // the insert error is the one to report
			// Retrying cannot help these: the id is taken for good, or a
			// value is over SQLite's limit (1e9 bytes).
			var serr *msqlite.Error
			switch {
			case !errors.As(err, &serr):
			case serr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				return fmt.Errorf("%w %s: id already stored", ErrInvalidEvent, short(events[i].ID))
			case serr.Code()&0xff == sqlite3.SQLITE_TOOBIG:
				return fmt.Errorf("%w %s: %w", ErrInvalidEvent, short(events[i].ID), err)
			}
			return fmt.Errorf("audit/sqlite: writing event %s: %w", short(events[i].ID), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit/sqlite: committing batch of %d events: %w", len(events), err)
	}
	return nil
}

// encode turns e into insert arguments.
func encode(e *audit.Event, r *row) error {
	if e.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidEvent)
	}
	if e.Time.Before(minTime) || e.Time.After(maxTime) {
		return fmt.Errorf("%w %s: time %v is outside the years 1678 to 2262", ErrInvalidEvent, short(e.ID), e.Time)
	}
	if e.Revision > math.MaxInt64 {
		return fmt.Errorf("%w %s: revision %d is over the largest INTEGER, %d", ErrInvalidEvent, short(e.ID), e.Revision, int64(math.MaxInt64))
	}
	var fields any // nil Fields stay NULL, so they come back nil, not empty
	if e.Fields != nil {
		b, err := audit.EncodeFields(e.Fields)
		if err != nil {
			return fmt.Errorf("%w %s: fields: %w", ErrInvalidEvent, short(e.ID), err)
		}
		fields = string(b)
	}
	*r = row{
		e.ID, e.Time.UnixNano(), e.Subject, e.Action, e.Resource, e.Allowed, string(e.Status),
		e.Rule, e.Reason, int64(e.Latency), e.PolicyVersion, int64(e.Revision), e.Error, fields,
	}
	return nil
}

// short quotes s for an error message, cut to a readable length: ids come
// from callers and may be anything.
func short(s string) string {
	const n = 64
	if len(s) > n {
		return fmt.Sprintf("%q...", s[:n])
	}
	return fmt.Sprintf("%q", s)
}
