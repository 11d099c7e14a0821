// Package postgres is warden's PostgreSQL data store (SPEC 10.6, 11): the
// shared store of a fleet of warden instances, implementing store.Store,
// store.Notifier and store.Policies on top of pgx/v5 and pgxpool.
//
// # Tables
//
// In the schema given by Options.Schema ("warden" by default), beside the
// audit log of audit/postgres if it shares the schema (its tables are
// events and schema_version; every table here starts with store_):
//
//	store_schema_version  the schema version of these tables (one row)
//	store_revision        the latest revision (one row, locked by every write)
//	store_memberships     pos, kind (1 member, 2 resource), name, grp
//	store_grants          pos, rule, effect (1 allow, 2 deny), subject, resource, action
//	store_changes         revision, count, changes: one row per revision that changed
//	                      something, its changes as a JSON array (store/internal/changelog)
//	store_policies        seq, version, name, text (bytea), time, rollback_of: the
//	                      policy history, one row per publish or rollback
//
// pos is a record's position, (Added << 20) | Index, and the records'
// tables' primary key. Unique keys (kind, name, grp) and (resource,
// action, subject, rule, effect) find the record a write names and serve
// the member and resource filters; indexes (grp, pos), (subject, pos) and
// (rule, pos) serve the others in position order. The layout is
// store/sqlite's, for the reasons given there. Text columns use COLLATE "C", so names
// compare bytewise. Every name is a valid name (store.Batch.Check), which
// holds neither NUL nor invalid UTF-8, so PostgreSQL text stores it as it
// is.
//
// # Revisions
//
// A batch is one transaction that first locks the single row of
// store_revision (SELECT … FOR UPDATE). Writers in every process and
// every pool therefore take revisions one at a time: the next writer
// reads the revision the last one committed, and a transaction that fails
// rolls back its revision with everything else, so revisions are gapless,
// and a reader that has seen revision R has seen every change up to R.
// The writes are applied in a few round trips whatever the batch's size:
// the records the batch names are read, the batch is replayed over them
// in Go to find its effective changes, and deletes, inserts, the
// changelog, the new revision and the notification go in one pipeline.
//
// Write returns once the commit is acknowledged. Connections run with
// synchronous_commit on at least (a server set to off is overridden), so
// an acknowledged batch survives a crash of the server too.
//
// # Policy versions
//
// A publish or a rollback is one transaction that first locks
// store_policies in SHARE ROW EXCLUSIVE mode: publishers in every process
// take Seqs one at a time, as writers take revisions, while readers go
// on. It inserts the row numbered one past the newest and notifies it. A
// rollback copies the restored row, text included, inside the database.
// An index on (version, seq) finds the newest entry of a version.
//
// # Notifications
//
// Each commit sends NOTIFY on a channel named after the schema, with the
// revision as its payload; each publish and rollback on a second one,
// with its Seq. The first Wait or WaitPolicy starts a listener on a
// connection of its own: it LISTENs on both, and every poll interval (one
// second unless Options.PollInterval says otherwise) it also reads the
// revision and the newest Seq, so a lost notification only delays a
// reader, and a silently dead connection is found. Its application_name
// is the pool's with " listener" added. When the connection breaks, the
// listener reconnects with backoff, at once when a query of the pool
// succeeds meanwhile (so after an outage notifications resume with the
// first poll that reaches the database), and reads both once it is back. So
// every instance of a fleet learns of a publish at once, and within a
// poll interval if the notification is lost.
//
// # Errors
//
// An error that comes from the database being unreachable (a refused or
// broken connection, a server shutting down, too many connections) wraps
// store.ErrUnavailable; a retry may succeed. A Write, or the start of a
// read, that meets a connection the server had already closed (the pool
// hands out one idle for under a second unchecked, so after
// pg_terminate_backend or a restart of the server the next few do) runs
// again on a new connection, as nothing of it took effect; only a Write
// whose connection breaks during its commit fails, its outcome unknown.
// Errors never show the password of the connection string.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warden-authz/warden/store"
)

