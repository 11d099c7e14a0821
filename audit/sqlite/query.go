package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/internal/sqlfilter"
	"github.com/warden-authz/warden/internal/pattern"
)

const selectSQL = `SELECT id, time_ns, subject, action, resource, allowed, status,
	rule, reason, latency_ns, policy_version, revision, error, fields FROM events`

// Query returns the events q selects, oldest (lowest id) first, at most
// q's limit. It implements audit.Querier.
//
// Everything SQL can decide exactly is in the WHERE clause; patterns are
// narrowed there by their literal prefix and decided by audit.Matcher.
// Rows stream in id order from one statement (one consistent snapshot)
// until the page is full, so a selective pattern costs more rows read,
// never a short page.
func (s *Store) Query(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	if s == nil || s.r == nil {
		return nil, ErrNotOpen
	}
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	query, args, ok := buildSQL(q, m.Limit())
	if !ok {
		return nil, nil // the time range excludes every storable time
	}

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit/sqlite: query: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		if err := scan(rows, &e); err != nil {
			return nil, err
		}
		// Match also re-checks what SQL filtered: cheap, and it keeps the
		// two from ever disagreeing silently.
		if m.Match(&e) {
			out = append(out, e)
			if len(out) == m.Limit() {
				break
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit/sqlite: query: %w", err)
	}
	return out, nil
}

// dialect is how SQLite stores what a query filters: text as it is,
// times as nanoseconds (exact), strings ordered by their bytes.
var dialect = sqlfilter.Dialect{
	Prefix:    literalPrefix,
	Successor: successor,
	MinTime:   minTime,
	MaxTime:   maxTime,
	Time: func(t time.Time, until bool) (string, any, bool) {
		if until {
			return "time_ns < ?", t.UnixNano(), true
		}
		return "time_ns >= ?", t.UnixNano(), true
	},
}

// buildSQL turns q into a SELECT and its arguments. ok is false when q
// cannot match any stored event.
func buildSQL(q audit.Query, limit int) (query string, args []any, ok bool) {
	w, ok := sqlfilter.Build(q, dialect)
	if !ok {
		return "", nil, false
	}
	where, args := w.Clause(), w.Args
	var limitSQL string
	if w.Exact {
		// SQL decides every filter, so it may stop at the page size.
		// Otherwise rows stream until Match has accepted a page.
		limitSQL = " LIMIT ?"
		args = append(args, limit)
	}
	if (w.ResourceRange || !q.Since.IsZero() && !q.Until.IsZero()) && q.Subject == "" && q.Status == "" {
		// A resource prefix ("doc:*") reads events_resource_id, whose
		// order within the range is not id order either: the same holds.
		// SQLite reads these through events_time (TestQueryPlans), whose
		// order is not id order, and would sort whole rows by id: every
		// row in the time range, for one page. Sorting only the ids, which
		// the index holds, and then fetching the page's rows is several
		// times faster on a wide range (BenchmarkQuery1M/TimeRangeWide).
		// With one bound SQLite walks the table in id order instead, and
		// stops after a page: nothing to sort.
		return selectSQL + " WHERE id IN (SELECT id FROM events" + where + " ORDER BY id" + limitSQL + ") ORDER BY id", args, true
	}
	return selectSQL + where + " ORDER BY id" + limitSQL, args, true
}

// scan reads one row of selectSQL into e.
func scan(rows *sql.Rows, e *audit.Event) error {
	var (
		timeNS, latencyNS, revision int64
		status                      string
		fields                      sql.NullString
	)
	if err := rows.Scan(&e.ID, &timeNS, &e.Subject, &e.Action, &e.Resource, &e.Allowed, &status,
		&e.Rule, &e.Reason, &latencyNS, &e.PolicyVersion, &revision, &e.Error, &fields); err != nil {
		return fmt.Errorf("audit/sqlite: reading event: %w", err)
	}
	if revision < 0 {
		return fmt.Errorf("audit/sqlite: event %s: revision %d is negative", short(e.ID), revision)
	}
	e.Revision = uint64(revision)
	e.Time = time.Unix(0, timeNS).UTC()
	e.Status = audit.Status(status)
	e.Latency = time.Duration(latencyNS)
	if fields.Valid {
		var err error
		// Numbers come back exactly as written, invalid UTF-8 as it was.
		if e.Fields, err = audit.DecodeFields([]byte(fields.String)); err != nil {
			return fmt.Errorf("audit/sqlite: event %s: decoding fields: %w", short(e.ID), err)
		}
	}
	return nil
}

// literalPrefix reads a (valid) pattern as pattern.Pattern.Prefix does:
// the bytes every matching name starts with, and whether the pattern is a
// literal naming exactly that.
func literalPrefix(src string) (prefix string, literal bool) {
	p, err := pattern.Parse(src)
	if err != nil {
		return "", false
	}
	return p.Prefix()
}

// successor returns the least string greater than every string that starts
// with p, for a half-open range [p, successor): p with trailing 0xff bytes
// dropped and its last byte incremented. ok is false when p is all 0xff
// bytes (no such string; the range has no upper end). The result may end
// inside a UTF-8 sequence; that is fine, SQLite compares the bytes.
func successor(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
