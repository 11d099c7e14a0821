// Package postgres is warden's PostgreSQL audit store (SPEC 8.2): it
// implements audit.Sink, audit.BatchSink and audit.Querier on top of
// pgx/v5 and pgxpool.
//
// # What is stored
//
// One row per audit.Event in the table <schema>.events, partitioned by
// range of time, one partition per UTC day (events_pYYYYMMDD), created on
// demand before a batch is copied in, with a DEFAULT partition as a safety
// net for times outside the years 2000 to 2199 (partitions are only ever
// created for days in that window, so the default partition never holds a
// row a new partition would claim). The key is (time, id): a primary key
// of a partitioned table must include the partition key.
//
// Text columns use COLLATE "C", so comparisons and ORDER BY id are
// bytewise, as Go compares strings. PostgreSQL text cannot hold NUL bytes
// or invalid UTF-8, so every text column but the id stores its string
// escaped, reversibly (escape.go): an event holding either is stored and
// comes back unchanged; only an id holding one is refused, with an error
// wrapping audit.ErrRefused. timestamptz
// keeps microseconds; the remaining nanoseconds of Event.Time go into
// time_nsec (0..999), so a time comes back as the same instant. revision
// (bigint) holds Event.Revision, the store revision the decision saw: 0
// for none, and for rows written before schema version 3; one above
// math.MaxInt64, which no store of warden's reaches, is refused. Fields are
// stored in a json (not jsonb) column: json keeps the text encoding/json
// wrote exactly (key order, numbers such as 2^53+1 and 1e+21), where jsonb
// would normalise it.
//
// # Schema versions
//
// <schema>.schema_version holds the version. Open applies the migrations
// it lacks in order, in one transaction, under pg_advisory_xact_lock, so
// concurrent Opens do not race. A schema newer than this code knows is
// refused (ErrNewerSchema).
//
// # Queries
//
// As in audit/sqlite: subject, status, allowed, time range and cursor are
// bound parameters in the WHERE clause; action and resource patterns are
// narrowed by their literal prefix (a range on the column) and decided by
// audit.Matcher.Match. Rows are read in id order, in chunks, inside one
// REPEATABLE READ read-only transaction (one snapshot), until Limit events
// matched.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the schema version this code writes: the number of
// migrations.
const SchemaVersion = 3

// DefaultSchema is the schema used when Options.Schema is empty.
const DefaultSchema = "warden"

// ErrNotOpen: the Store is a zero value or nil, not made by Open.
var ErrNotOpen = errors.New("audit/postgres: store not opened (use Open)")

// ErrNewerSchema: the database schema was written by a newer warden.
var ErrNewerSchema = errors.New("audit/postgres: database schema is newer than this warden supports")

// Options configure Open.
type Options struct {
	// Schema holds warden's tables; default "warden". It is created if
	// missing.
	Schema string
}

// migrations[i] takes a schema from version i to i+1. Append only. %[1]s is
// the quoted schema name.
var migrations = [][]string{
	{
		`CREATE TABLE %[1]s.events (
			id             text COLLATE "C" NOT NULL,
			time           timestamptz NOT NULL,
			time_nsec      smallint NOT NULL,
			subject        text COLLATE "C" NOT NULL,
			action         text COLLATE "C" NOT NULL,
			resource       text COLLATE "C" NOT NULL,
			allowed        boolean NOT NULL,
			status         text COLLATE "C" NOT NULL,
			rule           text COLLATE "C" NOT NULL,
			reason         text COLLATE "C" NOT NULL,
			latency_ns     bigint NOT NULL,
			policy_version text COLLATE "C" NOT NULL,
			error          text COLLATE "C" NOT NULL,
			fields         json,
			PRIMARY KEY (time, id)
		) PARTITION BY RANGE (time)`,
		`CREATE TABLE %[1]s.events_default PARTITION OF %[1]s.events DEFAULT`,
		`CREATE INDEX events_subject_id ON %[1]s.events (subject, id)`,
		`CREATE INDEX events_status_id ON %[1]s.events (status, id)`,
		`CREATE INDEX events_time ON %[1]s.events (time)`,
		`CREATE INDEX events_id ON %[1]s.events (id)`,
	},
	// 2: text columns hold escaped strings (escape.go), so NUL and invalid
	// UTF-8 are stored rather than refused: the backslashes of rows
	// written before are escaped. And resource patterns with a literal
	// prefix ("doc:*") read an index instead of scanning.
	{
		`UPDATE %[1]s.events SET
			subject = replace(subject, '\', '\\'), action = replace(action, '\', '\\'),
			resource = replace(resource, '\', '\\'), status = replace(status, '\', '\\'),
			rule = replace(rule, '\', '\\'), reason = replace(reason, '\', '\\'),
			policy_version = replace(policy_version, '\', '\\'), error = replace(error, '\', '\\')
		WHERE strpos(subject || action || resource || status || rule || reason || policy_version || error, '\') > 0`,
		`CREATE INDEX events_resource_id ON %[1]s.events (resource, id)`,
	},
	// 3: the store revision the decision saw (audit.Event.Revision).
	// Rows written before it have none: 0. A constant default is kept in
	// the catalog, so adding the column rewrites no partition; a CHECK
	// would scan them all under an exclusive lock, and encode already
	// refuses what bigint cannot hold.
	{
		`ALTER TABLE %[1]s.events ADD COLUMN revision bigint NOT NULL DEFAULT 0`,
	},
}

