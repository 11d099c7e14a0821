package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warden-authz/warden/store"
)

func openInternal(t *testing.T, dsnSuffix string, opts Options) *Store {
	t.Helper()
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("WARDEN_TEST_POSTGRES is not set")
	}
	var b [6]byte
	rand.Read(b[:])
	opts.Schema = "warden_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s, err := Open(context.Background(), dsn+sep+strings.TrimPrefix(dsnSuffix, "&"), &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A connection string or server that turns synchronous_commit off does
// not make the store acknowledge batches before they are durable.
func TestSynchronousCommitStaysOn(t *testing.T) {
	t.Parallel()
	s := openInternal(t, "options=-c%20synchronous_commit%3Doff", Options{})
	var v string
	if err := s.pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v == "off" {
		t.Fatalf("synchronous_commit is %q on the store's connections", v)
	}
}

// The listener keeps its connection across polls: a poll that times out
// waiting for a notification leaves it usable.
func TestListenerKeepsItsConnection(t *testing.T) {
	t.Parallel()
	s := openInternal(t, "", Options{PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Wait(ctx, 0); err == nil {
		t.Fatal("Wait(0) on an empty store returned")
	}
	s.mu.Lock()
	n := s.connects
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("the listener connected %d times in a second of 20 ms polls, want once", n)
	}
	if _, err := s.Write(context.Background(), store.Batch{}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Wait(context.Background(), 0); err != nil || r != 1 {
		t.Fatalf("Wait(0) = %d, %v", r, err)
	}
}

// TestListenerReconnects terminates the listener's backend: it
// reconnects and sees a commit made while it was away.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	var b [4]byte
	rand.Read(b[:])
	app := "warden_listen_" + hex.EncodeToString(b[:])
	s := openInternal(t, "application_name="+app, Options{PollInterval: time.Hour})
	if _, err := s.Write(context.Background(), store.Batch{}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Wait(context.Background(), 0); err != nil || r != 1 {
		t.Fatalf("Wait(0) = %d, %v", r, err)
	}
	c, err := pgx.Connect(context.Background(), os.Getenv("WARDEN_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// The Write woke Wait itself; the listener may still be connecting.
	var killed int
	for deadline := time.Now().Add(30 * time.Second); killed == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := c.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app+" listener").Scan(&killed); err != nil {
			t.Fatal(err)
		}
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening backends, want 1", killed)
	}
	// Committed as Write commits, maybe before the listener is back
	// (then only its reading of the revision on reconnecting finds it),
	// maybe after (then the notification does); with no poll for an
	// hour, either way only a reconnected listener wakes Wait.
	tx, err := c.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `UPDATE `+s.schema+`.store_revision SET revision = revision + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `SELECT pg_notify($1, '2')`, s.channel); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r, err := s.Wait(ctx, 1); err != nil || r != 2 {
		t.Fatalf("Wait(1) after the listener's connection was terminated = %d, %v; want 2", r, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connects < 2 {
		t.Fatalf("the listener connected %d times, want a reconnection", s.connects)
	}
}

// TestLostConnectionsRetried: once the server has terminated every
// connection of the pool, the pool hands out the dead ones without
// checking them (they were used under a second ago); a Write and a read
// that meet one run again on a new connection rather than fail with
// store.ErrUnavailable, since nothing of them took effect.
func TestLostConnectionsRetried(t *testing.T) {
	t.Parallel()
	var b [4]byte
	rand.Read(b[:])
	app := "warden_lost_" + hex.EncodeToString(b[:])
	s := openInternal(t, "application_name="+app, Options{PollInterval: time.Hour})
	c, err := pgx.Connect(context.Background(), os.Getenv("WARDEN_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	retried := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.retried
	}
	ops := []struct {
		name string
		run  func(round int) error
	}{
		{"Write", func(round int) error {
			_, err := s.Write(ctx, store.Batch{Writes: []store.Write{{Op: store.OpAdd, Membership: &store.Membership{Member: fmt.Sprintf("u%d", round), Group: "team"}}}})
			return err
		}},
		{"Changes", func(int) error { _, _, err := s.Changes(ctx, 0, 0); return err }},
	}
	for _, op := range ops {
		// A round whose operation ran more than a second after the pool
		// last used its connections meets none that is dead (the pool
		// pings those first): try a few.
		met := false
		for round := 0; round < 5 && !met; round++ {
			// Every connection of the pool busy at once, so each is used
			// just now.
			var wg sync.WaitGroup
			for range int(s.pool.Config().MaxConns) {
				wg.Go(func() {
					if _, _, err := s.Changes(ctx, 0, 0); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			rows, err := c.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
			if err != nil {
				t.Fatal(err)
			}
			pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil || len(pids) == 0 {
				t.Fatalf("the pool's connections: %v, %v", pids, err)
			}
			var killed int
			if err := c.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest($1::int4[]) AS pid`, pids).Scan(&killed); err != nil || killed == 0 {
				t.Fatalf("terminated %d of %v: %v", killed, pids, err)
			}
			// Gone, so no statement of the operation races the
			// termination: each meets a connection already dead.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				var n int
				if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)`, pids).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d terminated backends still there after 30 s", n)
				}
			}
			before := retried()
			if err := op.run(round); err != nil {
				t.Fatalf("%s after the pool's connections were terminated: %v", op.name, err)
			}
			met = retried() > before
		}
		if !met {
			t.Fatalf("%s never met a dead connection in 5 rounds: the test tests nothing", op.name)
		}
	}
}

// TestListenerReconnectsWhenThePoolDoes: a listener in its reconnection
// backoff tries again as soon as a query of the pool succeeds, rather
// than sleeping out its backoff while notifications are lost. The backoff
// here is an hour, so only the query brings it back within the test.
func TestListenerReconnectsWhenThePoolDoes(t *testing.T) {
	t.Parallel()
	var b [4]byte
	rand.Read(b[:])
	app := "warden_relisten_" + hex.EncodeToString(b[:])
	s := openInternal(t, "application_name="+app, Options{PollInterval: time.Hour})
	s.backoffMin, s.backoffMax = time.Hour, time.Hour // before the listener starts
	if _, err := s.Write(context.Background(), store.Batch{}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Wait(context.Background(), 0); err != nil || r != 1 {
		t.Fatalf("Wait(0) = %d, %v", r, err)
	}
	connects := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.connects
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitUntil("the listener to listen", func() bool { return connects() == 1 && !s.listenerAway.Load() })
	c, err := pgx.Connect(context.Background(), os.Getenv("WARDEN_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var killed int
	if err := c.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app+" listener").Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening backends (%v), want 1", killed, err)
	}
	waitUntil("the listener to lose its connection", s.listenerAway.Load)
	if n := connects(); n != 1 {
		t.Fatalf("the listener connected %d times before any query, want 1 (an hour's backoff)", n)
	}
	if _, err := s.Revision(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitUntil("the listener to reconnect after the pool's query", func() bool { return connects() == 2 && !s.listenerAway.Load() })

	// A commit by another client now wakes Wait: the listener is back.
	if _, err := c.Exec(context.Background(), `UPDATE `+s.schema+`.store_revision SET revision = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), `SELECT pg_notify($1, '2')`, s.channel); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r, err := s.Wait(ctx, 1); err != nil || r != 2 {
		t.Fatalf("Wait(1) = %d, %v; want 2", r, err)
	}
}

