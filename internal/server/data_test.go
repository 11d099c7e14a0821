package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
)

// policyData has teams made by data, folders of documents, and a block
// of grants written at runtime.
const policyData = `
[roles]
admin = []

[rules.staff]
allow = [['team:*', 'folder:*', 'read']]

[rules.shares]
dynamic = true
`

const adminToken, checkToken = "admin-secret", "check-secret"

func startData(t testing.TB, st store.Store, edit func(*server.Config)) *fixture {
	t.Helper()
	return start(t, policyData, func(c *server.Config) {
		c.Store, c.AdminToken, c.Token = st, adminToken, checkToken
		c.RevisionWait, c.StorePoll = 200*time.Millisecond, 20*time.Millisecond
		if edit != nil {
			edit(c)
		}
	})
}

func (f *fixture) admin(t testing.TB, method, path, body string) response {
	t.Helper()
	return f.do(t, method, path, body, "Authorization", "Bearer "+adminToken, "Content-Type", "application/json")
}

func (f *fixture) check(t testing.TB, body string) response {
	t.Helper()
	return f.do(t, "POST", "/v1/check", body, "Authorization", "Bearer "+checkToken, "Content-Type", "application/json")
}

func waitReady(t testing.TB, f *fixture) {
	t.Helper()
	eventually(t, "the store's data to load", func() bool { return f.do(t, "GET", "/readyz", "").status == 200 })
}

// TestDataWriteReadYourWrite: a write answers its revision once it
// applies, and the next check sees it, with the revision on the decision
// (SPEC 10.4).
func TestDataWriteReadYourWrite(t *testing.T) {
	t.Parallel()
	f := startData(t, store.NewMemory(), nil)
	waitReady(t, f)
	r := f.admin(t, "POST", "/v1/data", `{"writes":[
		{"op":"add","membership":{"member":"alice","group":"team:design"}},
		{"op":"add","membership":{"resource":"doc:42","group":"folder:specs"}},
		{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"bob","resource":"doc:42","action":"edit"}}]}`)
	if r.status != 200 {
		t.Fatalf("write: %d %s", r.status, r.body)
	}
	rev, err := wire.DecodeRevision(r.body)
	if err != nil || rev != 1 {
		t.Fatalf("write answer %s: %d, %v", r.body, rev, err)
	}
	for _, c := range []struct {
		body    string
		allowed bool
		rule    string
	}{
		{`{"subject":"alice","resource":"doc:42","action":"read"}`, true, "rules.staff"},
		{`{"subject":"bob","resource":"doc:42","action":"edit","at_least_revision":1}`, true, "rules.shares"},
		{`{"subject":"bob","resource":"doc:42","action":"read"}`, false, ""},
		{`{"subject":"carol","resource":"doc:42","action":"read","groups":["team:sales"]}`, true, "rules.staff"},
	} {
		r := f.check(t, c.body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", c.body, r.status, r.body)
		}
		d := decodeDecision(t, r.body)
		if d.Allowed != c.allowed || d.Rule != c.rule || d.Revision != 1 {
			t.Errorf("%s: %+v; want allowed %v by %q at revision 1", c.body, d, c.allowed, c.rule)
		}
	}
	r = f.check(t, `{"subject":"bob","resource":"doc:42","action":"edit","at_least_revision":9}`)
	if r.status != 503 || errorCode(r.body) != wire.CodeRevisionUnavailable {
		t.Errorf("a revision not reached: %d %s", r.status, r.body)
	}
	batch := f.do(t, "POST", "/v1/check/batch", `{"requests":[{"subject":"alice","resource":"doc:42","action":"read","at_least_revision":1},{"subject":"bob","resource":"doc:42","action":"edit"}]}`,
		"Authorization", "Bearer "+checkToken, "Content-Type", "application/json")
	if batch.status != 200 || strings.Count(string(batch.body), `"revision":1`) != 2 {
		t.Errorf("batch: %d %s", batch.status, batch.body)
	}
}

