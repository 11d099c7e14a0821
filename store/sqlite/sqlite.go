// Package sqlite is warden's embedded default data store (SPEC 10.6): one
// SQLite file holding the memberships, the grants, the changelog and the
// published policy versions (SPEC 11.3), implementing store.Store,
// store.Notifier and store.Policies. It uses modernc.org/sqlite, a pure-Go
// SQLite, so warden still builds with CGO_ENABLED=0.
//
// # Tables
//
// Every table's name starts with store_, so the file can also hold the
// audit log of audit/sqlite (whose table is events): one file, two
// schemas, each with its own version.
//
//	store_schema_version  the schema version (one row)
//	store_revision        the latest revision (one row)
//	store_memberships     pos, kind (1 member, 2 resource), name, grp
//	store_grants          pos, rule, effect (1 allow, 2 deny), subject, resource, action
//	store_changes         revision, count, changes: one row per revision that changed
//	                      something, its changes as a JSON array (store/internal/changelog)
//	store_policies        seq, version, name, text, time, rollback_of: the policy
//	                      history, one row per publish or rollback
//
// pos is a record's position, (Added << 20) | Index: an INTEGER PRIMARY
// KEY, so each table is stored in position order, appends at its end, and
// reads in List's order without sorting. The changelog keeps a revision's
// changes in one row: a batch then writes one changelog row, not one per
// change, which was a third of a batch's cost, and Changes returns whole
// revisions anyway. Indexes: store_memberships (kind, name,
// grp), unique, finds the record a write names and serves the member and
// resource filters; (grp) serves the group filter. store_grants (resource,
// action, subject, rule, effect), unique, finds a grant and serves the
// resource filter; (subject) and (rule) serve theirs. The grants' key
// leads with the resource because grants are mostly written resource by
// resource (a new document shared with several people): the long key
// then takes the clustered inserts and the short (subject) index the
// scattered ones, which costs a fifth less than the other way round
// (docs/performance.md). An index holds the
// row's pos after its columns, so a filter on one column reads its rows
// already in position order and stops after a page. Names are stored byte
// for byte and compared bytewise (BINARY collation), as Go compares
// strings.
//
// # Durability
//
// WAL mode with synchronous=FULL, as audit/sqlite: a batch is one
// transaction, and Write returns only after it committed, which under
// FULL means after the write-ahead log was fsynced, so an acknowledged
// batch survives a crash of the process and of the machine. It costs one
// fsync per batch, whatever its size.
//
// All writes go through one connection; SQLite allows one writer at a
// time anyway, and queueing writers in database/sql means concurrent
// Writes wait their turn (honouring their contexts) rather than fail with
// SQLITE_BUSY. A batch begins IMMEDIATE, so its revision is read and
// written under SQLite's write lock: revisions stay gapless even when
// another process (the CLI) writes the same file. Reads use a pool of
// read-only connections, which WAL runs alongside the writer, each read in
// one transaction so it sees one revision.
//
// # Changelog
//
// Every change is kept: Changes can answer from any revision, so an
// instance that was away for a long time catches up change by change
// rather than reloading everything, and the changelog is the history of
// who was given what, and when it was taken back.
//
// # Policy versions
//
// A publish or a rollback is one IMMEDIATE transaction, like a batch,
// that inserts the row numbered one past the newest Seq, so Seqs are
// gapless whichever process publishes. A version's text is a BLOB, kept
// byte for byte; a rollback copies the restored row's text inside the
// database. An index on (version, seq) finds the newest entry of a
// version for a rollback.
//
// # Notifications
//
// Wait and WaitPolicy wake at once on a commit made through the same
// Store, and poll the revision or the newest Seq every 250 ms for
// commits made by other processes or other Stores on the same file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/warden-authz/warden/store"
)

// SchemaVersion is the schema version this code writes
// (store_schema_version): the number of migrations. Version 2 added
// store_policies.
const SchemaVersion = 2

// applicationID marks a SQLite file as warden's (PRAGMA application_id,
// "wAud"). audit/sqlite sets and checks the same value, so either may
// create a file and the other add its tables to it.
const applicationID = 0x77417564

// posShift places a batch's write index in the low bits of a position.
const posShift = 20

// maxRevision is the last revision a position can hold (2^43 - 1: at a
// million batches a second, 278 years).
const maxRevision = 1<<(63-posShift) - 1

// A batch's write indexes must fit below posShift.
const _ = uint(1<<posShift - store.MaxBatch)

// pollInterval is how often Wait reads the revision, for commits made
// outside this Store.
const pollInterval = 250 * time.Millisecond

