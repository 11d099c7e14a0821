package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/internal/sqlfilter"
	"github.com/warden-authz/warden/internal/pattern"
)

const selectCols = `SELECT id, time, time_nsec, subject, action, resource, allowed, status,
	rule, reason, latency_ns, policy_version, revision, error, fields FROM `

// Query returns the events q selects, oldest (lowest id) first, at most
// q's limit. It implements audit.Querier.
func (s *Store) Query(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	if s == nil || s.pool == nil {
		return nil, ErrNotOpen
	}
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	b, ok := s.build(q)
	if !ok {
		return nil, nil // no storable event can match
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("audit/postgres: query: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only

	limit := m.Limit()
	chunk := limit
	if !b.Exact {
		chunk = min(max(limit*4, 256), audit.MaxLimit)
	}
	var out []audit.Event
	after := cursorBound(q.After)
	for {
		sql, args := s.sql(&b, after, chunk)
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("audit/postgres: query: %w", err)
		}
		n := 0
		for rows.Next() {
			n++
			var e audit.Event
			if err := scan(rows, &e); err != nil {
				rows.Close()
				return nil, err
			}
			after = e.ID
			if m.Match(&e) {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit/postgres: query: %w", err)
		}
		if len(out) == limit || n < chunk {
			return out, nil
		}
	}
}

// sql is the SELECT of one chunk: b's filters, the cursor and the limit.
func (s *Store) sql(b *sqlfilter.Where, after string, limit int) (string, []any) {
	w := b.Clone()
	if after != "" {
		w.And("id > ?", after)
	}
	args := append(w.Args, limit)
	return sqlfilter.Numbered(selectCols + s.schema + ".events" + w.Clause() + " ORDER BY id LIMIT ?"), args
}

// dialect is how the store keeps what a query filters: text escaped
// (escapeText), times as timestamps of whole microseconds, strings
// ordered by code point (COLLATE "C"). The cursor is applied chunk by
// chunk (Query), not by the filter.
var dialect = sqlfilter.Dialect{
	Text: escapeText,
	Prefix: func(src string) (string, bool) {
		// The column holds escaped text. The escape of a valid UTF-8
		// prefix is a prefix of the escape of every string that starts
		// with it, since each rune is escaped alone.
		prefix, literal := literalPrefix(src)
		return escapeText(prefix), literal
	},
	Successor: successor,
	MinTime:   minTime,
	MaxTime:   maxTime,
	Time: func(t time.Time, until bool) (string, any, bool) {
		// The column holds whole microseconds; the nanoseconds are
		// decided by Match.
		us := t.UTC().Truncate(time.Microsecond)
		exact := us.Equal(t)
		if !until {
			return "time >= ?", us, exact
		}
		if !exact {
			us = us.Add(time.Microsecond)
		}
		return "time < ?", us, exact
	},
	NoCursor: true,
}

// build turns q's filters into SQL; ok is false when no storable event
// can match. Every value is a bound parameter.
func (s *Store) build(q audit.Query) (sqlfilter.Where, bool) {
	w, ok := sqlfilter.Build(q, dialect)
	if ok && storable(q.After) != nil {
		// Cannot be a parameter: Query narrows by its storable prefix
		// (cursorBound), and Match applies the cursor.
		w.Exact = false
	}
	return w, ok
}

// scan reads one row into e.
func scan(rows pgx.Rows, e *audit.Event) error {
	var (
		t         time.Time
		nsec      int16
		latencyNS int64
		revision  int64
		status    string
		fields    *string
	)
	if err := rows.Scan(&e.ID, &t, &nsec, &e.Subject, &e.Action, &e.Resource, &e.Allowed, &status,
		&e.Rule, &e.Reason, &latencyNS, &e.PolicyVersion, &revision, &e.Error, &fields); err != nil {
		return fmt.Errorf("audit/postgres: reading event: %w", err)
	}
	if revision < 0 {
		return fmt.Errorf("audit/postgres: event %s: revision %d is negative", short(e.ID), revision)
	}
	e.Revision = uint64(revision)
	e.Time = t.UTC().Add(time.Duration(nsec))
	for _, p := range []*string{&e.Subject, &e.Action, &e.Resource, &status, &e.Rule, &e.Reason, &e.PolicyVersion, &e.Error} {
		var err error
		if *p, err = unescapeText(*p); err != nil {
			return fmt.Errorf("audit/postgres: event %s: %w", short(e.ID), err)
		}
	}
	e.Status = audit.Status(status)
	e.Latency = time.Duration(latencyNS)
	if fields != nil {
		var err error
		if e.Fields, err = audit.DecodeFields([]byte(*fields)); err != nil {
			return fmt.Errorf("audit/postgres: event %s: decoding fields: %w", short(e.ID), err)
		}
	}
	return nil
}

// literalPrefix is pattern.Pattern.Prefix cut back to whole runes, since
// successor works on runes and parameters must be valid UTF-8.
func literalPrefix(src string) (prefix string, literal bool) {
	p, err := pattern.Parse(src)
	if err != nil {
		return "", false
	}
	prefix, literal = p.Prefix()
	for len(prefix) > 0 && !utf8.ValidString(prefix) {
		prefix, literal = prefix[:len(prefix)-1], false
	}
	return prefix, literal
}

// successor returns the least valid UTF-8 string greater than every string
// that starts with p (valid UTF-8, no NUL): p with trailing U+10FFFF runes
// dropped and its last rune incremented (skipping surrogates). Under
// COLLATE "C" UTF-8 bytes sort as code points, so [p, successor) selects
// exactly the names that start with p. ok is false when there is none.
func successor(p string) (string, bool) {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] < utf8.MaxRune {
			r[i]++
			if r[i] == 0xD800 {
				r[i] = 0xE000
			}
			return string(r[:i+1]), true
		}
	}
	return "", false
}

// cursorBound returns a parameter c such that id > after implies id > c:
// after itself, or, when PostgreSQL cannot take it (a NUL, invalid UTF-8),
// its longest prefix it can, which sorts before it.
func cursorBound(after string) string {
	for i, r := range after {
		if r == 0 || r == utf8.RuneError && !strings.HasPrefix(after[i:], "\uFFFD") {
			return after[:i]
		}
	}
	return after
}
