package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warden-authz/warden/audit"
)

// ErrInvalidEvent is wrapped by Record's and WriteBatch's errors for an
// event that can never be stored as given; it wraps audit.ErrRefused.
var ErrInvalidEvent error = invalidEvent{}

type invalidEvent struct{}

func (invalidEvent) Error() string { return "audit/postgres: invalid event" }
func (invalidEvent) Unwrap() error { return audit.ErrRefused }

// Times timestamptz holds: 4713 BC to 294276 AD; kept well inside.
var (
	minTime = time.Date(-4000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(200000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Days for which day partitions are created; other times go to the
// default partition (package doc).
var (
	partFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	partTo   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

var columns = []string{
	"id", "time", "time_nsec", "subject", "action", "resource", "allowed", "status",
	"rule", "reason", "latency_ns", "policy_version", "revision", "error", "fields",
}

// Record stores one event, as a batch of one.
func (s *Store) Record(ctx context.Context, e *audit.Event) error {
	if s == nil || s.pool == nil {
		return ErrNotOpen
	}
	if e == nil {
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	}
	return s.WriteBatch(ctx, []audit.Event{*e})
}

// WriteBatch stores events in one transaction with COPY: it returns nil
// only after the transaction committed; on error nothing of the batch is
// stored. It does not keep events.
//
// It refuses, wrapping ErrInvalidEvent (and so audit.ErrRefused): an empty
// id, or one with a NUL byte or invalid UTF-8 (the id is stored as it is,
// and PostgreSQL text cannot hold them); a Time outside the years -4000 to
// 200000; a Revision above math.MaxInt64; Fields with a value JSON has no
// form for (a channel, a NaN); an event whose (time, id) is already
// stored. Every other string, NULs and invalid UTF-8 included, is stored
// escaped and comes back unchanged.
func (s *Store) WriteBatch(ctx context.Context, events []audit.Event) error {
	if s == nil || s.pool == nil {
		return ErrNotOpen
	}
	if len(events) == 0 {
		return nil
	}
	rows := make([][]any, len(events))
	var days []int64
	for i := range events {
		r, err := encode(&events[i])
		if err != nil {
			return err
		}
		rows[i] = r
		if d, ok := partDay(events[i].Time); ok {
			if _, known := s.parts.Load(d); !known && !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
	}
	if err := s.ensurePartitions(ctx, days); err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit/postgres: writing batch: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.CopyFrom(ctx, s.events, columns, pgx.CopyFromRows(rows)); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("%w: id already stored: %w", ErrInvalidEvent, err)
		}
		return fmt.Errorf("audit/postgres: writing batch of %d events: %w", len(events), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit/postgres: committing batch of %d events: %w", len(events), err)
	}
	return nil
}

// partDay returns the day (since the Unix epoch, UTC) whose partition
// holds t, and false when t goes to the default partition.
func partDay(t time.Time) (int64, bool) {
	if t.Before(partFrom) || !t.Before(partTo) {
		return 0, false
	}
	return t.Unix() / 86400, true // t is after 1970, so no flooring issue
}

// ensurePartitions creates the day partitions in days, in their own
// transaction under an advisory lock, so concurrent writers do not race
// on the catalog.
func (s *Store) ensurePartitions(ctx context.Context, days []int64) error {
	if len(days) == 0 {
		return nil
	}
	slices.Sort(days)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit/postgres: creating partitions: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 1))`, s.lockKey); err != nil {
		return fmt.Errorf("audit/postgres: creating partitions: %w", err)
	}
	for _, d := range days {
		from := time.Unix(d*86400, 0).UTC()
		to := from.AddDate(0, 0, 1)
		// Only constant text and formatted dates go into the DDL, which
		// takes no parameters.
		name := quoteIdent("events_p" + from.Format("20060102"))
		stmt := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s PARTITION OF %s.events FOR VALUES FROM ('%s') TO ('%s')`,
			s.schema, name, s.schema, from.Format("2006-01-02T15:04:05Z"), to.Format("2006-01-02T15:04:05Z"))
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("audit/postgres: creating partition for %s: %w", from.Format(time.DateOnly), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit/postgres: creating partitions: %w", err)
	}
	for _, d := range days {
		s.parts.Store(d, struct{}{})
	}
	return nil
}

// encode turns e into a COPY row.
func encode(e *audit.Event) ([]any, error) {
	if e.ID == "" {
		return nil, fmt.Errorf("%w: empty id", ErrInvalidEvent)
	}
	// The id is the key and the cursor, compared as it is: it must be
	// text PostgreSQL holds. Every other string is escaped (escapeText).
	if err := storable(e.ID); err != nil {
		return nil, fmt.Errorf("%w %s: id %w", ErrInvalidEvent, short(e.ID), err)
	}
	if e.Time.Before(minTime) || e.Time.After(maxTime) {
		return nil, fmt.Errorf("%w %s: time %v is outside the years -4000 to 200000", ErrInvalidEvent, short(e.ID), e.Time)
	}
	if e.Revision > math.MaxInt64 {
		return nil, fmt.Errorf("%w %s: revision %d is over the largest bigint, %d", ErrInvalidEvent, short(e.ID), e.Revision, int64(math.MaxInt64))
	}
	var fields any // nil Fields stay NULL
	if e.Fields != nil {
		b, err := audit.EncodeFields(e.Fields)
		if err != nil {
			return nil, fmt.Errorf("%w %s: fields: %w", ErrInvalidEvent, short(e.ID), err)
		}
		fields = json.RawMessage(b)
	}
	t := e.Time.UTC()
	us := t.Truncate(time.Microsecond)
	return []any{
		e.ID, us, int16(t.Sub(us)), escapeText(e.Subject), escapeText(e.Action), escapeText(e.Resource), e.Allowed, escapeText(string(e.Status)),
		escapeText(e.Rule), escapeText(e.Reason), int64(e.Latency), escapeText(e.PolicyVersion), int64(e.Revision), escapeText(e.Error), fields,
	}, nil
}

// storable reports why PostgreSQL text cannot hold v unchanged.
func storable(v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return errors.New("has a NUL byte, which PostgreSQL text cannot hold")
	}
	if !utf8.ValidString(v) {
		return errors.New("is not valid UTF-8, which PostgreSQL text cannot hold")
	}
	return nil
}

// short quotes s for an error message, cut to a readable length.
func short(s string) string {
	const n = 64
	if len(s) > n {
		return fmt.Sprintf("%q...", s[:n])
	}
	return fmt.Sprintf("%q", s)
}
