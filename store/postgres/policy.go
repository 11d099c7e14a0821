package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/store"
)

// Publish implements store.Policies: one transaction that locks
// store_policies against other publishers (readers go on), numbers the
// version one past the newest, inserts it and notifies the fleet, so
// Seqs are gapless across every process and instance, as revisions are.
// It returns once the commit is acknowledged.
func (s *Store) Publish(ctx context.Context, v store.PolicyVersion) (store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return store.PolicyVersion{}, err
	}
	if err := v.Check(); err != nil {
		return store.PolicyVersion{}, err
	}
	now := policyTime()
	var seq int64
	err := s.policyTx(ctx, "publishing a policy version", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO `+s.schema+`.store_policies (seq, version, name, text, time)
			SELECT coalesce(max(seq), 0) + 1, $1, $2, $3, $4 FROM `+s.schema+`.store_policies
			RETURNING seq`, v.Version, v.Name, v.Text, now).Scan(&seq)
	}, func() int64 { return seq })
	if err != nil {
		return store.PolicyVersion{}, err
	}
	return store.PolicyVersion{Seq: uint64(seq), Version: v.Version, Name: v.Name, Time: now}, nil
}

// Rollback implements store.Policies: as Publish, with the new entry
// copied from the newest one holding version inside the database, so the
// text does not travel.
func (s *Store) Rollback(ctx context.Context, version string) (store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return store.PolicyVersion{}, err
	}
	// Also keeps a NUL or invalid UTF-8, which text cannot hold, from
	// the database.
	if err := store.CheckPolicyVersion(version); err != nil {
		return store.PolicyVersion{}, fmt.Errorf("%w: %w", store.ErrNoPolicy, err)
	}
	now := policyTime()
	v := store.PolicyVersion{Version: version, Time: now}
	var seq, of int64
	err := s.policyTx(ctx, "rolling back the policy", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO `+s.schema+`.store_policies (seq, version, name, text, time, rollback_of)
			SELECT (SELECT max(seq) + 1 FROM `+s.schema+`.store_policies), version, name, text, $2, seq
			FROM `+s.schema+`.store_policies WHERE version = $1 ORDER BY seq DESC LIMIT 1
			RETURNING seq, name, rollback_of`, version, now).Scan(&seq, &v.Name, &of)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no version %s in the history", store.ErrNoPolicy, version)
		}
		return err
	}, func() int64 { return seq })
	if err != nil {
		return store.PolicyVersion{}, err
	}
	v.Seq, v.RollbackOf = uint64(seq), uint64(of)
	return v, nil
}

// policyTx runs insert in one transaction after locking store_policies
// against other publishers, notifies the Seq it inserted (seq returns
// it), commits and wakes this Store's waiters. The lock comes first, so
// the insert's snapshot holds every entry committed before it; SHARE ROW
// EXCLUSIVE lets readers on. ErrNoPolicy from insert passes through; the
// database's errors are wrapped as s.fail does.
func (s *Store) policyTx(ctx context.Context, what string, insert func(pgx.Tx) error, seq func() int64) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.fail(ctx, err, what)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `LOCK TABLE `+s.schema+`.store_policies IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return s.fail(ctx, err, what+": locking")
	}
	if err := insert(tx); err != nil {
		if errors.Is(err, store.ErrNoPolicy) {
			return err
		}
		return s.fail(ctx, err, what)
	}
	// Delivered to listeners only when the transaction commits.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.pchan, strconv.FormatInt(seq(), 10)); err != nil {
		return s.fail(ctx, err, what+": notifying")
	}
	if err := tx.Commit(ctx); err != nil {
		// If the connection broke during the commit, the outcome is
		// unknown (store.ErrUnavailable says so).
		return s.fail(ctx, err, what+": committing")
	}
	s.publishSeq(uint64(seq()))
	return nil
}

// policyTime is the time of a new entry, in microseconds, as timestamptz
// keeps it, so Publish returns the time CurrentPolicy reads back.
func policyTime() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// CurrentPolicy implements store.Policies.
func (s *Store) CurrentPolicy(ctx context.Context) (store.PolicyVersion, error) {
	if err := s.usable(); err != nil {
		return store.PolicyVersion{}, err
	}
	var v store.PolicyVersion
	var seq, of int64
	err := s.pool.QueryRow(ctx, `SELECT seq, version, name, text, time, coalesce(rollback_of, 0)
		FROM `+s.schema+`.store_policies ORDER BY seq DESC LIMIT 1`).Scan(&seq, &v.Version, &v.Name, &v.Text, &v.Time, &of)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.PolicyVersion{}, store.ErrNoPolicy
	}
	if err != nil {
		return store.PolicyVersion{}, s.fail(ctx, err, "reading the current policy")
	}
	v.Seq, v.Time, v.RollbackOf = uint64(seq), v.Time.UTC(), uint64(of)
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
	rows, err := s.pool.Query(ctx, `SELECT seq, version, name, time, coalesce(rollback_of, 0)
		FROM `+s.schema+`.store_policies ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, s.fail(ctx, err, "reading the policy history")
	}
	var out []store.PolicyVersion
	var v store.PolicyVersion
	var seq, of int64
	_, err = pgx.ForEachRow(rows, []any{&seq, &v.Version, &v.Name, &v.Time, &of}, func() error {
		out = append(out, store.PolicyVersion{Seq: uint64(seq), Version: v.Version, Name: v.Name, Time: v.Time.UTC(), RollbackOf: uint64(of)})
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, err, "reading the policy history")
	}
	return out, nil
}

// WaitPolicy implements store.Policies. As Wait, the first call starts
// the listener, which learns of every publish and rollback by
// notification at once, and reads the newest Seq every poll interval in
// case a notification was lost.
func (s *Store) WaitPolicy(ctx context.Context, after uint64) (uint64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	for {
		s.mu.Lock()
		s.startListener()
		known, wake := s.knownSeq, s.wake
		s.mu.Unlock()
		if s.closed.Load() {
			return 0, store.ErrClosed
		}
		if known > after {
			return known, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// publishSeq records that policy Seq seq is committed and wakes every
// waiter.
func (s *Store) publishSeq(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > s.knownSeq && !s.closed.Load() {
		s.knownSeq = seq
		close(s.wake)
		s.wake = make(chan struct{})
	}
}