// Errors of Open.
var (
	// ErrNewerSchema: the file was written by a newer warden.
	ErrNewerSchema = errors.New("store/sqlite: database schema is newer than this warden supports")
	// ErrNotWardenDB: the file is another application's database.
	ErrNotWardenDB = errors.New("store/sqlite: not a warden database")
)

// migrations[i] takes the store's tables from version i to i+1. Append
// only: never edit a migration that has shipped.
var migrations = [][]string{
	{
		`CREATE TABLE store_revision (
			id       INTEGER PRIMARY KEY CHECK (id = 1),
			revision INTEGER NOT NULL CHECK (revision >= 0)
		) STRICT`,
		`INSERT INTO store_revision (id, revision) VALUES (1, 0)`,
		`CREATE TABLE store_memberships (
			pos  INTEGER PRIMARY KEY,
			kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
			name TEXT    NOT NULL,
			grp  TEXT    NOT NULL
		) STRICT`,
		`CREATE UNIQUE INDEX store_memberships_key ON store_memberships (kind, name, grp)`,
		`CREATE INDEX store_memberships_grp ON store_memberships (grp)`,
		`CREATE TABLE store_grants (
			pos      INTEGER PRIMARY KEY,
			rule     TEXT    NOT NULL,
			effect   INTEGER NOT NULL CHECK (effect IN (1, 2)),
			subject  TEXT    NOT NULL,
			resource TEXT    NOT NULL,
			action   TEXT    NOT NULL
		) STRICT`,
		`CREATE UNIQUE INDEX store_grants_key ON store_grants (resource, action, subject, rule, effect)`,
		`CREATE INDEX store_grants_rule ON store_grants (rule)`,
		`CREATE INDEX store_grants_subject ON store_grants (subject)`,
		`CREATE TABLE store_changes (
			revision INTEGER PRIMARY KEY,
			count    INTEGER NOT NULL CHECK (count > 0),
			changes  TEXT    NOT NULL
		) STRICT`,
	},
	{
		// time is in microseconds since 1970 (UTC), as PostgreSQL keeps
		// it, so a version's time is the same in every store.
		`CREATE TABLE store_policies (
			seq         INTEGER PRIMARY KEY CHECK (seq > 0),
			version     TEXT    NOT NULL,
			name        TEXT    NOT NULL,
			text        BLOB    NOT NULL,
			time        INTEGER NOT NULL,
			rollback_of INTEGER CHECK (rollback_of > 0 AND rollback_of < seq)
		) STRICT`,
		`CREATE INDEX store_policies_version ON store_policies (version, seq)`,
	},
}

// Store is a SQLite data store, safe for concurrent use. Make one with
// Open: the zero Store, like a nil *Store, is closed: every method
// returns store.ErrClosed, and Close returns nil.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections

	stmts [nStmts]*sql.Stmt // prepared on w

	closed    atomic.Bool
	closeOnce sync.Once

	mu   sync.Mutex
	wake chan struct{} // closed, and replaced, at each commit and at Close
}

// The writer's prepared statements.
const (
	stmtRevision = iota
	stmtSetRevision
	stmtAddMembership
	stmtRemoveMembership
	stmtAddGrant
	stmtRemoveGrant
	stmtChange
	nStmts
)

var stmtSQL = [nStmts]string{
	stmtRevision:         `SELECT revision FROM store_revision WHERE id = 1`,
	stmtSetRevision:      `UPDATE store_revision SET revision = ? WHERE id = 1`,
	stmtAddMembership:    `INSERT INTO store_memberships (pos, kind, name, grp) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	stmtRemoveMembership: `DELETE FROM store_memberships WHERE kind = ? AND name = ? AND grp = ?`,
	stmtAddGrant:         `INSERT INTO store_grants (pos, rule, effect, subject, resource, action) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	stmtRemoveGrant:      `DELETE FROM store_grants WHERE subject = ? AND resource = ? AND action = ? AND rule = ? AND effect = ?`,
	stmtChange:           `INSERT INTO store_changes (revision, count, changes) VALUES (?, ?, ?)`,
}

// Connection settings, per connection, in the DSN (as audit/sqlite).
const (
	pragmaBusy   = "_pragma=busy_timeout(10000)"
	writerParams = pragmaBusy +
		"&_txlock=immediate" +
		"&_journal_mode=WAL" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=cache_size(-65536)" +
		"&_pragma=wal_autocheckpoint(10000)" +
		"&_pragma=journal_size_limit(67108864)"
	readerParams = pragmaBusy +
		"&_pragma=cache_size(-65536)" +
		"&_pragma=query_only(1)"
)

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens the data store at path, creating the file if needed and
// migrating the store's tables to SchemaVersion. The file may already
// hold warden's audit log. Close the store when done.
func Open(path string) (*Store, error) {
	return open(path, SchemaVersion)
}

