package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/internal/changelog"
	"github.com/warden-authz/warden/types"
)

// read runs fn in one REPEATABLE READ, read-only transaction, so every
// query in it sees the same revision. A transaction that cannot begin
// because its connection was lost (see lost) begins again on another;
// once fn runs it is not, as fn may have passed records on.
func (s *Store) read(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	if err := s.usable(); err != nil {
		return err
	}
	var tx pgx.Tx
	for attempt := 1; ; attempt++ {
		var err error
		tx, err = s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err == nil {
			break
		}
		if err = s.fail(ctx, err, what); !s.retry(ctx, err, attempt) {
			return err
		}
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail(ctx, err, what)
	}
	s.reached()
	return nil
}

func (s *Store) revisionIn(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (store.Revision, error) {
	var rev int64
	err := q.QueryRow(ctx, `SELECT revision FROM `+s.schema+`.store_revision WHERE id`).Scan(&rev)
	return store.Revision(rev), err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (store.Revision, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	rev, err := s.revisionIn(ctx, s.pool)
	if err != nil {
		return 0, s.fail(ctx, err, "reading the revision")
	}
	s.reached()
	return rev, nil
}

// Snapshot implements store.Store: memberships, then grants in position
// order, in one transaction.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	var rev store.Revision
	err := s.read(ctx, "snapshot", func(tx pgx.Tx) error {
		var err error
		if rev, err = s.revisionIn(ctx, tx); err != nil {
			return s.fail(ctx, err, "snapshot")
		}
		// Memberships in any order: the table's, without a sort.
		if err := s.scan(ctx, tx, "snapshot", `SELECT pos, kind, name, grp FROM `+s.schema+`.store_memberships`, nil, scanMembership, fn); err != nil {
			return err
		}
		return s.scan(ctx, tx, "snapshot", `SELECT pos, rule, effect, subject, resource, action FROM `+s.schema+`.store_grants ORDER BY pos`, nil, scanGrant, fn)
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

func (s *Store) scan(ctx context.Context, tx pgx.Tx, what, q string, args []any, read func(pgx.Rows) (store.Record, error), fn func(store.Record) error) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return s.fail(ctx, err, what)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := read(rows)
		if err != nil {
			return s.fail(ctx, err, what)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail(ctx, err, what)
	}
	return nil
}

func scanMembership(rows pgx.Rows) (store.Record, error) {
	var p int64
	var kind int16
	var name, grp string
	if err := rows.Scan(&p, &kind, &name, &grp); err != nil {
		return store.Record{}, err
	}
	m := &store.Membership{Group: grp}
	switch kind {
	case kindMember:
		m.Member = name
	case kindResource:
		m.Resource = name
	default:
		return store.Record{}, fmt.Errorf("membership at position %d has kind %d", p, kind)
	}
	added, index := unpos(p)
	return store.Record{Membership: m, Added: added, Index: index}, nil
}

func scanGrant(rows pgx.Rows) (store.Record, error) {
	var p int64
	var effect int16
	g := &store.Grant{}
	if err := rows.Scan(&p, &g.Rule, &effect, &g.Subject, &g.Resource, &g.Action); err != nil {
		return store.Record{}, err
	}
	var err error
	if g.Effect, err = decodeEffect(effect); err != nil {
		return store.Record{}, fmt.Errorf("grant at position %d: %w", p, err)
	}
	added, index := unpos(p)
	return store.Record{Grant: g, Added: added, Index: index}, nil
}

func decodeEffect(code int16) (types.Effect, error) {
	switch code {
	case effectAllow:
		return types.EffectAllow, nil
	case effectDeny:
		return types.EffectDeny, nil
	}
	return types.EffectNone, fmt.Errorf("unknown effect code %d", code)
}

// Changes implements store.Store, as store/sqlite does: the changelog's
// counts show where the page stops, then its revisions' rows are read.
func (s *Store) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	if err := s.usable(); err != nil {
		return nil, 0, err
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, 0, err
	}
	var out []store.Change
	var through store.Revision
	err = s.read(ctx, "reading changes", func(tx pgx.Tx) error {
		latest, err := s.revisionIn(ctx, tx)
		if err != nil {
			return s.fail(ctx, err, "reading changes")
		}
		if after > latest {
			return fmt.Errorf("%w: revision %d is beyond the latest, %d", store.ErrRevisionUnavailable, after, latest)
		}
		if through, err = s.pageEnd(ctx, tx, after, latest, limit); err != nil || through == after {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT revision, count, changes FROM `+s.schema+`.store_changes WHERE revision > $1 AND revision <= $2 ORDER BY revision`, int64(after), int64(through))
		if err != nil {
			return s.fail(ctx, err, "reading changes")
		}
		defer rows.Close()
		for rows.Next() {
			var rev int64
			var count int32
			var text []byte
			if err := rows.Scan(&rev, &count, &text); err != nil {
				return s.fail(ctx, err, "reading changes")
			}
			cs, err := changelog.Decode(store.Revision(rev), int(count), text)
			if err != nil {
				return fmt.Errorf("store/postgres: %w", err)
			}
			out = append(out, cs...)
		}
		if err := rows.Err(); err != nil {
			return s.fail(ctx, err, "reading changes")
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, through, nil
}

// pageEnd returns the last revision a page of changes after after holds:
// as many revisions as fit in limit changes, or the first alone if it
// holds more, or latest when every remaining change fits. It reads
// counts, a row at a time, only as far as the page goes.
func (s *Store) pageEnd(ctx context.Context, tx pgx.Tx, after, latest store.Revision, limit int) (store.Revision, error) {
	rows, err := tx.Query(ctx, `SELECT revision, count FROM `+s.schema+`.store_changes WHERE revision > $1 ORDER BY revision LIMIT $2`, int64(after), limit+1)
	if err != nil {
		return 0, s.fail(ctx, err, "reading changes")
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var rev int64
		var count int32
		if err := rows.Scan(&rev, &count); err != nil {
			return 0, s.fail(ctx, err, "reading changes")
		}
		if total > 0 && total+int(count) > limit {
			return store.Revision(rev) - 1, nil
		}
		total += int(count)
		if total >= limit {
			return store.Revision(rev), nil
		}
	}
	if err := rows.Err(); err != nil {
		return 0, s.fail(ctx, err, "reading changes")
	}
	return latest, nil
}

// List implements store.Store, as store/sqlite does: each table read in
// position order through the index of its filter, and merged.
func (s *Store) List(ctx context.Context, f store.Filter) ([]store.Record, string, error) {
	if err := s.usable(); err != nil {
		return nil, "", err
	}
	if err := f.Check(); err != nil {
		return nil, "", err
	}
	limit, _ := pageLimit(f.Limit) // Check bounded it
	from := int64(-1)
	if f.After != "" {
		added, index, _ := store.ParseCursor(f.After) // Check parsed it
		if added > maxRevision {
			return nil, "", nil // past every position
		}
		from = pos(added, index)
	}
	var ms, gs []store.Record
	err := s.read(ctx, "listing", func(tx pgx.Tx) error {
		collect := func(dst *[]store.Record) func(store.Record) error {
			return func(r store.Record) error { *dst = append(*dst, r); return nil }
		}
		if q, args, ok := membershipQuery(s.schema, f, from, limit+1); ok {
			if err := s.scan(ctx, tx, "listing", q, args, scanMembership, collect(&ms)); err != nil {
				return err
			}
		}
		if q, args, ok := grantQuery(s.schema, f, from, limit+1); ok {
			return s.scan(ctx, tx, "listing", q, args, scanGrant, collect(&gs))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Record, 0, min(limit, len(ms)+len(gs)))
	for len(out) < limit && (len(ms) > 0 || len(gs) > 0) {
		if len(gs) == 0 || (len(ms) > 0 && before(ms[0], gs[0])) {
			out, ms = append(out, ms[0]), ms[1:]
		} else {
			out, gs = append(out, gs[0]), gs[1:]
		}
	}
	if len(ms) == 0 && len(gs) == 0 {
		return out, "", nil
	}
	last := out[len(out)-1]
	return out, store.Cursor(last.Added, last.Index), nil
}

func before(a, b store.Record) bool {
	return a.Added < b.Added || (a.Added == b.Added && a.Index < b.Index)
}

// where numbers a query's conditions' parameters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

func membershipQuery(schema string, f store.Filter, from int64, n int) (string, []any, bool) {
	if f.Kind == store.Grants || f.Rule != "" || f.Subject != "" || (f.Member != "" && f.Resource != "") {
		return "", nil, false
	}
	var w where
	w.add("pos > ?", from)
	switch {
	case f.Member != "":
		w.add("kind = ?", int16(kindMember))
		w.add("name = ?", f.Member)
	case f.Resource != "":
		w.add("kind = ?", int16(kindResource))
		w.add("name = ?", f.Resource)
	}
	if f.Group != "" {
		w.add("grp = ?", f.Group)
	}
	w.args = append(w.args, n)
	return `SELECT pos, kind, name, grp FROM ` + schema + `.store_memberships WHERE ` + strings.Join(w.conds, " AND ") +
		` ORDER BY pos LIMIT $` + strconv.Itoa(len(w.args)), w.args, true
}

func grantQuery(schema string, f store.Filter, from int64, n int) (string, []any, bool) {
	if f.Kind == store.Memberships || f.Member != "" || f.Group != "" {
		return "", nil, false
	}
	var w where
	w.add("pos > ?", from)
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"resource", f.Resource}, {"rule", f.Rule}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	w.args = append(w.args, n)
	return `SELECT pos, rule, effect, subject, resource, action FROM ` + schema + `.store_grants WHERE ` + strings.Join(w.conds, " AND ") +
		` ORDER BY pos LIMIT $` + strconv.Itoa(len(w.args)), w.args, true
}

// pageLimit applies the default and bounds of a page size.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return store.DefaultLimit, nil
	case limit < 0 || limit > store.MaxLimit:
		return 0, fmt.Errorf("%w: limit %d is outside 0 to %d", store.ErrInvalid, limit, store.MaxLimit)
	}
	return limit, nil
}