// TestDataHostileWrites: each hostile write gets a 4xx and changes
// nothing: the store stays at its revision.
func TestDataHostileWrites(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	f := startData(t, st, nil)
	waitReady(t, f)
	one := `{"op":"add","membership":{"member":"alice","group":"team:a"}}`
	many := func(n int) string { return `{"writes":[` + strings.Repeat(one+",", n-1) + one + `]}` }
	for _, tc := range []struct {
		name, body, token string
		status            int
		code              string
	}{
		{"a pattern character", `{"writes":[{"op":"add","membership":{"member":"al*","group":"team:a"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"alternatives", `{"writes":[{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"a","resource":"doc:1,doc:2","action":"edit"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"an empty name", `{"writes":[{"op":"add","membership":{"member":"","group":"team:a"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"a grant to a static block", `{"writes":[{"op":"add","grant":{"rule":"rules.staff","effect":"allow","subject":"a","resource":"doc:1","action":"edit"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"a grant to no block", `{"writes":[{"op":"add","grant":{"rule":"rules.nope","effect":"allow","subject":"a","resource":"doc:1","action":"edit"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"a role in a group", `{"writes":[{"op":"add","membership":{"member":"admin","group":"team:a"}}]}`, adminToken, 409, wire.CodeConflict},
		{"an unknown op", `{"writes":[{"op":"upsert","membership":{"member":"a","group":"team:a"}}]}`, adminToken, 400, wire.CodeInvalidRequest},
		{"an unknown field", `{"writes":[],"if_revison":0}`, adminToken, 400, wire.CodeInvalidRequest},
		{"100,000 writes", many(100000), adminToken, 413, wire.CodeBatchTooLarge},
		{"a stale if_revision", `{"writes":[` + one + `],"if_revision":7}`, adminToken, 409, wire.CodeRevisionConflict},
		{"not JSON", `{"writes":[`, adminToken, 400, wire.CodeInvalidJSON},
		{"the check token", `{"writes":[` + one + `]}`, checkToken, 401, wire.CodeUnauthorized},
		{"a wrong token", `{"writes":[` + one + `]}`, "guess", 401, wire.CodeUnauthorized},
		{"no token", `{"writes":[` + one + `]}`, "", 401, wire.CodeUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := []string{"Content-Type", "application/json"}
			if tc.token != "" {
				h = append(h, "Authorization", "Bearer "+tc.token)
			}
			r := f.do(t, "POST", "/v1/data", tc.body, h...)
			if r.status != tc.status || errorCode(r.body) != tc.code {
				t.Fatalf("%d %s; want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	// A parameter the write would ignore is refused, not dropped.
	if r := f.admin(t, "POST", "/v1/data?if_revision=0", `{"writes":[`+one+`]}`); r.status != 400 || errorCode(r.body) != wire.CodeInvalidQuery {
		t.Errorf("a write with a query: %d %s; want 400 %s", r.status, r.body, wire.CodeInvalidQuery)
	}
	t.Cleanup(func() {
		if rev, _ := st.Revision(context.Background()); rev != 0 {
			t.Errorf("hostile writes moved the store to revision %d", rev)
		}
	})
}

// TestDataEndpointsGuarded: without an admin token the data endpoints
// answer 403, a check token never reads data, and a server with no store
// has none.
func TestDataEndpointsGuarded(t *testing.T) {
	t.Parallel()
	off := startData(t, store.NewMemory(), func(c *server.Config) { c.AdminToken = "" })
	for _, path := range []string{"/v1/data", "/v1/changes"} {
		if r := off.do(t, "GET", path, "", "Authorization", "Bearer "+checkToken); r.status != 403 || errorCode(r.body) != wire.CodeForbidden {
			t.Errorf("%s without an admin token: %d %s", path, r.status, r.body)
		}
	}
	on := startData(t, store.NewMemory(), nil)
	waitReady(t, on)
	for _, path := range []string{"/v1/data", "/v1/changes"} {
		if r := on.do(t, "GET", path, "", "Authorization", "Bearer "+checkToken); r.status != 401 {
			t.Errorf("%s with the check token: %d %s", path, r.status, r.body)
		}
		if r := on.admin(t, "GET", path, ""); r.status != 200 {
			t.Errorf("%s with the admin token: %d %s", path, r.status, r.body)
		}
	}
	// The admin token opens the check endpoints too.
	if r := on.do(t, "POST", "/v1/check", `{"subject":"a","action":"b"}`, "Authorization", "Bearer "+adminToken, "Content-Type", "application/json"); r.status != 200 {
		t.Errorf("check with the admin token: %d %s", r.status, r.body)
	}
	plain := start(t, policyAllow, nil)
	if r := plain.do(t, "GET", "/v1/data", ""); r.status != 404 {
		t.Errorf("/v1/data on a server without a store: %d %s", r.status, r.body)
	}
	if r := plain.do(t, "POST", "/v1/check", `{"subject":"alice","resource":"doc:1","action":"read","at_least_revision":1}`, "Content-Type", "application/json"); r.status != 503 || errorCode(r.body) != wire.CodeRevisionUnavailable {
		t.Errorf("at_least_revision without a store: %d %s", r.status, r.body)
	}
}

// TestDataListAndChanges: GET /v1/data pages through the records with its
// filters; GET /v1/changes lists the changelog and, with wait, answers as
// soon as a write commits.
func TestDataListAndChanges(t *testing.T) {
	t.Parallel()
	f := startData(t, store.NewMemory(), nil)
	waitReady(t, f)
	for i := range 5 {
		body := fmt.Sprintf(`{"writes":[{"op":"add","membership":{"member":"u%d","group":"team:a"}},{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"u%d","resource":"doc:%d","action":"edit"}}]}`, i, i, i)
		if r := f.admin(t, "POST", "/v1/data", body); r.status != 200 {
			t.Fatalf("write %d: %d %s", i, r.status, r.body)
		}
	}
	var all []store.Record
	after := ""
	for pages := 0; ; pages++ {
		path := "/v1/data?kind=memberships&group=team:a&limit=2"
		if after != "" {
			path += "&after=" + after
		}
		r := f.admin(t, "GET", path, "")
		recs, next, err := wire.DecodeRecords(r.body)
		if r.status != 200 || err != nil {
			t.Fatalf("%s: %d %s %v", path, r.status, r.body, err)
		}
		all = append(all, recs...)
		if next == "" {
			break
		}
		after = next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 5 || all[0].Membership.Member != "u0" || all[4].Membership.Member != "u4" {
		t.Fatalf("listed %+v", all)
	}
	for _, bad := range []string{"?kind=roles", "?limit=99999", "?member=a*", "?colour=red", "?group=a&group=b", "?after=%zz"} {
		if r := f.admin(t, "GET", "/v1/data"+bad, ""); r.status != 400 || errorCode(r.body) != wire.CodeInvalidQuery {
			t.Errorf("GET /v1/data%s: %d %s", bad, r.status, r.body)
		}
	}
	r := f.admin(t, "GET", "/v1/changes?after=3", "")
	changes, through, err := wire.DecodeChanges(r.body)
	if err != nil || through != 5 || len(changes) != 4 || changes[0].Revision != 4 {
		t.Fatalf("changes after 3: %s, %v", r.body, err)
	}
	var got atomic.Pointer[response]
	go func() {
		r := f.admin(t, "GET", "/v1/changes?after=5&wait=10s", "")
		got.Store(&r)
	}()
	time.Sleep(100 * time.Millisecond)
	if got.Load() != nil {
		t.Fatal("the watch answered before anything changed")
	}
	f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"remove","membership":{"member":"u0","group":"team:a"}}]}`)
	eventually(t, "the watch to answer", func() bool { return got.Load() != nil })
	changes, through, err = wire.DecodeChanges(got.Load().body)
	if err != nil || through != 6 || len(changes) != 1 || changes[0].Op != store.OpRemove {
		t.Fatalf("the watch answered %s, %v", got.Load().body, err)
	}
	for _, bad := range []string{"?after=-1", "?wait=2h", "?limit=-1", "?since=3"} {
		if r := f.admin(t, "GET", "/v1/changes"+bad, ""); r.status != 400 {
			t.Errorf("GET /v1/changes%s: %d %s", bad, r.status, r.body)
		}
	}
}

// downStore fails every call while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

var errDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

func (d *downStore) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	if d.down.Load() {
		return 0, errDown
	}
	return d.Store.Snapshot(ctx, fn)
}

func (d *downStore) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	if d.down.Load() {
		return nil, 0, errDown
	}
	return d.Store.Changes(ctx, after, limit)
}

func (d *downStore) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if d.down.Load() {
		return 0, errDown
	}
	return d.Store.Write(ctx, b)
}

// TestStoreOutage: a store down at start leaves the server unready, saying
// why, until it answers; a store lost later keeps the last state deciding,
// writes fail with store_unavailable, and /readyz and /metrics say so
// (SPEC 11.4).
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	st := &downStore{Store: store.NewMemory()}
	st.down.Store(true)
	f := startData(t, st, nil)
	r := f.do(t, "GET", "/readyz", "")
	if r.status != 503 || !strings.Contains(string(r.body), "connection refused") {
		t.Fatalf("readyz while the store is down at start: %d %s", r.status, r.body)
	}
	if r := f.check(t, `{"subject":"alice","action":"read"}`); r.status != 503 || errorCode(r.body) != wire.CodeNoPolicy {
		t.Fatalf("check before the data loaded: %d %s", r.status, r.body)
	}
	st.down.Store(false)
	waitReady(t, f)
	if r := f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"add","membership":{"member":"alice","group":"team:a"}}]}`); r.status != 200 {
		t.Fatalf("write: %d %s", r.status, r.body)
	}
	st.down.Store(true)
	if r := f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"add","membership":{"member":"bob","group":"team:a"}}]}`); r.status != 503 || errorCode(r.body) != wire.CodeStoreUnavailable {
		t.Fatalf("write while the store is down: %d %s", r.status, r.body)
	}
	eventually(t, "readyz to report the outage", func() bool {
		r := f.do(t, "GET", "/readyz", "")
		return r.status == 200 && strings.Contains(string(r.body), `"error":`)
	})
	if d := decodeDecision(t, f.check(t, `{"subject":"alice","resource":"folder:x","action":"read"}`).body); !d.Allowed || d.Revision != 1 {
		t.Fatalf("the last state does not decide: %+v", d)
	}
	m := f.do(t, "GET", "/metrics", "")
	if !strings.Contains(string(m.body), "warden_store_up 0") || !strings.Contains(string(m.body), "warden_store_revision_applied 1") {
		t.Errorf("metrics during the outage:\n%s", grep(string(m.body), "warden_store"))
	}
	st.down.Store(false)
	eventually(t, "the store to be up again", func() bool {
		return strings.Contains(string(f.do(t, "GET", "/metrics", "").body), "warden_store_up 1")
	})
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadKeepsData: a policy file reloaded with a store gets the data
// rebuilt onto it.
func TestReloadKeepsData(t *testing.T) {
	t.Parallel()
	f := startData(t, store.NewMemory(), nil)
	waitReady(t, f)
	f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"bob","resource":"doc:1","action":"edit"}}]}`)
	writePolicy(t, f.path, policyData+"\n[rules.extra]\nallow = [['carol', '*', 'edit']]\n")
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		d := decodeDecision(t, f.check(t, `{"subject":"`+who+`","resource":"doc:1","action":"edit"}`).body)
		if !d.Allowed {
			t.Errorf("%s after the reload: %+v", who, d)
		}
	}
	if r := f.do(t, "GET", "/readyz", ""); !strings.Contains(string(r.body), `"digest"`) {
		t.Errorf("readyz has no digest: %s", r.body)
	}
	_ = http.StatusOK
}

// TestLongWaitsAnswer: a watch of changes and a check for a revision not
// yet applied may wait longer than the server's write timeout (up to a
// minute each); they move their own deadline, so they end in an answer,
// not in a connection closed without one. The write timeout here is
// shortened to 300 ms, below waits of 800 ms.
func TestLongWaitsAnswer(t *testing.T) {
	t.Parallel()
	f := startData(t, store.NewMemory(), func(c *server.Config) { c.RevisionWait = 800 * time.Millisecond })
	waitReady(t, f)
	hs := server.NewHTTPServer(f.srv.Handler())
	hs.WriteTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	url := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		name, method, path, body, token, wantCode string
		wantStatus                                int
	}{
		{"a watch that sees nothing", "GET", "/v1/changes?after=0&wait=800ms", "", adminToken, "", 200},
		{"a check for a revision never written", "POST", "/v1/check", `{"subject":"alice","resource":"doc:1","action":"edit","at_least_revision":5}`, checkToken, "revision_unavailable", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+tc.token)
			req.Header.Set("Content-Type", "application/json")
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("no answer after %v: %v", time.Since(start), err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("answer cut off after %v: %v", time.Since(start), err)
			}
			if resp.StatusCode != tc.wantStatus || errorCode(body) != tc.wantCode {
				t.Errorf("%d %s; want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantCode)
			}
			if waited := time.Since(start); waited < 700*time.Millisecond {
				t.Errorf("answered after %v; the wait is 800ms", waited)
			}
		})
	}
}

// TestReloadRetriedAfterStoreOutage: a new policy file whose store data
// cannot be loaded (the store is down) is not lost: the reload runs again
// by itself and the new policy serves once the store is back, without
// another edit or SIGHUP.
func TestReloadRetriedAfterStoreOutage(t *testing.T) {
	t.Parallel()
	st := &downStore{Store: store.NewMemory()}
	f := startData(t, st, func(c *server.Config) { c.NoWatch = true })
	waitReady(t, f)
	const req = `{"subject":"alice","resource":"folder:x","action":"write"}`
	if d := decodeDecision(t, f.check(t, req).body); d.Allowed {
		t.Fatalf("allowed before the new policy: %+v", d)
	}
	if r := f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"add","membership":{"member":"alice","group":"team:a"}}]}`); r.status != 200 {
		t.Fatalf("write: %d %s", r.status, r.body)
	}
	st.down.Store(true)
	writePolicy(t, f.path, policyData+"\n[rules.writers]\nallow = [['team:*', 'folder:*', 'write']]\n")
	if err := f.srv.Reload(); err == nil {
		t.Fatal("a reload while the store is down succeeded")
	}
	if d := decodeDecision(t, f.check(t, req).body); d.Allowed {
		t.Fatalf("the new policy serves without its data: %+v", d)
	}
	st.down.Store(false)
	eventually(t, "the new policy to serve once the store is back", func() bool {
		return decodeDecision(t, f.check(t, req).body).Allowed
	})
	if r := f.do(t, "GET", "/readyz", ""); !strings.Contains(string(r.body), `"last_reload":{"ok":true`) {
		t.Errorf("readyz after the retried reload: %s", r.body)
	}
}

