package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// The data methods are tested against the real service on an in-memory
// store, so the client and `warden serve` are held to the same contract.

const dataPolicy = `
[roles]
admin = []

[rules.staff]
allow = [['team:*', 'folder:*', 'read']]

[rules.shares]
dynamic = true
`

const adminToken, checkToken = "admin-secret", "check-secret"

// dataService serves dataPolicy with a store; sent counts the requests
// that reached it.
type dataService struct {
	url  string
	st   store.Store
	sent atomic.Int64
}

func newDataService(t *testing.T) *dataService {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(dataPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &dataService{st: store.NewMemory()}
	s, err := server.New(server.Config{
		PolicyPath: path, Store: d.st, Token: checkToken, AdminToken: adminToken,
		RevisionWait: 200 * time.Millisecond, StorePoll: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.sent.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	d.url = srv.URL
	c := d.client(t, adminToken)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, err := c.Ready(context.Background()); err == nil && r.Ready {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not load its store within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *dataService) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(d.url, &client.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addMember(member, group string) store.Write {
	return store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: member, Group: group}}
}

func addGrant(subject, resource, action string) store.Write {
	return store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: subject, Resource: resource, Action: action}}
}

// TestWriteThenCheck: a write's revision, passed as AtLeastRevision,
// gets a decision that includes the write; a revision not reached is
// warden.ErrRevisionUnavailable.
func TestWriteThenCheck(t *testing.T) {
	t.Parallel()
	d := newDataService(t)
	ctx := context.Background()
	admin, checker := d.client(t, adminToken), d.client(t, checkToken)
	rev, err := admin.Write(ctx, store.Batch{Writes: []store.Write{
		addMember("alice", "team:design"),
		{Op: store.OpAdd, Membership: &store.Membership{Resource: "doc:42", Group: "folder:specs"}},
		addGrant("bob", "doc:42", "edit"),
	}})
	if err != nil || rev != 1 {
		t.Fatalf("Write: %d, %v", rev, err)
	}
	for _, c := range []struct {
		req   warden.Request
		allow bool
		rule  string
	}{
		{warden.Request{Subject: "alice", Resource: "doc:42", Action: "read", AtLeastRevision: rev}, true, "rules.staff"},
		{warden.Request{Subject: "bob", Resource: "doc:42", Action: "edit", AtLeastRevision: rev}, true, "rules.shares"},
		{warden.Request{Subject: "bob", Resource: "doc:42", Action: "read", AtLeastRevision: rev}, false, ""},
		{warden.Request{Subject: "carol", Resource: "doc:42", Action: "read", Groups: []string{"team:sales"}}, true, "rules.staff"},
	} {
		got, err := checker.Check(ctx, c.req)
		if err != nil {
			t.Fatalf("%+v: %v", c.req, err)
		}
		if got.Allowed != c.allow || got.Rule != c.rule || got.Revision != rev {
			t.Errorf("%+v: %+v; want allowed %v by %q at revision %d", c.req, got, c.allow, c.rule, rev)
		}
	}
	_, err = checker.Check(ctx, warden.Request{Subject: "bob", Resource: "doc:42", Action: "edit", AtLeastRevision: rev + 5})
	var werr *client.Error
	if !errors.Is(err, warden.ErrRevisionUnavailable) || !errors.As(err, &werr) || werr.Status != 503 {
		t.Errorf("a revision not reached: %v", err)
	}
}

// TestWriteRefused: each refusal maps to its sentinel and changes
// nothing; a batch the client can tell is invalid is never sent.
func TestWriteRefused(t *testing.T) {
	t.Parallel()
	d := newDataService(t)
	ctx := context.Background()
	stale := store.Revision(7)
	tooMany := make([]store.Write, store.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = addMember("u", "team:a")
	}
	for _, tc := range []struct {
		name   string
		token  string
		batch  store.Batch
		want   error  // the sentinel errors.Is finds
		code   string // the service's code; "" for refused before sending
		status int
	}{
		{"a role in a group", adminToken, store.Batch{Writes: []store.Write{addMember("admin", "team:a")}}, warden.ErrConflict, client.CodeConflict, 409},
		{"a stale if_revision", adminToken, store.Batch{Writes: []store.Write{addMember("a", "team:a")}, IfRevision: &stale}, store.ErrRevisionConflict, client.CodeRevisionConflict, 409},
		{"a grant to a static block", adminToken, store.Batch{Writes: []store.Write{{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.staff", Effect: types.EffectAllow, Subject: "a", Resource: "doc:1", Action: "edit"}}}}, warden.ErrInvalidRequest, client.CodeInvalidRequest, 400},
		{"the check token", checkToken, store.Batch{Writes: []store.Write{addMember("a", "team:a")}}, warden.ErrUnauthorized, client.CodeUnauthorized, 401},
		{"no token", "", store.Batch{Writes: []store.Write{addMember("a", "team:a")}}, warden.ErrUnauthorized, client.CodeUnauthorized, 401},
		{"a pattern character", adminToken, store.Batch{Writes: []store.Write{addMember("al*", "team:a")}}, store.ErrInvalid, "", 0},
		{"a write of nothing", adminToken, store.Batch{Writes: []store.Write{{Op: store.OpAdd}}}, store.ErrInvalid, "", 0},
		{"an unknown op", adminToken, store.Batch{Writes: []store.Write{{Op: 9, Membership: &store.Membership{Member: "a", Group: "team:a"}}}}, store.ErrInvalid, "", 0},
		{"too many writes", adminToken, store.Batch{Writes: tooMany}, store.ErrInvalid, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.sent.Load()
			_, err := d.client(t, tc.token).Write(ctx, tc.batch)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Write: %v; want %v", err, tc.want)
			}
			var werr *client.Error
			switch {
			case tc.code == "":
				if n := d.sent.Load() - before; n != 0 || errors.As(err, &werr) {
					t.Errorf("an invalid batch was sent (%d requests): %v", n, err)
				}
			case !errors.As(err, &werr) || werr.Code != tc.code || werr.Status != tc.status:
				t.Errorf("Write: %#v; want %d %s", err, tc.status, tc.code)
			}
		})
	}
	if rev, err := d.st.Revision(ctx); err != nil || rev != 0 {
		t.Errorf("refused writes moved the store to revision %d (%v)", rev, err)
	}
}

// TestDataPagesAndChanges: Data pages through the records in the order
// they were added; Changes reads the changelog and, with a wait, answers
// as soon as a batch commits.
func TestDataPagesAndChanges(t *testing.T) {
	t.Parallel()
	d := newDataService(t)
	ctx := context.Background()
	admin := d.client(t, adminToken)
	members := []string{"u0", "u1", "u2", "u3", "u4"}
	for _, m := range members {
		if _, err := admin.Write(ctx, store.Batch{Writes: []store.Write{addMember(m, "team:a"), addGrant(m, "doc:"+m, "edit")}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	f := store.Filter{Kind: store.Memberships, Group: "team:a", Limit: 2}
	for pages := 0; ; pages++ {
		recs, next, err := admin.Data(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Membership == nil {
				t.Fatalf("a grant in a listing of memberships: %+v", r)
			}
			got = append(got, r.Membership.Member)
		}
		if next == "" {
			break
		}
		if pages > len(members) {
			t.Fatal("paging does not end")
		}
		f.After = next
	}
	if strings.Join(got, " ") != strings.Join(members, " ") {
		t.Errorf("listed %v; want %v", got, members)
	}
	grants, _, err := admin.Data(ctx, store.Filter{Kind: store.Grants, Subject: "u3"})
	if err != nil || len(grants) != 1 || grants[0].Grant.Resource != "doc:u3" {
		t.Errorf("grants of u3: %+v, %v", grants, err)
	}

	changes, through, err := admin.Changes(ctx, 3, 0, 0)
	if err != nil || through != 5 || len(changes) != 4 || changes[0].Revision != 4 || changes[3].Revision != 5 {
		t.Fatalf("Changes after 3: %+v through %d, %v", changes, through, err)
	}
	type result struct {
		changes []store.Change
		through store.Revision
		err     error
	}
	done := make(chan result, 1)
	go func() {
		c, th, err := admin.Changes(ctx, 5, 0, 5*time.Second)
		done <- result{c, th, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the wait answered before anything changed: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := admin.Write(ctx, store.Batch{Writes: []store.Write{{Op: store.OpRemove, Membership: &store.Membership{Member: "u0", Group: "team:a"}}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.through != 6 || len(r.changes) != 1 || r.changes[0].Op != store.OpRemove {
			t.Errorf("the wait answered %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not answer the commit")
	}
}

// TestDataArgumentsRefused: arguments the service would refuse are
// refused before sending.
func TestDataArgumentsRefused(t *testing.T) {
	t.Parallel()
	d := newDataService(t)
	ctx := context.Background()
	admin := d.client(t, adminToken)
	short, err := client.New(d.url, &client.Options{Token: adminToken, HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"a pattern in a filter", func() error { _, _, err := admin.Data(ctx, store.Filter{Member: "a*"}); return err }, "member"},
		{"a limit over the most", func() error { _, _, err := admin.Data(ctx, store.Filter{Limit: store.MaxLimit + 1}); return err }, "limit"},
		{"a bad cursor", func() error { _, _, err := admin.Data(ctx, store.Filter{After: "zz"}); return err }, `cursor "zz"`},
		{"a negative changes limit", func() error { _, _, err := admin.Changes(ctx, 0, -1, 0); return err }, "limit -1"},
		{"a wait over the most", func() error { _, _, err := admin.Changes(ctx, 0, 0, 2*time.Minute); return err }, "wait 2m0s"},
		{"a negative wait", func() error { _, _, err := admin.Changes(ctx, 0, 0, -time.Second); return err }, "wait -1s"},
		{"a wait the HTTP client would cut", func() error { _, _, err := short.Changes(ctx, 0, 0, 2*time.Second); return err }, "timeout 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.sent.Load()
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want an error naming %q", err, tc.want)
			}
			if n := d.sent.Load() - before; n != 0 {
				t.Errorf("%d requests sent for a refused call", n)
			}
		})
	}
}

// TestReadyFollowingStore: a service with a store and no policy file
// serves the store's published version, and its readiness decodes, with
// that version and when it began to serve; a reload (SIGHUP) there has
// no file to load and reports no failed reload.
func TestReadyFollowingStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	v, err := warden.Publish(ctx, st, "policy.toml", []byte(dataPolicy))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	s, err := server.New(server.Config{Store: st, Token: checkToken, StorePoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(srv.URL, &client.Options{Token: checkToken})
	if err != nil {
		t.Fatal(err)
	}
	// SIGHUP's reload: no file, so nothing to reload and nothing failed.
	if err := s.Reload(); err != nil {
		t.Errorf("Reload with no policy file: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := c.Ready(ctx)
		if err != nil {
			t.Fatalf("Ready: %v", err)
		}
		if r.Ready {
			if r.PolicyVersion != v.Version || r.LoadedAt.Before(before.Add(-time.Second)) || r.LoadedAt.After(time.Now()) || r.Store == nil || r.Store.PolicySeq != v.Seq || r.LastReload != nil {
				t.Errorf("readiness %+v; want version %s (seq %d) loaded since %v", r, v.Version, v.Seq, before)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 10 s: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