// SchemaVersion is the version of the store's tables this code writes:
// the number of migrations. Version 2 added store_policies.
const SchemaVersion = 2

// DefaultSchema is the schema used when Options.Schema is empty; the
// audit log's default too, so the two share it.
const DefaultSchema = "warden"

// DefaultPollInterval is how often the listener reads the revision when
// no notification came.
const DefaultPollInterval = time.Second

// ErrNewerSchema: the store's tables were written by a newer warden.
var ErrNewerSchema = errors.New("store/postgres: database schema is newer than this warden supports")

// posShift places a batch's write index in the low bits of a position.
const posShift = 20

// maxRevision is the last revision a position can hold.
const maxRevision = 1<<(63-posShift) - 1

// A batch's write indexes must fit below posShift.
const _ = uint(1<<posShift - store.MaxBatch)

// Options configure Open. A nil *Options means the defaults.
type Options struct {
	// Schema holds the tables; default DefaultSchema. It is created if
	// missing.
	Schema string
	// PollInterval is how often Wait's listener reads the revision when
	// no notification came; default DefaultPollInterval.
	PollInterval time.Duration
}

// migrations[i] takes the store's tables from version i to i+1. Append
// only. %[1]s is the quoted schema name.
var migrations = [][]string{
	{
		`CREATE TABLE %[1]s.store_revision (
			id       boolean PRIMARY KEY DEFAULT true CHECK (id),
			revision bigint  NOT NULL CHECK (revision >= 0)
		)`,
		`INSERT INTO %[1]s.store_revision (id, revision) VALUES (true, 0)`,
		`CREATE TABLE %[1]s.store_memberships (
			pos  bigint   PRIMARY KEY,
			kind smallint NOT NULL CHECK (kind IN (1, 2)),
			name text COLLATE "C" NOT NULL,
			grp  text COLLATE "C" NOT NULL,
			CONSTRAINT store_memberships_key UNIQUE (kind, name, grp)
		)`,
		`CREATE INDEX store_memberships_grp ON %[1]s.store_memberships (grp, pos)`,
		`CREATE TABLE %[1]s.store_grants (
			pos      bigint   PRIMARY KEY,
			rule     text COLLATE "C" NOT NULL,
			effect   smallint NOT NULL CHECK (effect IN (1, 2)),
			subject  text COLLATE "C" NOT NULL,
			resource text COLLATE "C" NOT NULL,
			action   text COLLATE "C" NOT NULL,
			CONSTRAINT store_grants_key UNIQUE (resource, action, subject, rule, effect)
		)`,
		`CREATE INDEX store_grants_subject ON %[1]s.store_grants (subject, pos)`,
		`CREATE INDEX store_grants_rule ON %[1]s.store_grants (rule, pos)`,
		`CREATE TABLE %[1]s.store_changes (
			revision bigint  PRIMARY KEY,
			count    integer NOT NULL CHECK (count > 0),
			changes  text    NOT NULL
		)`,
	},
	{
		`CREATE TABLE %[1]s.store_policies (
			seq         bigint      PRIMARY KEY CHECK (seq > 0),
			version     text COLLATE "C" NOT NULL,
			name        text COLLATE "C" NOT NULL,
			text        bytea       NOT NULL,
			time        timestamptz NOT NULL,
			rollback_of bigint      CHECK (rollback_of > 0 AND rollback_of < seq)
		)`,
		`CREATE INDEX store_policies_version ON %[1]s.store_policies (version, seq)`,
	},
}

