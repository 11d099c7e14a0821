package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/postgres"
)

var (
	_ store.Store    = (*postgres.Store)(nil)
	_ store.Notifier = (*postgres.Store)(nil)
	_ store.Policies = (*postgres.Store)(nil)
)

const dsnEnv = "WARDEN_TEST_POSTGRES"

// dsn returns the test database's DSN, skipping the test when none is set.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL store tests", dsnEnv)
	}
	return d
}

// newSchema returns a fresh random schema name, dropped when the test
// ends (after the stores opened on it are closed: cleanups run last
// registered first, and stores are opened after this).
func newSchema(t testing.TB) string {
	t.Helper()
	d := dsn(t)
	name := randomSchema()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, d)
		if err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// randomSchema returns a schema name no concurrent run uses.
func randomSchema() string {
	var b [6]byte
	rand.Read(b[:])
	return "warden_test_" + hex.EncodeToString(b[:])
}

// openSchema opens a store on schema, closed when the test ends.
func openSchema(t testing.TB, schema string, opts *postgres.Options) *postgres.Store {
	t.Helper()
	o := postgres.Options{Schema: schema}
	if opts != nil {
		o = *opts
		o.Schema = schema
	}
	s, err := postgres.Open(context.Background(), dsn(t), &o)
	if err != nil {
		t.Fatalf("Open(schema %s): %v", schema, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// open opens a store in a fresh schema.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	return openSchema(t, newSchema(t), nil)
}

// conn opens a plain connection for inspecting the database.
func conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
