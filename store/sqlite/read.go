package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// read runs fn in one read transaction on a reader connection, so every
// query in it sees the same revision.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if err := s.usable(); err != nil {
		return err
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(err, what)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	return fn(tx)
}

func revisionIn(ctx context.Context, tx *sql.Tx) (store.Revision, error) {
	var rev int64
	err := tx.QueryRowContext(ctx, `SELECT revision FROM store_revision WHERE id = 1`).Scan(&rev)
	return store.Revision(rev), err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (store.Revision, error) {
	var rev store.Revision
	err := s.read(ctx, "reading the revision", func(tx *sql.Tx) error {
		var err error
		if rev, err = revisionIn(ctx, tx); err != nil {
			return s.fail(err, "reading the revision")
		}
		return nil
	})
	return rev, err
}

// Snapshot implements store.Store: memberships, then grants, each in
// position order, in one read transaction.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	var rev store.Revision
	err := s.read(ctx, "snapshot", func(tx *sql.Tx) error {
		var err error
		if rev, err = revisionIn(ctx, tx); err != nil {
			return s.fail(err, "snapshot")
		}
		if err := s.scan(ctx, tx, "snapshot", `SELECT pos, kind, name, grp FROM store_memberships ORDER BY pos`, nil, scanMembership, fn); err != nil {
			return err
		}
		return s.scan(ctx, tx, "snapshot", `SELECT pos, rule, effect, subject, resource, action FROM store_grants ORDER BY pos`, nil, scanGrant, fn)
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// scan runs a query and calls fn with each row, read by read.
func (s *Store) scan(ctx context.Context, tx *sql.Tx, what, q string, args []any, read func(*sql.Rows) (store.Record, error), fn func(store.Record) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return s.fail(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := read(rows)
		if err != nil {
			return s.fail(err, what)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail(err, what)
	}
	return nil
}

func scanMembership(rows *sql.Rows) (store.Record, error) {
	var p, kind int64
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

func scanGrant(rows *sql.Rows) (store.Record, error) {
	var p, effect int64
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

func decodeEffect(code int64) (types.Effect, error) {
	switch code {
	case effectAllow:
		return types.EffectAllow, nil
	case effectDeny:
		return types.EffectDeny, nil
	}
	return types.EffectNone, fmt.Errorf("unknown effect code %d", code)
}

const changeCols = `SELECT pos, op, kind, name, grp, rule, effect, subject, resource, action FROM store_changes`

func scanChange(rows *sql.Rows) (store.Change, error) {
	var p, op, kind int64
	var name, grp, rule, subject, resource, action sql.NullString
	var effect sql.NullInt64
	if err := rows.Scan(&p, &op, &kind, &name, &grp, &rule, &effect, &subject, &resource, &action); err != nil {
		return store.Change{}, err
	}
	rev, index := unpos(p)
	c := store.Change{Revision: rev, Index: index}
	switch op {
	case opAdd:
		c.Op = store.OpAdd
	case opRemove:
		c.Op = store.OpRemove
	default:
		return c, fmt.Errorf("change %d.%d has op code %d", rev, index, op)
	}
	switch kind {
	case kindMember:
		c.Membership = &store.Membership{Member: name.String, Group: grp.String}
	case kindResource:
		c.Membership = &store.Membership{Resource: name.String, Group: grp.String}
	case kindGrant:
		e, err := decodeEffect(effect.Int64)
		if err != nil {
			return c, fmt.Errorf("change %d.%d: %w", rev, index, err)
		}
		c.Grant = &store.Grant{Rule: rule.String, Effect: e, Subject: subject.String, Resource: resource.String, Action: action.String}
	default:
		return c, fmt.Errorf("change %d.%d has kind %d", rev, index, kind)
	}
	return c, nil
}

// Changes implements store.Store. It reads one row past the limit: if
// that row's revision is one the page holds, the page stops before it;
// if the page would then be empty, its first revision is read whole.
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
	err = s.read(ctx, "reading changes", func(tx *sql.Tx) error {
		latest, err := revisionIn(ctx, tx)
		if err != nil {
			return s.fail(err, "reading changes")
		}
		if after > latest {
			return fmt.Errorf("%w: revision %d is beyond the latest, %d", store.ErrRevisionUnavailable, after, latest)
		}
		through = latest
		if after == latest {
			return nil
		}
		if out, err = s.changes(ctx, tx, changeCols+` WHERE pos >= ? ORDER BY pos LIMIT ?`, pos(after+1, 0), limit+1); err != nil {
			return err
		}
		if len(out) <= limit {
			return nil
		}
		cut := out[limit].Revision
		end := limit
		for end > 0 && out[end-1].Revision == cut {
			end--
		}
		if end > 0 {
			out, through = out[:end], cut-1
			return nil
		}
		through = cut
		out, err = s.changes(ctx, tx, changeCols+` WHERE pos >= ? AND pos < ? ORDER BY pos`, pos(cut, 0), pos(cut+1, 0))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, through, nil
}

func (s *Store) changes(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]store.Change, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fail(err, "reading changes")
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, s.fail(err, "reading changes")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err, "reading changes")
	}
	return out, nil
}

// List implements store.Store. Memberships and grants are read from
// their tables, each in position order through the index of the most
// selective filter, and merged.
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
	err := s.read(ctx, "listing", func(tx *sql.Tx) error {
		collect := func(dst *[]store.Record) func(store.Record) error {
			return func(r store.Record) error { *dst = append(*dst, r); return nil }
		}
		if q, args, ok := membershipQuery(f, from, limit+1); ok {
			if err := s.scan(ctx, tx, "listing", q, args, scanMembership, collect(&ms)); err != nil {
				return err
			}
		}
		if q, args, ok := grantQuery(f, from, limit+1); ok {
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

// membershipQuery builds the membership half of a List, or reports that
// f selects no membership.
func membershipQuery(f store.Filter, from int64, n int) (string, []any, bool) {
	if f.Kind == store.Grants || f.Rule != "" || f.Subject != "" || (f.Member != "" && f.Resource != "") {
		return "", nil, false
	}
	conds, args := []string{"pos > ?"}, []any{from}
	switch {
	case f.Member != "":
		conds, args = append(conds, "kind = ?", "name = ?"), append(args, kindMember, f.Member)
	case f.Resource != "":
		conds, args = append(conds, "kind = ?", "name = ?"), append(args, kindResource, f.Resource)
	}
	if f.Group != "" {
		conds, args = append(conds, "grp = ?"), append(args, f.Group)
	}
	return `SELECT pos, kind, name, grp FROM store_memberships WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY pos LIMIT ?`, append(args, n), true
}

// grantQuery builds the grant half of a List, or reports that f selects
// no grant.
func grantQuery(f store.Filter, from int64, n int) (string, []any, bool) {
	if f.Kind == store.Memberships || f.Member != "" || f.Group != "" {
		return "", nil, false
	}
	conds, args := []string{"pos > ?"}, []any{from}
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"resource", f.Resource}, {"rule", f.Rule}} {
		if c.v != "" {
			conds, args = append(conds, c.col+" = ?"), append(args, c.v)
		}
	}
	return `SELECT pos, rule, effect, subject, resource, action FROM store_grants WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY pos LIMIT ?`, append(args, n), true
}

// Wait implements store.Notifier: it wakes on commits through this
// Store, and reads the revision every pollInterval for commits made by
// other processes.
func (s *Store) Wait(ctx context.Context, after store.Revision) (store.Revision, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	var timer *time.Timer
	for {
		// Take the channel before reading the revision, so a commit in
		// between closes the channel this loop waits on.
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if err := s.usable(); err != nil {
			return 0, err
		}
		// A failed read is retried at the next poll: Wait does not
		// report outages (store.Notifier).
		if rev, err := s.Revision(ctx); err == nil && rev > after {
			return rev, nil
		}
		if timer == nil {
			timer = time.NewTimer(pollInterval)
			defer timer.Stop()
		} else {
			timer.Reset(pollInterval)
		}
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
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