// Store is a PostgreSQL data store, safe for concurrent use. Make one
// with Open: the zero Store, like a nil *Store, is closed: every method
// returns store.ErrClosed, and Close returns nil.
type Store struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for the listener's own connection
	schema  string          // quoted
	channel string          // notified of each revision
	pchan   string          // notified of each policy Seq
	lockKey string
	poll    time.Duration

	closed    atomic.Bool
	closeOnce sync.Once
	stop      context.CancelFunc // stops the listener
	stopCtx   context.Context

	mu        sync.Mutex
	known     store.Revision // the latest revision seen committed
	knownSeq  uint64         // the newest policy Seq seen committed
	wake      chan struct{}  // closed, and replaced, when known or knownSeq grows and at Close
	listening bool
	done      chan struct{} // closed when the listener has stopped
	connects  int           // listener connections made, for tests
	retried   int           // operations run again after a lost connection, for tests

	// listenerAway is set while the listener runs without a listening
	// connection; kick cuts its backoff short (reached). backoffMin and
	// backoffMax are minBackoff and maxBackoff but in tests.
	listenerAway           atomic.Bool
	kick                   chan struct{}
	backoffMin, backoffMax time.Duration
}

// Open connects to dsn, creates the schema if needed and migrates the
// store's tables to SchemaVersion. If the database cannot be reached the
// error wraps store.ErrUnavailable. Close the store when done.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	return open(ctx, dsn, opts, SchemaVersion)
}

// open opens the store, migrating its tables to version target; tests
// open older versions to check the migrations from them.
func open(ctx context.Context, dsn string, opts *Options, target int) (*Store, error) {
	schema, poll := DefaultSchema, DefaultPollInterval
	if opts != nil {
		if opts.Schema != "" {
			schema = opts.Schema
		}
		if opts.PollInterval < 0 {
			return nil, fmt.Errorf("store/postgres: negative poll interval %v", opts.PollInterval)
		}
		if opts.PollInterval > 0 {
			poll = opts.PollInterval
		}
	}
	cfg, err := pgxpool.ParseConfig(dsn) // its errors hide the password
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "warden"
	}
	cfg.AfterConnect = durableCommits
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	sum := sha256.Sum256([]byte(schema))
	stopCtx, stop := context.WithCancel(context.Background())
	listenCfg := cfg.ConnConfig.Copy()
	// So an operator (and a test) can tell the listener in pg_stat_activity.
	listenCfg.RuntimeParams["application_name"] += " listener"
	s := &Store{
		pool:    pool,
		connCfg: listenCfg,
		schema:  pgx.Identifier{schema}.Sanitize(),
		// A channel name is at most 63 bytes and a schema name may be as
		// long: a digest keeps it short and one per schema.
		channel: "warden_store_" + hex.EncodeToString(sum[:8]),
		pchan:   "warden_policy_" + hex.EncodeToString(sum[:8]),
		lockKey: "warden/store/" + schema,
		poll:    poll,
		stop:    stop,
		stopCtx: stopCtx,
		wake:    make(chan struct{}),
		kick:    make(chan struct{}, 1),

		backoffMin: minBackoff,
		backoffMax: maxBackoff,
	}
	if err := s.migrate(ctx, target); err != nil {
		stop()
		pool.Close()
		return nil, err
	}
	return s, nil
}

// durableCommits makes sure a connection does not acknowledge commits
// before they are on disk: synchronous_commit = off would lose the last
// acknowledged batches in a crash of the server.
func durableCommits(ctx context.Context, conn *pgx.Conn) error {
	var v string
	if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		return err
	}
	if v == "off" {
		_, err := conn.Exec(ctx, `SET synchronous_commit = on`)
		return err
	}
	return nil
}