// TestLostOnlyConnections: only an error of the connection itself makes
// an operation run again on another; the store's own refusals and a
// cancelled context fail the same way anywhere, so they never do.
func TestLostOnlyConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		lost bool
	}{
		{"terminated by the server", &pgconn.PgError{Code: "57P01"}, true},
		{"a connection exception", fmt.Errorf("write: %w", &pgconn.PgError{Code: "08006"}), true},
		{"cut off mid-answer", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"a reset socket", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{"pgx's closed connection", pgconn.ErrConnClosed, true},
		{"a revision conflict", fmt.Errorf("store/postgres: %w: at 3, not 2", store.ErrRevisionConflict), false},
		{"an invalid batch", fmt.Errorf("%w: writes[0]", store.ErrInvalid), false},
		{"the last revision", errors.New("store/postgres: revision 9223372036854775807 is the last this store can number"), false},
		{"a constraint the statement broke", &pgconn.PgError{Code: "23505"}, false},
		{"a cancelled context", context.Canceled, false},
		{"a deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"a refused connection", &pgconn.ConnectError{}, false},
	} {
		if got := lost(tc.err); got != tc.lost {
			t.Errorf("%s: lost(%v) = %v, want %v", tc.name, tc.err, got, tc.lost)
		}
	}
}
