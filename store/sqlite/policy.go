package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warden-authz/warden/store"
)

// Publish implements store.Policies: one IMMEDIATE transaction that
// numbers the version one past the newest and inserts it, so Seqs stay
// gapless even when another process publishes to the same file. It
// returns once the commit is on disk.
func (s *Store) Publish(ctx context.Context, v store.PolicyVersion) (store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return store.PolicyVersion{}, err
	}
	if err := v.Check(); err != nil {
		return store.PolicyVersion{}, err
	}
	now := policyTime()
	var seq int64
	err := s.policyTx(ctx, "publishing a policy version", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO store_policies (seq, version, name, text, time)
			SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ? FROM store_policies
			RETURNING seq`, v.Version, v.Name, v.Text, now.UnixMicro()).Scan(&seq)
	})
	if err != nil {
		return store.PolicyVersion{}, err
	}
	return store.PolicyVersion{Seq: uint64(seq), Version: v.Version, Name: v.Name, Time: now}, nil
}

// Rollback implements store.Policies: the new entry is copied from the
// newest one holding version inside the database, text included, in one
// IMMEDIATE transaction.
func (s *Store) Rollback(ctx context.Context, version string) (store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return store.PolicyVersion{}, err
	}
	if err := store.CheckPolicyVersion(version); err != nil {
		return store.PolicyVersion{}, fmt.Errorf("%w: %w", store.ErrNoPolicy, err)
	}
	now := policyTime()
	v := store.PolicyVersion{Version: version, Time: now}
	var seq, of int64
	err := s.policyTx(ctx, "rolling back the policy", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO store_policies (seq, version, name, text, time, rollback_of)
			SELECT (SELECT max(seq) + 1 FROM store_policies), version, name, text, ?, seq
			FROM store_policies WHERE version = ? ORDER BY seq DESC LIMIT 1
			RETURNING seq, name, rollback_of`, now.UnixMicro(), version).Scan(&seq, &v.Name, &of)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no version %s in the history", store.ErrNoPolicy, version)
		}
		return err
	})
	if err != nil {
		return store.PolicyVersion{}, err
	}
	v.Seq, v.RollbackOf = uint64(seq), uint64(of)
	return v, nil
}

// policyTx runs fn in one write transaction, commits it and wakes every
// waiter. Errors from fn that are the store's own (ErrNoPolicy) pass
// through; the database's are wrapped as s.fail does.
func (s *Store) policyTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(err, what)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		if errors.Is(err, store.ErrNoPolicy) {
			return err
		}
		return s.fail(err, what)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(err, what)
	}
	s.notify()
	return nil
}

// policyTime is the time of a new entry, in microseconds, as the table
// keeps it, so Publish returns the time CurrentPolicy reads back.
func policyTime() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// CurrentPolicy implements store.Policies.
func (s *Store) CurrentPolicy(ctx context.Context) (store.PolicyVersion, error) {
	var v store.PolicyVersion
	err := s.read(ctx, "reading the current policy", func(tx *sql.Tx) error {
		var seq, at int64
		var of sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT seq, version, name, text, time, rollback_of FROM store_policies ORDER BY seq DESC LIMIT 1`).
			Scan(&seq, &v.Version, &v.Name, &v.Text, &at, &of)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoPolicy
		}
		if err != nil {
			return s.fail(err, "reading the current policy")
		}
		v.Seq, v.Time, v.RollbackOf = uint64(seq), time.UnixMicro(at).UTC(), uint64(of.Int64)
		return nil
	})
	if err != nil {
		return store.PolicyVersion{}, err
	}
	return v, nil
}

// PolicyHistory implements store.Policies.
func (s *Store) PolicyHistory(ctx context.Context, limit int) ([]store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	var out []store.PolicyVersion
	err = s.read(ctx, "reading the policy history", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, version, name, time, rollback_of FROM store_policies ORDER BY seq DESC LIMIT ?`, limit)
		if err != nil {
			return s.fail(err, "reading the policy history")
		}
		defer rows.Close()
		for rows.Next() {
			var v store.PolicyVersion
			var seq, at int64
			var of sql.NullInt64
			if err := rows.Scan(&seq, &v.Version, &v.Name, &at, &of); err != nil {
				return s.fail(err, "reading the policy history")
			}
			v.Seq, v.Time, v.RollbackOf = uint64(seq), time.UnixMicro(at).UTC(), uint64(of.Int64)
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return s.fail(err, "reading the policy history")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// policySeq returns the newest Seq, 0 when nothing was published.
func (s *Store) policySeq(ctx context.Context) (uint64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM store_policies`).Scan(&seq); err != nil {
		return 0, s.fail(err, "reading the policy sequence")
	}
	return uint64(seq), nil
}

// WaitPolicy implements store.Policies as Wait does store.Notifier: it
// wakes on publishes and rollbacks through this Store, and reads the
// newest Seq every 250 ms for those made by other processes.
func (s *Store) WaitPolicy(ctx context.Context, after uint64) (uint64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	var timer *time.Timer
	for {
		// Take the channel before reading, so a commit in between closes
		// the channel this loop waits on.
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if err := s.usable(); err != nil {
			return 0, err
		}
		// A failed read is retried at the next poll: WaitPolicy does not
		// report outages.
		if seq, err := s.policySeq(ctx); err == nil && seq > after {
			return seq, nil
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