// migrate brings the store's tables to version target (SchemaVersion but
// in tests) in one transaction.
func (s *Store) migrate(ctx context.Context, target int) error {
	if len(migrations) != SchemaVersion {
		return fmt.Errorf("store/postgres: internal error: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	if target < 1 || target > SchemaVersion {
		return fmt.Errorf("store/postgres: internal error: no schema version %d", target)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.fail(ctx, err, "migrating")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Concurrent Opens of a new schema wait for each other here.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, s.lockKey); err != nil {
		return s.fail(ctx, err, "migrating: locking")
	}
	for _, stmt := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s.schema,
		`CREATE TABLE IF NOT EXISTS ` + s.schema + `.store_schema_version (version integer NOT NULL)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return s.fail(ctx, err, "migrating")
		}
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.schema+`.store_schema_version`).Scan(&version); err != nil {
		return s.fail(ctx, err, "reading the schema version")
	}
	switch {
	case version > target:
		return fmt.Errorf("%w: the store's tables have version %d, this code knows up to %d", ErrNewerSchema, version, target)
	case version < 0:
		return fmt.Errorf("store/postgres: schema version %d is invalid", version)
	case version == target:
		return tx.Commit(ctx)
	}
	for v := version; v < target; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.Exec(ctx, fmt.Sprintf(stmt, s.schema)); err != nil {
				return s.fail(ctx, err, fmt.Sprintf("migrating the schema to version %d", v+1))
			}
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.schema+`.store_schema_version`); err != nil {
		return s.fail(ctx, err, "setting the schema version")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.store_schema_version (version) VALUES ($1)`, target); err != nil {
		return s.fail(ctx, err, "setting the schema version")
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail(ctx, err, "committing the migration")
	}
	return nil
}

// usable reports store.ErrClosed for a nil, zero or closed store.
func (s *Store) usable() error {
	if s == nil || s.pool == nil || s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// fail wraps a database error: store.ErrClosed when the store was closed
// meanwhile; the context's error when ctx ended; store.ErrUnavailable
// when the database could not be reached; the error itself otherwise.
func (s *Store) fail(ctx context.Context, err error, what string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if ctx.Err() != nil {
		return fmt.Errorf("store/postgres: %s: %w", what, err)
	}
	if unreachable(err) {
		return fmt.Errorf("store/postgres: %s: %w: %w", what, store.ErrUnavailable, err)
	}
	return fmt.Errorf("store/postgres: %s: %w", what, err)
}

// unreachable reports whether err says the database could not be
// reached, rather than that it refused a statement.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),                                 // insufficient resources: too many connections, disk full
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutting down, crashed, starting up
			pgErr.Code == "25006": // read-only transaction: a standby, or a primary that was demoted
			return true
		}
		return false
	}
	// Anything else comes from the connection: a refused or broken one,
	// a dead server, a closed pool.
	return true
}

// lost reports whether err says that the connection a statement ran on
// was lost, terminated by the server (pg_terminate_backend, a restart)
// or broken, rather than that the database could not be reached or
// refused the statement. The pool hands out a connection that has been
// idle for under a second without checking it, so once the server has
// severed every connection, the next few operations meet dead ones; one
// that did not commit can run again on a new connection.
func lost(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || strings.HasPrefix(pgErr.Code, "08")
	}
	// Only what the connection itself reports: an error of the store's
	// own (a revision conflict, an invalid batch, the last revision) or
	// of encoding fails the same way on any connection, and retrying it
	// would only take the revision lock again.
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err)
}

// retry reports whether an operation that failed with err at its
// attempt-th try, before anything of it took effect, is to run again:
// when its connection was lost, while ctx and the store are open, at
// most once per connection the pool holds and once more, since each
// failure discards a dead connection.
func (s *Store) retry(ctx context.Context, err error, attempt int) bool {
	if !lost(err) || ctx.Err() != nil || s.closed.Load() || attempt > int(s.pool.Config().MaxConns) {
		return false
	}
	s.mu.Lock()
	s.retried++
	s.mu.Unlock()
	return true
}

// Close stops the listener, wakes every Wait and closes the pool. Every
// Write that returned has committed, so there is nothing to flush.
func (s *Store) Close() error {
	if s == nil || s.pool == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stop()
		s.mu.Lock()
		done := s.done
		close(s.wake)
		s.mu.Unlock()
		if done != nil {
			<-done
		}
		s.pool.Close()
	})
	return nil
}

// pos returns the position of write index of revision rev.
func pos(rev store.Revision, index int) int64 { return int64(rev)<<posShift | int64(index) }

// unpos splits a position.
func unpos(p int64) (store.Revision, int) {
	return store.Revision(p >> posShift), int(p & (1<<posShift - 1))
}
