// Package sqlite is warden's embedded default audit store (SPEC 8.2): a
// single SQLite file that implements audit.Sink, audit.BatchSink and
// audit.Querier. It uses modernc.org/sqlite, a pure-Go SQLite, so warden
// still builds with CGO_ENABLED=0.
//
// # What is stored
//
// One row per audit.Event in the table events (STRICT, WITHOUT ROWID):
//
//	id             TEXT, the key      the UUIDv7; ids sort by time, and results come back in id order
//	time_ns        INTEGER            Event.Time as nanoseconds since the Unix epoch, UTC
//	subject, action, resource, status, rule, reason, policy_version, error   TEXT, byte for byte
//	allowed        INTEGER            0 or 1
//	latency_ns     INTEGER            Event.Latency in nanoseconds
//	revision       INTEGER            Event.Revision, the store revision the decision saw; 0 for none (and for rows written before schema version 3)
//	fields         TEXT               Event.Fields as a JSON object; NULL when Fields is nil
//
// The string columns hold exactly what was given, bytes and all: quotes,
// newlines, NULs, invalid UTF-8 and megabyte values come back unchanged.
// Fields are stored as audit.EncodeFields writes them (JSON, with each byte
// of invalid UTF-8 as the escape \udcXX), so they come back as
// audit.DecodeFields reads them: numbers as json.Number (exact, where
// float64 would round 2^53+1), objects as map[string]any, arrays as []any,
// strings byte for byte. An event that cannot be stored unchanged is
// refused with an error wrapping audit.ErrRefused, never altered
// (WriteBatch lists the cases): a Time outside int64 nanoseconds (years
// 1678 to 2262, so not the zero Time), a Revision above math.MaxInt64
// (an SQLite INTEGER is signed; no store of warden's counts that far),
// or Fields that JSON has no form for, such as a NaN.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL. A batch is one
// transaction, and WriteBatch returns nil only after it has committed,
// which under FULL means after the write-ahead log was fsynced: an
// acknowledged event survives a process crash and also an operating-system
// crash or power loss. synchronous=NORMAL would survive a process crash
// (the WAL pages are in the kernel's cache once COMMIT returns) but may roll
// back the last commits on power loss, and SPEC 8.2 says nothing
// acknowledged is lost. FULL costs one fsync per commit; batches
// (audit.Async writes through WriteBatch) spread it over many events, so
// only a caller that uses Record directly, one event per transaction, pays
// it per event.
//
// All writes go through one connection. SQLite allows one writer at a time
// anyway; queueing writers in database/sql instead of in SQLite means
// concurrent WriteBatch calls wait their turn (honouring their contexts)
// rather than fail with SQLITE_BUSY. The writer begins its transactions
// IMMEDIATE, and every connection has a busy timeout, for the case of
// another process (a CLI reading or writing the same file). Readers use
// their own pool of read-only connections, which WAL lets run alongside the
// writer.
//
// # Schema versions
//
// PRAGMA user_version holds the schema version; the list of migrations
// (migrations) is applied in order, from the file's version up to
// SchemaVersion, in one transaction when the store is opened, so a crash
// mid-migration leaves the old version intact. A file whose version is
// newer than this code knows is refused (ErrNewerSchema) rather than
// written by code that does not understand it. PRAGMA application_id marks
// the file as warden's: a SQLite file that is neither new (empty) nor
// marked is another program's, and is refused (ErrNotAuditDB) rather than
// written into.
//
// # Queries
//
// Query compiles the audit.Query (audit.Query.Compile) and pushes what SQL
// can say exactly into the WHERE clause, always as bound parameters:
// subject, status, allowed, the time range, the id cursor (After), and the
// patterns' literal parts. A literal pattern ("articles:42") becomes an
// equality. Otherwise the pattern's literal prefix — everything before its
// first glob, alternative or '*' segment — becomes a range on the column:
// "articles:*" is resource >= 'articles:' AND resource < 'articles;' (the
// prefix with its last byte incremented). SQLite compares TEXT bytewise
// (BINARY collation), as Go compares strings, so the range selects exactly
// the names that start with the prefix, and no escaping is involved, unlike
// LIKE. Rows are read in id order and filtered again with
// audit.Matcher.Match, which decides patterns exactly; reading stops once
// Limit events matched or the rows run out, so a pattern that rejects most
// candidates still returns a full page.
//
// Indexes: (subject, id) and (status, id) let SQLite walk one subject's or
// one status's events already in id order and stop after a page. (time_ns)
// serves queries bounded on both sides by time only; its order is not id
// order, so those sort the ids of the range (the index holds them) and
// then fetch only the page's rows. Any other query reads the table, whose
// key is the id, in id order, checking every condition, the patterns'
// prefix ranges included, inside SQLite.
//
// Resources and actions are deliberately not indexed. Each index is paid
// for on every write, and one whose key is not time-ordered the most: a
// batch dirties about one index page per distinct key in it, so a resource
// index cost about a quarter of the write throughput (measured). A
// resource query that has no subject or status narrows by scanning, about
// 0.2 s per million events when nothing stops it early.
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

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SchemaVersion is the schema version this code writes (PRAGMA
// user_version): the number of migrations.
const SchemaVersion = 3

// applicationID is PRAGMA application_id for warden audit files: "wAud".
const applicationID = 0x77417564

// ErrNotOpen: the Store is a zero value or nil, not made by Open.
var ErrNotOpen = errors.New("audit/sqlite: store not opened (use Open)")

// Errors of Open.
var (
	// ErrNewerSchema: the file was written by a newer warden; opening it
	// with this one could corrupt it, so it is refused.
	ErrNewerSchema = errors.New("audit/sqlite: database schema is newer than this warden supports")
	// ErrNotAuditDB: the file is another application's SQLite database.
	ErrNotAuditDB = errors.New("audit/sqlite: not a warden audit database")
)

// migrations[i] takes a database from schema version i to i+1. Append only:
// never edit a migration that has shipped, since files out there are
// already at its version.
var migrations = [][]string{
	// 1: the events table and its indexes. STRICT makes SQLite refuse a
	// value of the wrong type instead of converting it. WITHOUT ROWID
	// makes the id the table's own key: one B-tree per event instead of a
	// rowid table plus a unique index on id, which is cheaper to write,
	// and scans in id order read the table directly.
	//
	// Every index costs write throughput, and one whose key is not
	// time-ordered costs most: each batch dirties a page per distinct key
	// (per subject, here). So there are only the indexes the common
	// queries need (package doc); resource and action patterns are
	// narrowed in SQL but not indexed.
	{
		`CREATE TABLE events (
			id             TEXT    NOT NULL PRIMARY KEY,
			time_ns        INTEGER NOT NULL,
			subject        TEXT    NOT NULL,
			action         TEXT    NOT NULL,
			resource       TEXT    NOT NULL,
			allowed        INTEGER NOT NULL,
			status         TEXT    NOT NULL,
			rule           TEXT    NOT NULL,
			reason         TEXT    NOT NULL,
			latency_ns     INTEGER NOT NULL,
			policy_version TEXT    NOT NULL,
			error          TEXT    NOT NULL,
			fields         TEXT
		) STRICT, WITHOUT ROWID`,
		`CREATE INDEX events_subject_id ON events (subject, id)`,
		`CREATE INDEX events_status_id ON events (status, id)`,
		`CREATE INDEX events_time ON events (time_ns)`,
	},
	// 2: resource patterns with a literal prefix ("doc:*",
	// "articles:animals:*") read this index instead of the whole table
	// (219 ms on 100,000 events before it, for a page of a rare prefix).
	{
		`CREATE INDEX events_resource_id ON events (resource, id)`,
	},
	// 3: the store revision the decision saw (audit.Event.Revision).
	// Rows written before it have none: 0, which the default gives them
	// without rewriting the table.
	{
		`ALTER TABLE events ADD COLUMN revision INTEGER NOT NULL DEFAULT 0`,
	},
}

// Store is a SQLite audit store. It is safe for concurrent use. Make one
// with Open: a zero or nil Store stores nothing, its Record, WriteBatch
// and Query fail with ErrNotOpen, and its Close returns nil.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections for queries

	insert *sql.Stmt // prepared on w

	closeOnce sync.Once
	closeErr  error
}

