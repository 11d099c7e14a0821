// Package storeurl opens a data store (SPEC 10.6) from a URL, the one
// form used everywhere a store is named (serve's --store, the CLI):
//
//	memory:        an empty store in memory (store.Memory), for tests;
//	               gone when the process ends
//	sqlite:PATH    an SQLite database (store/sqlite), the embedded default;
//	               it may be the file of the audit log
//	postgres://... a PostgreSQL database (store/postgres), in the schema
//	               given by ?schema=NAME, "warden" by default; it may be
//	               the audit log's
//
// A URL without a known scheme is an error that lists the schemes, never
// a guess. The audit log's URLs (internal/auditurl) have the same form.
package storeurl

import (
	"context"
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/auditurl"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/postgres"
	"github.com/warden-authz/warden/store/sqlite"
)

// Store is what every data store offers: the data, waiting for it, and
// the published policy versions a fleet follows (SPEC 11.3).
type Store interface {
	store.Store
	store.Notifier
	store.Policies
}

// Schemes lists the URL forms Open knows.
var Schemes = []string{"memory:", "sqlite:PATH", "postgres://..."}

// Open opens the store a URL names. Its errors quote the URL with any
// password replaced by "xxxxx", so they are safe to log; one that says
// the database cannot be reached wraps store.ErrUnavailable.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok {
		return nil, fmt.Errorf("data store %q: want one of %s", auditurl.Redact(url), strings.Join(Schemes, ", "))
	}
	var (
		st  Store
		err error
	)
	switch scheme {
	case "memory":
		if rest != "" {
			return nil, fmt.Errorf("data store %q: memory: takes nothing after the colon", auditurl.Redact(url))
		}
		return store.NewMemory(), nil
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("data store %q: sqlite: needs a file path, as in sqlite:/var/lib/warden/data.db", auditurl.Redact(url))
		}
		var db *sqlite.Store
		if db, err = sqlite.Open(path); err == nil {
			st = db
		}
	case "postgres", "postgresql":
		dsn, schema, perr := auditurl.PostgresDSN(url)
		if perr != nil {
			return nil, fmt.Errorf("data store %q: %w", auditurl.Redact(url), perr)
		}
		var db *postgres.Store
		if db, err = postgres.Open(ctx, dsn, &postgres.Options{Schema: schema}); err == nil {
			st = db
		}
	default:
		return nil, fmt.Errorf("data store %q: unknown scheme %q; want one of %s", auditurl.Redact(url), scheme, strings.Join(Schemes, ", "))
	}
	if err != nil {
		// A nil Store, not a nil pointer in a non-nil interface.
		return nil, fmt.Errorf("data store %q: %w", auditurl.Redact(url), err)
	}
	return st, nil
}
