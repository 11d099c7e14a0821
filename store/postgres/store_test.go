package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/audit"
	auditpg "github.com/warden-authz/warden/audit/postgres"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/postgres"
)

func member(op store.Op, m, g string) store.Write {
	return store.Write{Op: op, Membership: &store.Membership{Member: m, Group: g}}
}

func write(t testing.TB, s store.Store, ws ...store.Write) store.Revision {
	t.Helper()
	r, err := s.Write(context.Background(), store.Batch{Writes: ws})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return r
}

// TestSharedWithAuditLog: the store and the audit log in one schema,
// opened in either order, written at once.
func TestSharedWithAuditLog(t *testing.T) {
	d := dsn(t)
	t.Parallel()
	for _, first := range []string{"store", "audit"} {
		t.Run(first+"-first", func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			var st *postgres.Store
			var log *auditpg.Store
			openAudit := func() {
				var err error
				if log, err = auditpg.Open(context.Background(), d, &auditpg.Options{Schema: schema}); err != nil {
					t.Fatalf("audit/postgres.Open on the shared schema: %v", err)
				}
				t.Cleanup(log.Close)
			}
			if first == "audit" {
				openAudit()
				st = openSchema(t, schema, nil)
			} else {
				st = openSchema(t, schema, nil)
				openAudit()
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := range 30 {
					if _, err := st.Write(context.Background(), store.Batch{Writes: []store.Write{member(store.OpAdd, fmt.Sprintf("u%d", i), "team")}}); err != nil {
						t.Error(err)
						return
					}
				}
			})
			wg.Go(func() {
				for i := range 30 {
					id, _ := audit.NewID()
					e := audit.Event{ID: id, Time: time.Now().UTC(), Subject: fmt.Sprintf("u%d", i), Action: "read", Status: audit.StatusAllowed}
					if err := log.Record(context.Background(), &e); err != nil {
						t.Error(err)
						return
					}
				}
			})
			wg.Wait()
			// Both open again on the schema, each finding its data.
			st2 := openSchema(t, schema, nil)
			log2, err := auditpg.Open(context.Background(), d, &auditpg.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			defer log2.Close()
			events, err := log2.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
			if err != nil || len(events) != 30 {
				t.Fatalf("audit events: %d, %v; want 30", len(events), err)
			}
			if r, err := st2.Revision(context.Background()); err != nil || r != 30 {
				t.Fatalf("store revision: %d, %v; want 30", r, err)
			}
		})
	}
}

