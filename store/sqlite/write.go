package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/internal/changelog"
	"github.com/warden-authz/warden/types"
)

// Codes stored for ops, kinds and effects, independent of the Go
// constants' values.
const (
	kindMember   = 1
	kindResource = 2

	effectAllow = 1
	effectDeny  = 2
)

// Write implements store.Store: one IMMEDIATE transaction that reads the
// revision, applies the writes in order, appends the changelog and sets
// the next revision; it returns once the commit is on disk.
func (s *Store) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := b.Check(); err != nil {
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.fail(err, "writing")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var st [nStmts]*sql.Stmt
	for i := range st {
		st[i] = tx.StmtContext(ctx, s.stmts[i])
	}
	var cur int64
	if err := st[stmtRevision].QueryRowContext(ctx).Scan(&cur); err != nil {
		return 0, s.fail(err, "reading the revision")
	}
	rev := store.Revision(cur)
	if b.IfRevision != nil && *b.IfRevision != rev {
		return 0, fmt.Errorf("%w: the store is at revision %d, not %d", store.ErrRevisionConflict, rev, *b.IfRevision)
	}
	if rev >= maxRevision {
		return 0, fmt.Errorf("store/sqlite: revision %d is the last this store can number", rev)
	}
	rev++
	var changes []store.Change
	for i := range b.Writes {
		// As in audit/sqlite: a batch of thousands of writes holds its
		// core for many milliseconds; yielding lets the requests queued
		// behind it run.
		if i%64 == 63 {
			runtime.Gosched()
		}
		w := &b.Writes[i]
		changed, err := apply(ctx, &st, rev, i, w)
		if err != nil {
			return 0, s.fail(err, fmt.Sprintf("writes[%d]", i))
		}
		if changed {
			changes = append(changes, store.Change{Revision: rev, Index: i, Op: w.Op, Membership: w.Membership, Grant: w.Grant})
		}
	}
	if len(changes) > 0 {
		text, err := changelog.Encode(changes)
		if err != nil {
			return 0, fmt.Errorf("store/sqlite: %w", err)
		}
		if _, err := st[stmtChange].ExecContext(ctx, int64(rev), len(changes), string(text)); err != nil {
			return 0, s.fail(err, "writing the changelog")
		}
	}
	if _, err := st[stmtSetRevision].ExecContext(ctx, int64(rev)); err != nil {
		return 0, s.fail(err, "setting the revision")
	}
	if err := tx.Commit(); err != nil {
		return 0, s.fail(err, fmt.Sprintf("committing revision %d", rev))
	}
	s.notify()
	return rev, nil
}

// apply applies one write and reports whether it changed something.
// Adding an existing record is a conflict the insert ignores, removing an
// absent one deletes nothing: neither is a change.
func apply(ctx context.Context, st *[nStmts]*sql.Stmt, rev store.Revision, index int, w *store.Write) (bool, error) {
	p := pos(rev, index)
	var (
		res sql.Result
		err error
	)
	if m := w.Membership; m != nil {
		kind, name := int64(kindMember), m.Member
		if name == "" {
			kind, name = kindResource, m.Resource
		}
		if w.Op == store.OpAdd {
			res, err = st[stmtAddMembership].ExecContext(ctx, p, kind, name, m.Group)
		} else {
			res, err = st[stmtRemoveMembership].ExecContext(ctx, kind, name, m.Group)
		}
		return affected(res, err)
	}
	g := w.Grant
	effect := effectCode(g.Effect)
	if w.Op == store.OpAdd {
		res, err = st[stmtAddGrant].ExecContext(ctx, p, g.Rule, effect, g.Subject, g.Resource, g.Action)
	} else {
		res, err = st[stmtRemoveGrant].ExecContext(ctx, g.Subject, g.Resource, g.Action, g.Rule, effect)
	}
	return affected(res, err)
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// effectCode maps an effect to its stored code; Batch.Check allowed only
// these two.
func effectCode(e types.Effect) int64 {
	if e == types.EffectDeny {
		return effectDeny
	}
	return effectAllow
}

// notify wakes every Wait.
func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed.Load() {
		close(s.wake)
		s.wake = make(chan struct{})
	}
}
