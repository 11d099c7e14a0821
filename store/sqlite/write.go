package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// Codes stored for ops, kinds and effects, independent of the Go
// constants' values.
const (
	opAdd    = 1
	opRemove = 2

	kindMember   = 1
	kindResource = 2
	kindGrant    = 3

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
	for i := range b.Writes {
		// As in audit/sqlite: a batch of thousands of writes holds its
		// core for many milliseconds; yielding lets the requests queued
		// behind it run.
		if i%64 == 63 {
			runtime.Gosched()
		}
		if err := apply(ctx, &st, rev, i, &b.Writes[i]); err != nil {
			return 0, s.fail(err, fmt.Sprintf("writes[%d]", i))
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

// apply applies one write and, when it changed something, appends it to
// the changelog. Adding an existing record is a conflict the insert
// ignores, removing an absent one deletes nothing: neither is a change.
func apply(ctx context.Context, st *[nStmts]*sql.Stmt, rev store.Revision, index int, w *store.Write) error {
	p := pos(rev, index)
	op := int64(opAdd)
	if w.Op == store.OpRemove {
		op = opRemove
	}
	var (
		res sql.Result
		err error
	)
	if m := w.Membership; m != nil {
		kind, name := int64(kindMember), m.Member
		if name == "" {
			kind, name = kindResource, m.Resource
		}
		if op == opAdd {
			res, err = st[stmtAddMembership].ExecContext(ctx, p, kind, name, m.Group)
		} else {
			res, err = st[stmtRemoveMembership].ExecContext(ctx, kind, name, m.Group)
		}
		if changed, err := affected(res, err); err != nil || !changed {
			return err
		}
		_, err = st[stmtChange].ExecContext(ctx, p, op, kind, name, m.Group, nil, nil, nil, nil, nil)
		return err
	}
	g := w.Grant
	effect := effectCode(g.Effect)
	if op == opAdd {
		res, err = st[stmtAddGrant].ExecContext(ctx, p, g.Rule, effect, g.Subject, g.Resource, g.Action)
	} else {
		res, err = st[stmtRemoveGrant].ExecContext(ctx, g.Subject, g.Resource, g.Action, g.Rule, effect)
	}
	if changed, err := affected(res, err); err != nil || !changed {
		return err
	}
	_, err = st[stmtChange].ExecContext(ctx, p, op, kindGrant, nil, nil, g.Rule, effect, g.Subject, g.Resource, g.Action)
	return err
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