// TestConcurrentPools: writers on several pools (as several processes
// would be) at once keep revisions gapless (SPEC 11.2): revisions 1 to N,
// each given to one batch, and a changelog in revision order in which
// each revision holds its own batch's changes.
func TestConcurrentPools(t *testing.T) {
	dsn(t)
	t.Parallel()
	schema := newSchema(t)
	const pools, perPool, batches = 4, 3, 15
	var mu sync.Mutex
	who := map[store.Revision]string{}
	var wg sync.WaitGroup
	for p := range pools {
		s := openSchema(t, schema, nil)
		for g := range perPool {
			wg.Go(func() {
				for k := range batches {
					name := fmt.Sprintf("p%d-g%d-%d", p, g, k)
					r, err := s.Write(context.Background(), store.Batch{Writes: []store.Write{member(store.OpAdd, name, "team"), member(store.OpAdd, name, "other")}})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := who[r]; dup {
						t.Errorf("revision %d given to %s and %s", r, prev, name)
					}
					who[r] = name
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	s := openSchema(t, schema, nil)
	changes, through, err := s.Changes(context.Background(), 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	const total = pools * perPool * batches
	if through != total || len(changes) != 2*total {
		t.Fatalf("Changes = %d changes through %d; want %d through %d", len(changes), through, 2*total, total)
	}
	// Every revision from 1 to the total was given out once, and the
	// changelog lists each one's two changes in revision order.
	for r := store.Revision(1); r <= total; r++ {
		if _, ok := who[r]; !ok {
			t.Fatalf("no batch got revision %d of %d: revisions must be gapless", r, total)
		}
	}
	for i, c := range changes {
		if want := store.Revision(i/2 + 1); c.Revision != want || c.Index != i%2 {
			t.Fatalf("change %d of the changelog is revision %d, index %d; want revision %d, index %d, in revision order", i, c.Revision, c.Index, want, i%2)
		}
		if who[c.Revision] != c.Membership.Member {
			t.Fatalf("revision %d holds %s's write, but was given to %s", c.Revision, c.Membership.Member, who[c.Revision])
		}
	}
}

// TestWaitWakesByNotification: with polling slowed to an hour, only a
// notification can wake a Wait on another Store.
func TestWaitWakesByNotification(t *testing.T) {
	dsn(t)
	t.Parallel()
	schema := newSchema(t)
	a := openSchema(t, schema, nil)
	b := openSchema(t, schema, &postgres.Options{PollInterval: time.Hour})
	write(t, a, member(store.OpAdd, "alice", "team"))
	for i := range 5 {
		r, err := b.Wait(context.Background(), store.Revision(i))
		if err != nil || r <= store.Revision(i) {
			t.Fatalf("Wait(%d) = %d, %v", i, r, err)
		}
		done := make(chan store.Revision, 1)
		go func() { r, _ := b.Wait(context.Background(), store.Revision(i+1)); done <- r }()
		write(t, a, member(store.OpAdd, fmt.Sprintf("u%d", i), "team"))
		select {
		case r := <-done:
			if r != store.Revision(i+2) {
				t.Fatalf("Wait woke at %d, want %d", r, i+2)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no notification woke Wait within 30 s")
		}
	}
}

// TestWaitPolls: a revision committed without a notification (a lost
// one) is still seen, by polling.
func TestWaitPolls(t *testing.T) {
	dsn(t)
	t.Parallel()
	schema := newSchema(t)
	s := openSchema(t, schema, &postgres.Options{PollInterval: 50 * time.Millisecond})
	write(t, s, member(store.OpAdd, "alice", "team"))
	if r, err := s.Wait(context.Background(), 0); err != nil || r != 1 {
		t.Fatalf("Wait(0) = %d, %v", r, err)
	}
	policy := func(hash string) store.PolicyVersion {
		return store.PolicyVersion{Version: hash, Name: "policy.toml", Text: []byte(hash)}
	}
	if _, err := s.Publish(context.Background(), policy("sha256:1")); err != nil {
		t.Fatal(err)
	}
	// A batch of no writes, committed by hand, with no NOTIFY.
	if _, err := conn(t).Exec(context.Background(), `UPDATE `+pgx.Identifier{schema}.Sanitize()+`.store_revision SET revision = revision + 1`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r, err := s.Wait(ctx, 1); err != nil || r != 2 {
		t.Fatalf("Wait(1) after an unannounced commit = %d, %v; want 2 by polling", r, err)
	}
}

// proxy forwards TCP connections to the test database and can cut them
// all, and refuse new ones, as an outage or a network partition would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close(); c.Close() }()
			go func() { io.Copy(c, up); up.Close(); c.Close() }()
		}
	}()
	return p
}

// cut closes every connection and, while down, refuses new ones.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// through returns the test DSN routed through the proxy, with a password
// (which trust authentication ignores) so errors can be checked for it.
func (p *proxy) through(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	user := "postgres"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, "s3cret-pw")
	u.Host = p.ln.Addr().String()
	return u.String()
}

func targetOf(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	return host
}

// TestOutage cuts the store off from the database and brings it back:
// every call fails with store.ErrUnavailable meanwhile, without the
// password, and changes nothing; a Wait and a WaitPolicy carry on;
// afterwards the store works again with no reopening, and the listener
// has reconnected.
func TestOutage(t *testing.T) {
	dsn(t)
	t.Parallel()
	schema := newSchema(t)
	direct := openSchema(t, schema, nil)
	p := newProxy(t, targetOf(t))
	s, err := postgres.Open(context.Background(), p.through(t), &postgres.Options{Schema: schema, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, member(store.OpAdd, "alice", "team"))
	if r, err := s.Wait(context.Background(), 0); err != nil || r != 1 {
		t.Fatalf("Wait(0) = %d, %v", r, err)
	}
	policy := func(hash string) store.PolicyVersion {
		return store.PolicyVersion{Version: hash, Name: "policy.toml", Text: []byte(hash)}
	}
	if _, err := s.Publish(context.Background(), policy("sha256:1")); err != nil {
		t.Fatal(err)
	}

	p.cut(true)
	ctx := context.Background()
	calls := map[string]func() error{
		"Write": func() error {
			_, err := s.Write(ctx, store.Batch{Writes: []store.Write{member(store.OpAdd, "bob", "team")}})
			return err
		},
		"Revision": func() error { _, err := s.Revision(ctx); return err },
		"Snapshot": func() error { _, err := s.Snapshot(ctx, func(store.Record) error { return nil }); return err },
		"Changes":  func() error { _, _, err := s.Changes(ctx, 0, 0); return err },
		"List":     func() error { _, _, err := s.List(ctx, store.Filter{}); return err },
		"Publish": func() error {
			_, err := s.Publish(ctx, policy("sha256:lost"))
			return err
		},
		"Rollback":      func() error { _, err := s.Rollback(ctx, "sha256:1"); return err },
		"CurrentPolicy": func() error { _, err := s.CurrentPolicy(ctx); return err },
		"PolicyHistory": func() error { _, err := s.PolicyHistory(ctx, 0); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s during the outage: %v; want store.ErrUnavailable", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s's error shows the password: %v", name, err)
		}
	}
	woke := make(chan store.Revision, 1)
	go func() { r, _ := s.Wait(ctx, 1); woke <- r }()
	published := make(chan uint64, 1)
	go func() { seq, _ := s.WaitPolicy(ctx, 1); published <- seq }()
	write(t, direct, member(store.OpAdd, "carol", "team")) // revision 2, while s is cut off
	if _, err := direct.Publish(ctx, policy("sha256:2")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-woke:
		t.Fatalf("Wait returned %d while cut off from the database", r)
	case seq := <-published:
		t.Fatalf("WaitPolicy returned %d while cut off from the database", seq)
	case <-time.After(300 * time.Millisecond):
	}

	p.cut(false)
	select {
	case r := <-woke:
		if r != 2 {
			t.Fatalf("Wait woke at %d, want 2", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not see revision 2 within 30 s of the database's return")
	}
	select {
	case seq := <-published:
		if seq != 2 {
			t.Fatalf("WaitPolicy woke at %d, want 2", seq)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitPolicy did not see Seq 2 within 30 s of the database's return")
	}
	// The pool may hand out a connection that broke in the outage once;
	// a retry gets a fresh one.
	var r store.Revision
	for try := 0; ; try++ {
		r, err = s.Write(ctx, store.Batch{Writes: []store.Write{member(store.OpAdd, "dave", "team")}})
		if err == nil || try == 5 {
			break
		}
	}
	if err != nil || r != 3 {
		t.Fatalf("Write after the outage = %d, %v; want revision 3 (the failed writes changed nothing)", r, err)
	}
	recs, _, err := direct.List(ctx, store.Filter{Member: "bob"})
	if err != nil || len(recs) != 0 {
		t.Fatalf("the write refused in the outage is stored: %v, %v", recs, err)
	}
	if h, err := direct.PolicyHistory(ctx, 0); err != nil || len(h) != 2 || h[0].Version != "sha256:2" || h[1].Version != "sha256:1" {
		t.Fatalf("the policy history after the outage: %+v, %v; want the publishes before and during it, not the refused ones", h, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	s, err := postgres.Open(ctx, "postgres://warden:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", nil)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open = %v; want store.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestOpenHostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, dsn string }{
		{"bad port", "postgres://u:s3cret-pw@127.0.0.1:notaport/db"},
		{"bad escape", "postgres://u:s3cret-pw%zz@127.0.0.1/db"},
		{"unknown option", "postgres://u:s3cret-pw@127.0.0.1/db?sslmode=bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := postgres.Open(context.Background(), tc.dsn, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	if _, err := postgres.Open(context.Background(), "postgres://127.0.0.1/db", &postgres.Options{PollInterval: -time.Second}); err == nil {
		t.Error("a negative poll interval was accepted")
	}
}

func TestMigrations(t *testing.T) {
	d := dsn(t)
	t.Parallel()
	t.Run("newer schema", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		openSchema(t, schema, nil).Close()
		if _, err := conn(t).Exec(context.Background(), `UPDATE `+pgx.Identifier{schema}.Sanitize()+`.store_schema_version SET version = 99`); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.Open(context.Background(), d, &postgres.Options{Schema: schema}); !errors.Is(err, postgres.ErrNewerSchema) {
			t.Fatalf("Open = %v, want ErrNewerSchema", err)
		}
	})
	t.Run("concurrent opens of a new schema", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s, err := postgres.Open(context.Background(), d, &postgres.Options{Schema: schema})
				if err != nil {
					t.Error(err)
					return
				}
				s.Close()
			})
		}
		wg.Wait()
		s := openSchema(t, schema, nil)
		if r := write(t, s, member(store.OpAdd, "alice", "team")); r != 1 {
			t.Fatalf("first write got revision %d", r)
		}
	})
	t.Run("odd schema name", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t) + `"; DROP TABLE x; --`
		t.Cleanup(func() {
			conn(t).Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		})
		s := openSchema(t, schema, nil)
		write(t, s, member(store.OpAdd, "alice", "team"))
		var n int
		if err := conn(t).QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "store_memberships"}.Sanitize()).Scan(&n); err != nil || n != 1 {
			t.Fatalf("the schema named %q holds %d memberships, %v", schema, n, err)
		}
	})
	t.Run("reopen keeps data", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		s := openSchema(t, schema, nil)
		write(t, s, member(store.OpAdd, "alice", "team"), member(store.OpAdd, "bob", "team"))
		s.Close()
		s = openSchema(t, schema, nil)
		if r := write(t, s, member(store.OpRemove, "alice", "team")); r != 2 {
			t.Fatalf("the first write after reopening got revision %d, want 2", r)
		}
		recs, _, err := s.List(context.Background(), store.Filter{})
		if err != nil || len(recs) != 1 || recs[0].Membership.Member != "bob" {
			t.Fatalf("records after reopening: %v, %v", recs, err)
		}
	})
}