// Connection settings. Each is per connection unless noted, so they go in
// the DSN, which the driver applies to every connection it opens.
const (
	// busy_timeout: how long a connection waits for a lock another
	// process holds before failing with SQLITE_BUSY.
	pragmaBusy = "_pragma=busy_timeout(10000)"

	// The writer's settings.
	writerParams = pragmaBusy +
		// BEGIN IMMEDIATE takes the write lock at the start of a batch, so
		// a writer in another process makes it wait (busy_timeout), never
		// fail half-way when a read lock cannot be upgraded.
		"&_txlock=immediate" +
		// WAL (persistent, stored in the file): readers and the writer do
		// not block each other, and a commit is one append to the log.
		"&_journal_mode=WAL" +
		// FULL: fsync the log at every commit, so an acknowledged batch
		// survives power loss, not only a process crash (package doc).
		"&_pragma=synchronous(FULL)" +
		// A 64 MiB page cache keeps the indexes' hot pages (every
		// subject's newest leaf) in memory between batches.
		"&_pragma=cache_size(-65536)" +
		// Checkpoint every 10,000 pages (40 MiB of log) rather than the
		// default 1,000: a leaf that many batches touch is copied into
		// the database once per checkpoint, not once per 1,000 pages.
		"&_pragma=wal_autocheckpoint(10000)" +
		// After a checkpoint the log is truncated back to 64 MiB at most.
		"&_pragma=journal_size_limit(67108864)"

	// The readers' settings: they never write, whatever SQL they get.
	readerParams = pragmaBusy +
		"&_pragma=cache_size(-16384)" +
		"&_pragma=query_only(1)"
)

