package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/storetest"
)

// TestConformance runs the store conformance suite, each store in a
// schema of its own. The property check alone opens a hundred stores, so
// the schemas are dropped together, in one statement, at the end.
func TestConformance(t *testing.T) {
	d := dsn(t)
	t.Parallel()
	var mu sync.Mutex
	var schemas []string
	t.Cleanup(func() {
		if len(schemas) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, d)
		if err != nil {
			t.Errorf("dropping %d schemas: %v", len(schemas), err)
			return
		}
		defer conn.Close(ctx)
		quoted := make([]string, len(schemas))
		for i, s := range schemas {
			quoted[i] = pgx.Identifier{s}.Sanitize()
		}
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+strings.Join(quoted, ", ")+" CASCADE"); err != nil {
			t.Errorf("dropping %d schemas: %v", len(schemas), err)
		}
	})
	storetest.Run(t, func(t *testing.T) store.Store {
		schema := randomSchema()
		mu.Lock()
		schemas = append(schemas, schema)
		mu.Unlock()
		return openSchema(t, schema, nil)
	})
}
