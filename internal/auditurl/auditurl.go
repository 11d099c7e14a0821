// Package auditurl opens an audit store from a URL, the one scheme used
// everywhere a store is named (the CLI's --audit, the service):
//
//	jsonl:PATH     an append-only JSON Lines file (audit/jsonl)
//	sqlite:PATH    an SQLite database (audit/sqlite), the embedded default
//	postgres://... a PostgreSQL database (audit/postgres), in the schema
//	               given by ?schema=NAME, "warden" by default
//
// A URL without a known scheme is an error that lists the schemes, never a
// guess.
package auditurl

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
	"github.com/warden-authz/warden/audit/postgres"
	"github.com/warden-authz/warden/audit/sqlite"
)

// Store is what every audit store offers: batched writes, queries and
// closing.
type Store interface {
	audit.BatchSink
	audit.Querier
	Close() error
}

// Schemes lists the URL schemes Open knows.
var Schemes = []string{"jsonl:PATH", "sqlite:PATH", "postgres://..."}

// Open opens the store a URL names. Its errors quote the URL with any
// password replaced by "xxxxx", so they are safe to log.
func Open(url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("audit store %q: want one of %s", Redact(url), strings.Join(Schemes, ", "))
	}
	path := strings.TrimPrefix(rest, "//")
	var (
		st  Store
		err error
	)
	switch scheme {
	case "jsonl":
		var f *jsonl.File
		if f, err = jsonl.Open(path); err == nil {
			st = f
		}
	case "sqlite":
		var db *sqlite.Store
		if db, err = sqlite.Open(path); err == nil {
			st = db
		}
	case "postgres", "postgresql":
		dsn, schema, perr := splitSchema(url)
		if perr != nil {
			return nil, fmt.Errorf("audit store %q: %w", Redact(url), perr)
		}
		var db *postgres.Store
		if db, err = postgres.Open(context.Background(), dsn, &postgres.Options{Schema: schema}); err == nil {
			st = pgStore{db}
		}
	default:
		return nil, fmt.Errorf("audit store %q: unknown scheme %q; want one of %s", Redact(url), scheme, strings.Join(Schemes, ", "))
	}
	if err != nil {
		// A nil store, not a nil pointer in a non-nil interface.
		return nil, fmt.Errorf("audit store %q: %w", Redact(url), err)
	}
	return st, nil
}

// Redact returns url with the password of a URL's user info replaced by
// "xxxxx", for logs and error messages. A string that does not parse as a
// URL with user info is returned as it is, unless it holds an '@', when
// everything before the last '@' is hidden: it may be a credential the
// parser could not make sense of.
func Redact(url string) string {
	u, err := neturl.Parse(url)
	if err == nil && u.User != nil {
		return u.Redacted()
	}
	if err != nil {
		if i := strings.LastIndexByte(url, '@'); i >= 0 {
			return "xxxxx" + url[i:]
		}
	}
	return url
}

// splitSchema takes warden's own "schema" parameter out of a PostgreSQL
// URL (the server would reject it as an unknown setting) and returns the
// URL without it and the schema, "" for the default.
func splitSchema(raw string) (dsn, schema string, err error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password and all: say what is
		// wrong without it.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", fmt.Errorf("postgres URL: %w", err)
	}
	q := u.Query()
	schema = q.Get("schema")
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// pgStore gives the PostgreSQL store the Close error every store has.
type pgStore struct{ *postgres.Store }

func (p pgStore) Close() error { p.Store.Close(); return nil }

// ErrNoStore is returned where a store is required and none was named.
var ErrNoStore = errors.New("no audit store: pass --audit URL (jsonl:PATH, sqlite:PATH or postgres://...)")

// PostgresDSN splits a postgres:// URL into the DSN the driver takes and
// warden's own schema parameter ("" for the default), for every store
// that accepts such URLs. Its errors never quote the URL.
func PostgresDSN(url string) (dsn, schema string, err error) { return splitSchema(url) }