// Store is a PostgreSQL audit store, safe for concurrent use. Make one
// with Open: a zero or nil Store stores nothing, its Record, WriteBatch
// and Query fail with ErrNotOpen, and its Close does nothing.
type Store struct {
	pool    *pgxpool.Pool
	schema  string         // the schema, quoted
	events  pgx.Identifier // schema.events, for COPY
	lockKey string         // advisory lock key text for this schema

	parts sync.Map // day (int64 days since epoch) -> struct{}: partitions known to exist

	closeOnce sync.Once
}

// Open connects to dsn, creates the schema if needed and migrates it to
// SchemaVersion. Close the store when done.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	schema := DefaultSchema
	if opts != nil && opts.Schema != "" {
		schema = opts.Schema
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("audit/postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit/postgres: %w", err)
	}
	s := &Store{
		pool:    pool,
		schema:  pgx.Identifier{schema}.Sanitize(),
		events:  pgx.Identifier{schema, "events"},
		lockKey: "warden/audit/" + schema,
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if len(migrations) != SchemaVersion {
		return fmt.Errorf("audit/postgres: internal error: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	// Text is stored byte for byte only in a UTF-8 database; any other
	// encoding would convert or refuse characters.
	var enc string
	if err := s.pool.QueryRow(ctx, `SHOW server_encoding`).Scan(&enc); err != nil {
		return fmt.Errorf("audit/postgres: reading server encoding: %w", err)
	}
	if enc != "UTF8" {
		return fmt.Errorf("audit/postgres: database encoding is %s, want UTF8", enc)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit/postgres: migrating: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, s.lockKey); err != nil {
		return fmt.Errorf("audit/postgres: migrating: locking: %w", err)
	}
	for _, stmt := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s.schema,
		`CREATE TABLE IF NOT EXISTS ` + s.schema + `.schema_version (version integer NOT NULL)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("audit/postgres: migrating: %w", err)
		}
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.schema+`.schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("audit/postgres: reading schema version: %w", err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: schema has version %d, this code knows up to %d", ErrNewerSchema, version, SchemaVersion)
	}
	if version < 0 {
		return fmt.Errorf("audit/postgres: schema version %d is invalid", version)
	}
	if version == SchemaVersion {
		return tx.Commit(ctx)
	}
	for v := version; v < SchemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.Exec(ctx, fmt.Sprintf(stmt, s.schema)); err != nil {
				return fmt.Errorf("audit/postgres: migrating schema to version %d: %w", v+1, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.schema+`.schema_version`); err != nil {
		return fmt.Errorf("audit/postgres: setting schema version: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.schema_version (version) VALUES ($1)`, SchemaVersion); err != nil {
		return fmt.Errorf("audit/postgres: setting schema version: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit/postgres: committing migration: %w", err)
	}
	return nil
}

// Close closes the pool. Every WriteBatch that returned nil has
// committed, so there is nothing to flush.
func (s *Store) Close() {
	if s == nil || s.pool == nil {
		return
	}
	s.closeOnce.Do(s.pool.Close)
}

// quoteIdent quotes one identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
