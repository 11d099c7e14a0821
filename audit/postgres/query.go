package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/pattern"
)

const selectCols = `SELECT id, time, time_nsec, subject, action, resource, allowed, status,
	rule, reason, latency_ns, policy_version, error, fields FROM `

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
	if !b.exact {
		chunk = min(max(limit*4, 256), audit.MaxLimit)
	}
	var out []audit.Event
	after := cursorBound(q.After)
	for {
		sql, args := b.sql(s.schema, after, chunk)
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

// built is a query's WHERE clause without the cursor.
type built struct {
	conds []string
	args  []any
	exact bool // SQL decides every filter by itself
}

func (b *built) sql(schema, after string, limit int) (string, []any) {
	conds := b.conds
	args := append([]any(nil), b.args...)
	if after != "" {
		args = append(args, after)
		conds = append(conds[:len(conds):len(conds)], fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, limit)
	var where string
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return selectCols + schema + ".events" + where + fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args
}

// build turns q's filters into SQL; ok is false when no storable event
// can match. Every value is a bound parameter.
func (s *Store) build(q audit.Query) (b built, ok bool) {
	b.exact = true
	and := func(cond string, a ...any) {
		for _, v := range a {
			b.args = append(b.args, v)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(b.args)), 1)
		}
		b.conds = append(b.conds, cond)
	}
	if q.Subject != "" {
		and("subject = ?", escapeText(q.Subject))
	}
	if q.Status != "" {
		and("status = ?", escapeText(string(q.Status)))
	}
	if q.Allowed != nil {
		and("allowed = ?", *q.Allowed)
	}
	if !q.Since.IsZero() {
		switch {
		case q.Since.After(maxTime):
			return b, false
		case !q.Since.Before(minTime):
			// The column holds whole microseconds; the nanoseconds are
			// decided by Match.
			since := q.Since.UTC().Truncate(time.Microsecond)
			if !since.Equal(q.Since) {
				b.exact = false
			}
			and("time >= ?", since)
		}
	}
	if !q.Until.IsZero() {
		switch {
		case !q.Until.After(minTime):
			return b, false
		case !q.Until.After(maxTime):
			until := q.Until.UTC().Truncate(time.Microsecond)
			if !until.Equal(q.Until) {
				until = until.Add(time.Microsecond)
				b.exact = false
			}
			and("time < ?", until)
		}
	}
	if storable(q.After) != nil {
		// Cannot be a parameter: Query narrows by its storable prefix
		// (cursorBound), and Match applies the cursor.
		b.exact = false
	}
	for _, p := range []struct{ col, src string }{{"action", q.Action}, {"resource", q.Resource}} {
		cond, a, exact, ok := patternCond(p.col, p.src)
		if !ok {
			return b, false
		}
		if cond != "" {
			and(cond, a...)
		}
		b.exact = b.exact && exact
	}
	return b, true
}

// scan reads one row into e.
func scan(rows pgx.Rows, e *audit.Event) error {
	var (
		t         time.Time
		nsec      int16
		latencyNS int64
		status    string
		fields    *string
	)
	if err := rows.Scan(&e.ID, &t, &nsec, &e.Subject, &e.Action, &e.Resource, &e.Allowed, &status,
		&e.Rule, &e.Reason, &latencyNS, &e.PolicyVersion, &e.Error, &fields); err != nil {
		return fmt.Errorf("audit/postgres: reading event: %w", err)
	}
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

// patternCond narrows column col to the names pattern src can match. cond
// is "" when SQL cannot narrow it; exact reports whether cond decides the
// pattern by itself; ok is false when no storable name can match.
func patternCond(col, src string) (cond string, args []any, exact, ok bool) {
	if src == "" || src == "*" {
		return "", nil, true, true
	}
	prefix, literal := literalPrefix(src)
	// The column holds escaped text (escapeText). The escape of a valid
	// UTF-8 prefix is a prefix of the escape of every string that starts
	// with it, since each rune is escaped alone.
	prefix = escapeText(prefix)
	if literal {
		return col + " = ?", []any{prefix}, true, true
	}
	if prefix == "" {
		return "", nil, false, true
	}
	if hi, ok := successor(prefix); ok {
		return col + " >= ? AND " + col + " < ?", []any{prefix, hi}, false, true
	}
	return col + " >= ?", []any{prefix}, false, true
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
