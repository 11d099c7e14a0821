package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/server"
)

// TestCheck pins POST /v1/check (SPEC 9.3): 200 with the decision object
// for allowed and denied decisions alike, naming the policy version.
func TestCheck(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	ver := version(t, policyAllow)
	tests := []struct {
		name, body, query string
		want              warden.Decision
	}{
		{"allowed through a group", `{"subject":"alice","resource":"doc:1","action":"read"}`, "",
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.read", Item: 1, Reason: `[rules.read] "staff" is allowed to do "read" on "docs"`, PolicyVersion: ver}},
		{"denied by rule", `{"subject":"bob","resource":"doc:secret","action":"read"}`, "",
			warden.Decision{Effect: warden.EffectDeny, Rule: "rules.read", Item: 1, Reason: `[rules.read] "bob" is not allowed to do "read" on "doc:secret"`, PolicyVersion: ver}},
		{"explained", `{"subject":"alice","resource":"doc:1","action":"read"}`, "?explain=true",
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.read", Item: 1, Reason: `[rules.read] "staff" is allowed to do "read" on "docs"`,
				SubjectPath: []string{"alice", "staff"}, ResourcePath: []string{"doc:1", "docs"}, PolicyVersion: ver}},
		{"with context and escapes", `{"subject":"\u0061lice","resource":"doc:1","action":"read","context":{"ip":"10.0.0.1"}}`, "",
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.read", Item: 1, Reason: `[rules.read] "staff" is allowed to do "read" on "docs"`, PolicyVersion: ver}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, "POST", "/v1/check"+tt.query, tt.body, "Content-Type", "application/json")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got := decodeDecision(t, r.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no match denies by default", func(t *testing.T) {
		t.Parallel()
		r := f.do(t, "POST", "/v1/check", `{"subject":"carol","action":"read"}`)
		d := decodeDecision(t, r.body)
		if r.status != 200 || d.Allowed || d.Effect != warden.EffectNone || d.PolicyVersion != ver {
			t.Errorf("status %d, decision %+v", r.status, d)
		}
	})
}

// TestBatch pins POST /v1/check/batch: decisions in request order, and an
// error item for a request with an invalid name.
func TestBatch(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	body := `{"requests":[
		{"subject":"alice","resource":"doc:1","action":"read"},
		{"subject":"user*","resource":"doc:1","action":"read"},
		{"subject":"bob","resource":"doc:secret","action":"read"},
		{"subject":"bob","resource":"doc:2","action":"read","context":{"n":1}}
	]}`
	r := f.do(t, "POST", "/v1/check/batch", body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Decisions []json.RawMessage `json:"decisions"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Decisions) != 4 {
		t.Fatalf("%d decisions for 4 requests: %s", len(got.Decisions), r.body)
	}
	wantAllowed := []bool{true, false, false, true}
	for i, raw := range got.Decisions {
		if i == 1 {
			if code := errorCode(raw); code != "invalid_request" {
				t.Errorf("item 1: want an invalid_request error, got %s", raw)
			}
			continue
		}
		if d := decodeDecision(t, raw); d.Allowed != wantAllowed[i] || d.PolicyVersion == "" {
			t.Errorf("item %d: %+v", i, d)
		}
	}
	f.flush(t)
	events := f.store.Events()
	if len(events) != 4 {
		t.Fatalf("%d audit events for 4 decisions", len(events))
	}
	if events[1].Status != audit.StatusError || events[3].Fields["n"] == nil {
		t.Errorf("events: %+v", events)
	}
}

// TestAuditEndpoint pins GET /v1/audit: audit.Query's filters and paging
// by next.
func TestAuditEndpoint(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	for i := range 5 {
		f.do(t, "POST", "/v1/check", fmt.Sprintf(`{"subject":"alice","resource":"doc:%d","action":"read"}`, i))
	}
	f.do(t, "POST", "/v1/check", `{"subject":"bob","resource":"doc:secret","action":"read"}`)
	f.flush(t)

	type page struct {
		Events []audit.Event `json:"events"`
		Next   string        `json:"next"`
	}
	get := func(q url.Values) page {
		t.Helper()
		r := f.do(t, "GET", "/v1/audit?"+q.Encode(), "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := get(url.Values{"status": {"denied"}}); len(p.Events) != 1 || p.Events[0].Subject != "bob" || p.Next != "" {
		t.Errorf("denied: %+v", p)
	}
	if p := get(url.Values{"resource": {"doc:*"}, "subject": {"alice"}}); len(p.Events) != 5 {
		t.Errorf("alice's: %d events", len(p.Events))
	}
	// Page through everything two at a time.
	var ids []string
	q := url.Values{"limit": {"2"}}
	for range 10 {
		p := get(q)
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		if p.Next == "" {
			break
		}
		q.Set("after", p.Next)
	}
	if len(ids) != 6 {
		t.Errorf("paged through %d events, want 6", len(ids))
	}
	if p := get(url.Values{"since": {"2999-01-01T00:00:00Z"}}); p.Events == nil || len(p.Events) != 0 {
		t.Errorf("future: %+v (want an empty list, not null)", p)
	}
}

func TestAuditOff(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, func(c *server.Config) { c.Audit = nil })
	if r := f.do(t, "POST", "/v1/check", `{"subject":"alice","resource":"doc:1","action":"read"}`); r.status != 200 {
		t.Errorf("check: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1/audit", ""); r.status != 404 || errorCode(r.body) != "not_found" {
		t.Errorf("audit: %d %s", r.status, r.body)
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	if r := f.do(t, "GET", "/healthz", ""); r.status != 200 || string(r.body) != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r := f.do(t, "GET", "/readyz", "")
	var ready struct {
		Ready         bool   `json:"ready"`
		PolicyVersion string `json:"policy_version"`
		LoadedAt      string `json:"loaded_at"`
		LastReload    struct {
			OK    bool   `json:"ok"`
			Time  string `json:"time"`
			Error string `json:"error"`
		} `json:"last_reload"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil || r.status != 200 {
		t.Fatalf("readyz: %d %s %v", r.status, r.body, err)
	}
	if !ready.Ready || ready.PolicyVersion != version(t, policyAllow) || ready.LoadedAt == "" || !ready.LastReload.OK || ready.LastReload.Time == "" {
		t.Errorf("readyz: %s", r.body)
	}
}

// TestNotReadyUntilLoaded pins SPEC 9.2's readiness: it fails only while
// no policy has ever loaded, and says why.
func TestNotReadyUntilLoaded(t *testing.T) {
	t.Parallel()
	f := start(t, brokenPolicy, func(c *server.Config) { c.NoWatch = true })
	r := f.do(t, "GET", "/readyz", "")
	if r.status != 503 || !strings.Contains(string(r.body), `"ready":false`) || !strings.Contains(string(r.body), "policy.toml:2") {
		t.Errorf("readyz before load: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/v1/check", `{"subject":"alice","action":"read"}`); r.status != 503 || errorCode(r.body) != "no_policy" {
		t.Errorf("check before load: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/v1/check/batch", `{"requests":[{"subject":"alice","action":"read"}]}`); r.status != 503 || errorCode(r.body) != "no_policy" {
		t.Errorf("batch before load: %d %s", r.status, r.body)
	}
	writePolicy(t, f.path, policyAllow)
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "GET", "/readyz", ""); r.status != 200 {
		t.Errorf("readyz after load: %d %s", r.status, r.body)
	}
}

// TestToken pins the bearer token: every /v1 endpoint answers 401 without
// it, health and metrics do not need it, and it is never logged.
func TestToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token-value"
	f := start(t, policyAllow, func(c *server.Config) { c.Token = token })
	endpoints := []struct{ method, path, body string }{
		{"POST", "/v1/check", `{"subject":"alice","resource":"doc:1","action":"read"}`},
		{"POST", "/v1/check/batch", `{"requests":[{"subject":"alice","resource":"doc:1","action":"read"}]}`},
		{"GET", "/v1/audit", ""},
		{"GET", "/v1/nonexistent", ""},
		{"DELETE", "/v1/check", ""},
	}
	headers := []struct {
		name string
		h    []string
	}{
		{"none", nil},
		{"wrong token", []string{"Authorization", "Bearer wrong"}},
		{"prefix of token", []string{"Authorization", "Bearer " + token[:5]}},
		{"token plus", []string{"Authorization", "Bearer " + token + "x"}},
		{"basic scheme", []string{"Authorization", "Basic " + token}},
		{"no scheme", []string{"Authorization", token}},
		{"empty bearer", []string{"Authorization", "Bearer "}},
	}
	for _, e := range endpoints {
		for _, h := range headers {
			r := f.do(t, e.method, e.path, e.body, h.h...)
			if r.status != 401 || errorCode(r.body) != "unauthorized" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %s: %d %s", e.method, e.path, h.name, r.status, r.body)
			}
		}
		r := f.do(t, e.method, e.path, e.body, "Authorization", "Bearer "+token)
		if r.status == 401 {
			t.Errorf("%s %s with the token: 401", e.method, e.path)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := f.do(t, "GET", p, ""); r.status != 200 {
			t.Errorf("%s without token: %d", p, r.status)
		}
	}
	if strings.Contains(f.logBuf.String(), token) {
		t.Errorf("the token is in the log:\n%s", f.logBuf.String())
	}
}

// TestMetrics checks the names docs/serve.md promises and that decisions
// are counted by effect.
func TestMetrics(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	f.do(t, "POST", "/v1/check", `{"subject":"alice","resource":"doc:1","action":"read"}`)
	f.do(t, "POST", "/v1/check/batch", `{"requests":[{"subject":"bob","resource":"doc:secret","action":"read"},{"subject":"carol","action":"read"},{"subject":"a*","action":"read"}]}`)
	r := f.do(t, "GET", "/metrics", "")
	text := string(r.body)
	for _, want := range []string{
		`warden_decisions_total{effect="allow"} 1`,
		`warden_decisions_total{effect="deny"} 1`,
		`warden_decisions_total{effect="none"} 1`,
		`warden_decisions_total{effect="error"} 1`,
		`warden_http_request_duration_seconds_bucket{endpoint="check"`,
		`warden_http_request_duration_seconds_count{endpoint="batch"} 1`,
		`warden_http_responses_total{code="200",endpoint="check"} 1`,
		`warden_batch_requests_count 1`,
		`warden_policy_reloads_total{result="ok"} 1`,
		`warden_policy_last_reload_success 1`,
		`warden_policy_loaded 1`,
		`warden_audit_queue_depth`,
		`warden_audit_dropped_total 0`,
		`warden_audit_refused_total 0`,
		`warden_audit_write_failures_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestNewNeedsPolicyPath(t *testing.T) {
	t.Parallel()
	if _, err := server.New(server.Config{}); err == nil {
		t.Error("New without a policy path succeeded")
	}
	if _, err := server.New(server.Config{PolicyPath: "/nonexistent-dir/p.toml"}); err == nil {
		t.Error("New watching a missing directory succeeded")
	}
	s, err := server.New(server.Config{PolicyPath: "/nonexistent-dir/p.toml", NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "nonexistent-dir") {
		t.Errorf("Reload of a missing file: %v", err)
	}
}

// blockingSink holds every write until release is closed.
// blockingSink holds every write until release is closed; entered hears
// when the writer is first held.
type blockingSink struct{ release, entered chan struct{} }

func newBlockingSink() blockingSink {
	return blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (b blockingSink) Record(ctx context.Context, e *audit.Event) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return nil
}

func (b blockingSink) Query(context.Context, audit.Query) ([]audit.Event, error) { return nil, nil }

// TestAuditDrop: with AuditDrop, a full queue drops and counts events and
// decisions still go out; by default a full queue makes the request wait,
// and a request that gives up waiting gets no decision.
func TestAuditDrop(t *testing.T) {
	t.Parallel()
	body := `{"subject":"alice","resource":"doc:1","action":"read"}`
	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		sink := newBlockingSink()
		f := start(t, policyAllow, func(c *server.Config) { c.Audit, c.AuditQueue, c.AuditDrop = sink, 1, true })
		defer close(sink.release)
		// Once the writer is held in the sink with the first event (after
		// its linger), the queue takes one more and drops the rest.
		if r := f.do(t, "POST", "/v1/check", body); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		<-sink.entered
		for range 5 {
			if r := f.do(t, "POST", "/v1/check", body); r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		m := string(f.do(t, "GET", "/metrics", "").body)
		if strings.Contains(m, "warden_audit_dropped_total 0") || !strings.Contains(m, "warden_audit_dropped_total") {
			t.Errorf("no drops counted:\n%s", m)
		}
		// Four drops, one log line: a sustained overflow must not flood
		// the log (the metric has the exact count).
		if n := strings.Count(f.logBuf.String(), "dropping events"); n != 1 {
			t.Errorf("%d log lines about drops, want 1:\n%s", n, f.logBuf.String())
		}
	})
	t.Run("backpressure", func(t *testing.T) {
		t.Parallel()
		sink := newBlockingSink()
		f := start(t, policyAllow, func(c *server.Config) { c.Audit, c.AuditQueue = sink, 1 })
		defer close(sink.release)
		// The writer holds one event and the queue one more; the third
		// waits, and gives up with its context.
		for i := range 2 {
			if r := f.do(t, "POST", "/v1/check", body); r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if i == 0 {
				<-sink.entered
			}
		}
		eventually(t, "the writer to take an event", func() bool {
			return strings.Contains(string(f.do(t, "GET", "/metrics", "").body), "warden_audit_queue_depth 1")
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "POST", "/v1/check", strings.NewReader(body))
		rec := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != 503 || errorCode(rec.Body.Bytes()) != "audit_failed" || strings.Contains(rec.Body.String(), "allowed") {
			t.Errorf("a decision went out without its event: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestServerNotMade: a Server that New did not make, zero or nil, serves
// nothing and never panics: every method returns ErrNotMade and its
// Handler answers 500 with the error object; it buffers nothing. A made Server takes a nil
// context for the background one, and refuses a nil listener.
func TestServerNotMade(t *testing.T) {
	t.Parallel()
	for _, s := range []*server.Server{nil, {}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for name, err := range map[string]error{
			"Reload": s.Reload(),
			"Flush":  s.Flush(context.Background()),
			"Serve":  s.Serve(context.Background(), ln),
			"Close":  s.Close(),
		} {
			if !errors.Is(err, server.ErrNotMade) {
				t.Errorf("%#v: %s = %v, want ErrNotMade", s, name, err)
			}
		}
		if n := s.BufferedBytes(); n != 0 {
			t.Errorf("%#v: BufferedBytes = %d, want 0", s, n)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/check", strings.NewReader(`{"subject":"alice","action":"read"}`)))
		if rec.Code != 500 || errorCode(rec.Body.Bytes()) != "internal" {
			t.Errorf("%#v: Handler answered %d %s", s, rec.Code, rec.Body)
		}
	}
	f := start(t, policyAllow, nil)
	if err := f.srv.Flush(nil); err != nil {
		t.Errorf("Flush(nil) = %v", err)
	}
	if err := f.srv.Serve(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "no listener") {
		t.Errorf("Serve without a listener = %v", err)
	}
}

// TestStopLog: a clean stop says the audit log was flushed only when
// there is one.
func TestStopLog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		audit   server.AuditStore
		flushed bool
	}{
		{"audit on", &audit.Memory{}, true},
		{"audit off", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := serveLive(t, policyAllow, func(c *server.Config) { c.Audit = tc.audit })
			if err := l.stop(); err != nil {
				t.Fatal(err)
			}
			log := l.logBuf.String()
			stopped := strings.Contains(log, "msg=stopped\n") || strings.Contains(log, `msg="stopped; audit log flushed"`)
			if !stopped || strings.Contains(log, "audit log flushed") != tc.flushed {
				t.Errorf("log, want \"audit log flushed\" %t:\n%s", tc.flushed, log)
			}
		})
	}
}
