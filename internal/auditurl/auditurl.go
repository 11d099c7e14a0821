// Package auditurl opens an audit store from a URL, the one scheme used
// everywhere a store is named (the CLI's --audit, the service):
//
//	jsonl:PATH     an append-only JSON Lines file (audit/jsonl)
//	sqlite:PATH    an SQLite database (audit/sqlite), the embedded default
//
// A URL without a known scheme is an error that lists the schemes, never a
// guess.
package auditurl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
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
var Schemes = []string{"jsonl:PATH", "sqlite:PATH"}

// Open opens the store a URL names.
func Open(url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("audit store %q: want one of %s", url, strings.Join(Schemes, ", "))
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
	default:
		return nil, fmt.Errorf("audit store %q: unknown scheme %q; want one of %s", url, scheme, strings.Join(Schemes, ", "))
	}
	if err != nil {
		// A nil store, not a nil pointer in a non-nil interface.
		return nil, fmt.Errorf("audit store %q: %w", url, err)
	}
	return st, nil
}

// ErrNoStore is returned where a store is required and none was named.
var ErrNoStore = errors.New("no audit store: pass --audit URL (" + "jsonl:PATH or sqlite:PATH" + ")")