// stallStore never answers a write: it holds it until its context ends,
// as a store behind a network that drops packets does.
type stallStore struct {
	store.Store
	stalled atomic.Bool
	release chan struct{} // closed when the test ends, so nothing hangs on
}

func (s *stallStore) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if s.stalled.Load() {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.release:
			return 0, errDown
		}
	}
	return s.Store.Write(ctx, b)
}

// TestWriteToStalledStore: a write the store never answers is answered
// 503 store_unavailable once its bound passes, rather than held for as
// long as the connection lives.
func TestWriteToStalledStore(t *testing.T) {
	t.Parallel()
	st := &stallStore{Store: store.NewMemory(), release: make(chan struct{})}
	f := startData(t, st, nil)
	t.Cleanup(func() { close(st.release) }) // before the server closes
	server.SetWriteBound(f.srv, 300*time.Millisecond)
	waitReady(t, f)
	st.stalled.Store(true)
	done := make(chan response, 1)
	go func() {
		done <- f.admin(t, "POST", "/v1/data", `{"writes":[{"op":"add","membership":{"member":"alice","group":"team:a"}}]}`)
	}()
	select {
	case r := <-done:
		if r.status != 503 || errorCode(r.body) != wire.CodeStoreUnavailable {
			t.Errorf("a write to a stalled store: %d %s; want 503 %s", r.status, r.body, wire.CodeStoreUnavailable)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write to a stalled store had no answer after 10 s")
	}
}

// TestAuditRecordsRevision: the audit event of a check records the store
// revision its decision saw, beside the policy version, so the decision
// can be reproduced from that state of the data; GET /v1/audit answers
// it, and leaves it out for a decision made before any data existed.
func TestAuditRecordsRevision(t *testing.T) {
	t.Parallel()
	f := startData(t, store.NewMemory(), nil)
	waitReady(t, f)
	const denied = `{"subject":"bob","resource":"doc:42","action":"edit","context":{"step":"before"}}`
	if r := f.check(t, denied); r.status != 200 || decodeDecision(t, r.body).Allowed {
		t.Fatalf("before any write: %d %s", r.status, r.body)
	}
	var rev uint64
	for _, w := range []string{
		`{"writes":[{"op":"add","membership":{"member":"alice","group":"team:design"}}]}`,
		`{"writes":[{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"bob","resource":"doc:42","action":"edit"}}]}`,
	} {
		r := f.admin(t, "POST", "/v1/data", w)
		var err error
		if rev, err = wire.DecodeRevision(r.body); r.status != 200 || err != nil {
			t.Fatalf("write: %d %s", r.status, r.body)
		}
	}
	if rev != 2 {
		t.Fatalf("the grant was written at revision %d, want 2", rev)
	}
	allow := fmt.Sprintf(`{"subject":"bob","resource":"doc:42","action":"edit","at_least_revision":%d,"context":{"step":"check"}}`, rev)
	r := f.check(t, allow)
	d := decodeDecision(t, r.body)
	if r.status != 200 || !d.Allowed || d.Revision != rev || d.PolicyVersion == "" {
		t.Fatalf("at revision %d: %d %s", rev, r.status, r.body)
	}
	version := d.PolicyVersion
	batch := f.do(t, "POST", "/v1/check/batch", fmt.Sprintf(`{"requests":[{"subject":"bob","resource":"doc:42","action":"edit","at_least_revision":%d,"context":{"step":"batch"}}]}`, rev),
		"Authorization", "Bearer "+checkToken, "Content-Type", "application/json")
	if batch.status != 200 {
		t.Fatalf("batch: %d %s", batch.status, batch.body)
	}
	f.flush(t)

	r = f.do(t, "GET", "/v1/audit?subject=bob", "", "Authorization", "Bearer "+checkToken)
	if r.status != 200 {
		t.Fatalf("GET /v1/audit: %d %s", r.status, r.body)
	}
	page, err := wire.DecodeAuditPage(r.body)
	if err != nil {
		t.Fatalf("GET /v1/audit: %v: %s", err, r.body)
	}
	want := map[string]struct {
		allowed  bool
		revision uint64
	}{"before": {false, 0}, "check": {true, rev}, "batch": {true, rev}}
	if len(page.Events) != len(want) {
		t.Fatalf("%d events of bob's, want %d: %s", len(page.Events), len(want), r.body)
	}
	for _, e := range page.Events {
		step, _ := e.Fields["step"].(string)
		w, ok := want[step]
		if !ok || e.Allowed != w.allowed || e.Revision != w.revision || e.PolicyVersion != version {
			t.Errorf("event of step %q: allowed %v, revision %d, policy %q; want allowed %v at revision %d, policy %q",
				step, e.Allowed, e.Revision, e.PolicyVersion, w.allowed, w.revision, version)
		}
	}
	if n := strings.Count(string(r.body), `"revision":`); n != 2 {
		t.Errorf(`"revision" appears %d times, want 2 (not for the decision before any data): %s`, n, r.body)
	}
	// The fixture's store holds the same.
	n := 0
	for _, e := range f.store.Events() {
		if e.Subject == "bob" && e.Allowed {
			n++
			if e.Revision != rev {
				t.Errorf("stored event %+v: revision %d, want %d", e, e.Revision, rev)
			}
		}
	}
	if n != 2 {
		t.Errorf("the audit store holds %d allowed events of bob's, want 2", n)
	}
}

// failStore fails every Snapshot with err while failing is set, and
// counts the attempts.
type failStore struct {
	store.Store
	err      error
	failing  atomic.Bool
	attempts atomic.Int64
}

func (s *failStore) Snapshot(ctx context.Context, fn func(store.Record) error) (store.Revision, error) {
	if s.failing.Load() {
		s.attempts.Add(1)
		return 0, s.err
	}
	return s.Store.Snapshot(ctx, fn)
}

// TestReloadNotRetriedWhenDataDoesNotApply: a reload that failed for a
// reason of its own, not the store's, is not run again by itself: it
// would fail the same way, after loading every record, each time.
func TestReloadNotRetriedWhenDataDoesNotApply(t *testing.T) {
	t.Parallel()
	st := &failStore{Store: store.NewMemory(), err: errors.New("nested too deeply")}
	f := startData(t, st, func(c *server.Config) { c.NoWatch = true })
	waitReady(t, f)
	st.failing.Store(true)
	writePolicy(t, f.path, policyData+"\n[rules.writers]\nallow = [['team:*', 'folder:*', 'write']]\n")
	if err := f.srv.Reload(); err == nil {
		t.Fatal("a reload whose data does not apply succeeded")
	}
	tried := st.attempts.Load()
	time.Sleep(1500 * time.Millisecond) // three times the first retry's wait
	if n := st.attempts.Load(); n != tried {
		t.Errorf("the reload ran again by itself (%d loads, then %d)", tried, n)
	}
}