// open opens the store at path, migrating its tables to version target;
// tests open older versions to check the migrations from them.
func open(path string, target int) (*Store, error) {
	if path == "" {
		return nil, errors.New("store/sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: %w", err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	uri := "file:" + uriEscaper.Replace(p)

	w, err := sql.Open("sqlite", uri+"?"+writerParams)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, wake: make(chan struct{})}
	if err := s.init(context.Background(), target); err != nil {
		s.closeStmts()
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", uri+"?"+readerParams)
	if err != nil {
		s.closeStmts()
		w.Close()
		return nil, fmt.Errorf("store/sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	return s, nil
}

func (s *Store) init(ctx context.Context, target int) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store/sqlite: opening database: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store/sqlite: database is in journal mode %q, not WAL (is it on a network file system?)", mode)
	}
	if err := migrate(ctx, s.w, target); err != nil {
		return err
	}
	for i, q := range stmtSQL {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store/sqlite: preparing statements: %w", err)
		}
		s.stmts[i] = st
	}
	return nil
}

// migrate brings the store's tables to version target (SchemaVersion
// but in tests) in one IMMEDIATE transaction, so two processes opening a
// new file do not both migrate it, and a crash mid-migration leaves the
// old version.
func migrate(ctx context.Context, db *sql.DB, target int) error {
	if len(migrations) != SchemaVersion {
		return fmt.Errorf("store/sqlite: internal error: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	if target < 1 || target > SchemaVersion {
		return fmt.Errorf("store/sqlite: internal error: no schema version %d", target)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store/sqlite: migrating: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var appID, userVersion, objects int64
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("store/sqlite: reading application id: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&userVersion); err != nil {
		return fmt.Errorf("store/sqlite: reading user version: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return fmt.Errorf("store/sqlite: reading schema: %w", err)
	}
	// A file is warden's when it has warden's application_id, or is new.
	// Anything else is some other program's database.
	switch {
	case appID == applicationID:
	case appID != 0:
		return fmt.Errorf("%w (application_id %#x)", ErrNotWardenDB, appID)
	case userVersion != 0:
		// user_version is audit/sqlite's schema version: marking this
		// file as warden's would make it read another program's version
		// as its own.
		return fmt.Errorf("%w (user_version %d without warden's application_id)", ErrNotWardenDB, userVersion)
	case objects != 0:
		return fmt.Errorf("%w (it has %d schema objects but no warden application_id)", ErrNotWardenDB, objects)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS store_schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("store/sqlite: migrating: %w", err)
	}
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM store_schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("store/sqlite: reading schema version: %w", err)
	}
	switch {
	case version > int64(target):
		return fmt.Errorf("%w: the store's tables have version %d, this code knows up to %d", ErrNewerSchema, version, target)
	case version < 0:
		return fmt.Errorf("%w (schema version %d)", ErrNotWardenDB, version)
	}
	for v := int(version); v < target; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store/sqlite: migrating schema to version %d: %w", v+1, err)
			}
		}
	}
	if version != int64(target) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM store_schema_version`); err != nil {
			return fmt.Errorf("store/sqlite: setting schema version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO store_schema_version (version) VALUES (?)`, target); err != nil {
			return fmt.Errorf("store/sqlite: setting schema version: %w", err)
		}
	}
	if appID == 0 {
		// A constant: PRAGMAs take no bound parameters.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return fmt.Errorf("store/sqlite: setting application id: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: committing migration: %w", err)
	}
	return nil
}

// usable reports store.ErrClosed for a nil, zero or closed store.
func (s *Store) usable() error {
	if s == nil || s.w == nil || s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// fail wraps a database error: store.ErrClosed when the store was closed
// meanwhile, store.ErrUnavailable when SQLite could not reach or lock the
// file (a retry may succeed), the error itself otherwise.
func (s *Store) fail(err error, what string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var serr *msqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return fmt.Errorf("store/sqlite: %s: %w: %w", what, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("store/sqlite: %s: %w", what, err)
}

// Close closes the store and wakes every Wait. Every Write that returned
// is on disk already, so there is nothing to flush.
func (s *Store) Close() error {
	if s == nil || s.w == nil {
		return nil
	}
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.mu.Lock()
		close(s.wake)
		s.mu.Unlock()
		err = errors.Join(s.closeStmts(), s.r.Close(), s.w.Close())
		if err != nil {
			err = fmt.Errorf("store/sqlite: closing: %w", err)
		}
	})
	return err
}

func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range s.stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// pos returns the position of write index of revision rev.
func pos(rev store.Revision, index int) int64 { return int64(rev)<<posShift | int64(index) }

// unpos splits a position.
func unpos(p int64) (store.Revision, int) {
	return store.Revision(p >> posShift), int(p & (1<<posShift - 1))
}