// uriEscaper escapes the characters that end or escape the path part of an
// SQLite file: URI, so any file name opens as itself.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Open opens the audit database at path, creating it if needed and
// migrating it to SchemaVersion. Close it when done.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("audit/sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit/sqlite: %w", err)
	}
	// A file: URI, so the driver passes the path to SQLite whole instead
	// of cutting it at a '?'. An absolute, cleaned path starts with
	// exactly one '/', so it never reads as a URI authority ("//host").
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:/C:/dir/audit.db
	}
	uri := "file:" + uriEscaper.Replace(p)

	w, err := sql.Open("sqlite", uri+"?"+writerParams)
	if err != nil {
		return nil, fmt.Errorf("audit/sqlite: %w", err)
	}
	// One writer connection, kept open: concurrent WriteBatch calls queue
	// for it in database/sql.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.init(context.Background()); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", uri+"?"+readerParams)
	if err != nil {
		s.insert.Close()
		w.Close()
		return nil, fmt.Errorf("audit/sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	return s, nil
}

// init checks the journal mode, migrates the schema and prepares the
// insert statement on the writer.
func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("audit/sqlite: opening database: %w", err)
	}
	// SQLite falls back to a rollback journal silently where WAL cannot
	// work (some network file systems); say so instead.
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("audit/sqlite: database is in journal mode %q, not WAL (is it on a network file system?)", mode)
	}
	if err := migrate(ctx, s.w); err != nil {
		return err
	}
	var err error
	s.insert, err = s.w.PrepareContext(ctx, insertSQL)
	if err != nil {
		return fmt.Errorf("audit/sqlite: preparing insert: %w", err)
	}
	return nil
}

// migrate brings the schema to SchemaVersion in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE: two processes opening a new file do not both migrate it
	if err != nil {
		return fmt.Errorf("audit/sqlite: migrating: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	if len(migrations) != SchemaVersion {
		return fmt.Errorf("audit/sqlite: internal error: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	var version, appID int64
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("audit/sqlite: reading schema version: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("audit/sqlite: reading application id: %w", err)
	}
	// Every migration sets both user_version and application_id, so a
	// file is warden's exactly when it has our application_id, or is new:
	// no id, no version, no tables. Anything else is some other program's
	// database, and writing our schema into it would damage it.
	switch {
	case appID == applicationID:
	case appID != 0:
		return fmt.Errorf("%w (application_id %#x)", ErrNotAuditDB, appID)
	case version != 0:
		return fmt.Errorf("%w (user_version %d without warden's application_id)", ErrNotAuditDB, version)
	default:
		var tables int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return fmt.Errorf("audit/sqlite: reading schema: %w", err)
		}
		if tables != 0 {
			return fmt.Errorf("%w (it has %d schema objects but no warden application_id)", ErrNotAuditDB, tables)
		}
	}
	if version > int64(SchemaVersion) {
		return fmt.Errorf("%w: file has schema version %d, this code knows up to %d", ErrNewerSchema, version, SchemaVersion)
	}
	if version < 0 {
		return fmt.Errorf("%w (schema version %d)", ErrNotAuditDB, version)
	}
	if version == int64(SchemaVersion) {
		return tx.Commit()
	}
	for v := int(version); v < SchemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("audit/sqlite: migrating schema to version %d: %w", v+1, err)
			}
		}
	}
	// PRAGMAs take no bound parameters; both values are constants.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return fmt.Errorf("audit/sqlite: setting schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fmt.Errorf("audit/sqlite: setting application id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit/sqlite: committing migration: %w", err)
	}
	return nil
}

// Close closes the store. Every WriteBatch that returned nil is on disk
// already, so Close has nothing to flush; it waits for running calls.
func (s *Store) Close() error {
	if s == nil || s.w == nil {
		return nil // nothing was opened
	}
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.insert.Close(), s.r.Close(), s.w.Close())
	})
	return s.closeErr
}
