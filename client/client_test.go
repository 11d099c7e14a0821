package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
	"github.com/warden-authz/warden/guard"
)

const secret = "s3cr3t-t0ken"

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, token string
		wantErr          string // empty: accepted
	}{
		{"http", "http://localhost:8080", "", ""},
		{"https with prefix", "https://example.com/warden/", secret, ""},
		{"IPv6", "http://[::1]:9000", "", ""},
		{"no scheme", "localhost:8080", "", "scheme"},
		{"ftp", "ftp://example.com", "", `scheme "ftp"`},
		{"no host", "http://", "", "no host"},
		{"path only", "/v1", "", "scheme"},
		{"opaque", "http:example.com", "", "no host"},
		{"user info", "https://bob:hunter2@example.com", "", "user info"},
		{"query", "https://example.com/?x=1", "", "query"},
		{"fragment", "https://example.com/#x", "", "fragment"},
		{"unparsable", "http://[::1", "", "base URL"},
		{"control character", "http://exa\x7fmple.com", "", "base URL"},
		{"empty", "", "", "scheme"},
		{"token with newline", "http://localhost", "abc\r\nX-Evil: 1", "token"},
		{"token with space", "http://localhost", "abc def", "token"},
		{"token non-ASCII", "http://localhost", "tökén", "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(tt.url, &client.Options{Token: tt.token})
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New(%q) = %v, %v", tt.url, c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%q) accepted", tt.url)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			for _, leak := range []string{"hunter2", "X-Evil", "def", "tökén"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q repeats the credential %q", err, leak)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, secret, true)
	c := newClient(t, srv.URL, &client.Options{Token: secret})
	version := svc.policy.Version()
	tests := []struct {
		name string
		req  warden.Request
		want warden.Decision
	}{
		{"allowed", warden.Request{Subject: "alice", Resource: "articles:animals:42", Action: "articles:update"},
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.edit", Item: 1,
				Reason: `[rules.edit] "editors" is allowed to do "articles:update" on "articles:*"`, PolicyVersion: version}},
		{"denied by a rule", warden.Request{Subject: "alice", Resource: "articles:locked", Action: "articles:update"},
			warden.Decision{Effect: warden.EffectDeny, Rule: "rules.edit", Item: 1,
				Reason: `[rules.edit] "*" is not allowed to do "any action" on "articles:locked"`, PolicyVersion: version}},
		{"denied, no rule", warden.Request{Subject: "bob", Resource: "articles:animals:42", Action: "articles:update"},
			warden.Decision{Effect: warden.EffectNone, Reason: `no rule matched; the default mismatch decision is "deny"`, PolicyVersion: version}},
		{"context is carried", warden.Request{Subject: "alice", Resource: "articles:a", Action: "articles:update", Context: map[string]any{"ip": "10.0.0.1", "n": 1}},
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.edit", Item: 1,
				Reason: `[rules.edit] "editors" is allowed to do "articles:update" on "articles:*"`, PolicyVersion: version}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := svc.policy.Decide(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, tt.want); diff != "" {
				t.Fatalf("the test's expectation is not the policy's decision (-policy +test):\n%s", diff)
			}
			got, err := c.Check(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestCheckErrors: every error the service can answer reaches the caller
// as a *Error with its status and code, the sentinels match, and the
// decision is the zero (denying) one.
func TestCheckErrors(t *testing.T) {
	t.Parallel()
	_, live := newService(t, secret, true)
	_, noPolicy := newService(t, "", false)
	tests := []struct {
		name    string
		url     string // the service; empty means canned
		canned  canned
		token   string
		req     warden.Request
		status  int
		code    string
		is      []error
		isNot   []error
		message string
	}{
		{name: "bad name", url: live.URL, token: secret, req: warden.Request{Subject: "a*", Action: "read"},
			status: 400, code: client.CodeInvalidRequest, is: []error{warden.ErrInvalidRequest}, isNot: []error{warden.ErrUnauthorized}},
		{name: "empty subject", url: live.URL, token: secret, req: warden.Request{Action: "read"},
			status: 400, code: client.CodeInvalidRequest, is: []error{warden.ErrInvalidRequest}},
		{name: "no token", url: live.URL, req: warden.Request{Subject: "alice", Action: "read"},
			status: 401, code: client.CodeUnauthorized, is: []error{warden.ErrUnauthorized}, isNot: []error{warden.ErrInvalidRequest}},
		{name: "wrong token", url: live.URL, token: "wrong", req: warden.Request{Subject: "alice", Action: "read"},
			status: 401, code: client.CodeUnauthorized, is: []error{warden.ErrUnauthorized}},
		{name: "no policy", url: noPolicy.URL, req: warden.Request{Subject: "alice", Action: "read"},
			status: 503, code: client.CodeNoPolicy, is: []error{warden.ErrNoPolicy}},
		{name: "invalid_json", canned: canned{status: 400, body: `{"error":{"code":"invalid_json","message":"unexpected end of JSON"}}`},
			status: 400, code: client.CodeInvalidJSON, isNot: []error{warden.ErrInvalidRequest}, message: "unexpected end of JSON"},
		{name: "request_too_large", canned: canned{status: 413, body: `{"error":{"code":"request_too_large","message":"over 1048576 bytes"}}`},
			status: 413, code: client.CodeRequestTooLarge},
		{name: "unsupported_media_type", canned: canned{status: 415, body: `{"error":{"code":"unsupported_media_type","message":"send application/json"}}`},
			status: 415, code: client.CodeUnsupportedMediaType},
		{name: "method_not_allowed", canned: canned{status: 405, body: `{"error":{"code":"method_not_allowed","message":"use POST"}}`},
			status: 405, code: client.CodeMethodNotAllowed},
		{name: "internal", canned: canned{status: 500, body: `{"error":{"code":"internal","message":"boom"}}`},
			status: 500, code: client.CodeInternal, message: "boom"},
		{name: "401 from a proxy without an error object", canned: canned{status: 401, contentType: "text/html", body: "<html>login</html>"},
			status: 401, code: "", is: []error{warden.ErrUnauthorized}, message: "not a warden error object"},
		{name: "HTML 502 from a proxy", canned: canned{status: 502, contentType: "text/html; charset=utf-8", body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
			status: 502, code: "", message: `text/html, starting "<html><body><h1>502 Bad Gateway`},
		{name: "empty 503", canned: canned{status: 503},
			status: 503, code: "", message: "an empty body", isNot: []error{warden.ErrNoPolicy}},
		{name: "error object with empty code", canned: canned{status: 400, body: `{"error":{"code":"","message":"x"}}`},
			status: 400, code: "", message: "not a warden error object"},
		{name: "error object with numeric code", canned: canned{status: 400, body: `{"error":{"code":400,"message":"x"}}`},
			status: 400, code: "", message: "not a warden error object"},
		{name: "huge error body is cut", canned: canned{status: 500, contentType: "text/plain", body: strings.Repeat("x", 5<<20)},
			status: 500, code: "", message: "not a warden error object"},
		{name: "control characters in message", canned: canned{status: 400, body: `{"error":{"code":"invalid_request","message":"a\nFAKE LOG LINE\u001b[31m"}}`},
			status: 400, code: client.CodeInvalidRequest, is: []error{warden.ErrInvalidRequest}},
		{name: "redirect", canned: canned{status: 307, header: map[string]string{"Location": "http://elsewhere.invalid/v1/check"}},
			status: 0, message: "redirected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			if url == "" {
				url = tt.canned.server(t).URL
			}
			c := newClient(t, url, &client.Options{Token: tt.token})
			req := tt.req
			if req.Subject == "" && req.Action == "" {
				req = warden.Request{Subject: "alice", Action: "read"}
			}
			d, err := c.Check(context.Background(), req)
			if err == nil {
				t.Fatalf("no error; decision %+v", d)
			}
			if !cmp.Equal(d, warden.Decision{}) {
				t.Errorf("decision with an error is %+v, want the zero Decision", d)
			}
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
			if strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("error %q has control characters", err)
			}
			if !strings.Contains(err.Error(), "POST /v1/check") {
				t.Errorf("error %q does not name the call", err)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%q, %v) = false", err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%q, %v) = true", err, target)
				}
			}
			if tt.status == 0 {
				return
			}
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%q is not a *client.Error", err)
			}
			if ce.Status != tt.status || ce.Code != tt.code {
				t.Errorf("Error{Status: %d, Code: %q}, want %d %q", ce.Status, ce.Code, tt.status, tt.code)
			}
			if len(ce.Message) > client.MaxErrorBytes {
				t.Errorf("message is %d bytes, over MaxErrorBytes", len(ce.Message))
			}
		})
	}
}

// TestCheckHostileAnswers: a 2xx answer that is not exactly a decision is
// an error with the zero Decision, never a decision read from the wrong
// shape.
func TestCheckHostileAnswers(t *testing.T) {
	t.Parallel()
	const ok = `"effect":"allow","reason":"r","policy_version":"v"`
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   string
	}{
		{"empty", 200, "", "", "unexpected end"},
		{"truncated", 200, "", `{"allowed":true,` + ok[:20], "unexpected end"},
		{"not JSON", 200, "", `allowed`, "not valid JSON"},
		{"HTML from a captive portal", 200, "text/html", `<!DOCTYPE html><html><body>Sign in</body></html>`, `Content-Type "text/html" (want application/json)`},
		{"array", 200, "", `[{"allowed":true,` + ok + `}]`, "want a JSON object, not an array"},
		{"string", 200, "", `"allowed"`, "not a string"},
		{"null", 200, "", `null`, "not null"},
		{"true", 200, "", `true`, "not a boolean"},
		{"missing allowed", 200, "", `{` + ok + `}`, `"allowed" is missing`},
		{"allowed in another case", 200, "", `{"Allowed":true,` + ok + `}`, `"allowed" is missing`},
		{"allowed null", 200, "", `{"allowed":null,` + ok + `}`, `"allowed" is null`},
		{"allowed string", 200, "", `{"allowed":"true",` + ok + `}`, `"allowed": want true or false`},
		{"allowed number", 200, "", `{"allowed":1,` + ok + `}`, `"allowed": want true or false`},
		{"duplicate allowed", 200, "", `{"allowed":false,"allowed":true,` + ok + `}`, "appears twice"},
		{"missing effect", 200, "", `{"allowed":true,"reason":"r","policy_version":"v"}`, `"effect" is missing`},
		{"unknown effect", 200, "", `{"allowed":true,"effect":"permit","reason":"r","policy_version":"v"}`, `"effect": want "allow", "deny" or "none"`},
		{"allowed with deny effect", 200, "", `{"allowed":true,"effect":"deny","reason":"r","policy_version":"v"}`, `"allowed" is true with effect "deny"`},
		{"denied with allow effect", 200, "", `{"allowed":false,"effect":"allow","reason":"r","policy_version":"v"}`, `"allowed" is false with effect "allow"`},
		{"missing reason", 200, "", `{"allowed":true,"effect":"allow","policy_version":"v"}`, `"reason" is missing`},
		{"missing policy_version", 200, "", `{"allowed":true,"effect":"allow","reason":"r"}`, `"policy_version" is missing`},
		{"item negative", 200, "", `{"allowed":true,` + ok + `,"item":-1}`, "negative"},
		{"item fraction", 200, "", `{"allowed":true,` + ok + `,"item":1.5}`, `"item": want an integer`},
		{"path of numbers", 200, "", `{"allowed":true,` + ok + `,"subject_path":[1,2]}`, `"subject_path": want an array of strings`},
		{"error object with 200", 200, "", `{"error":{"code":"internal","message":"x"}}`, "error object"},
		{"decision and error", 200, "", `{"allowed":true,` + ok + `,"error":{"code":"internal","message":"x"}}`, "error object"},
		{"trailing data", 200, "", `{"allowed":true,` + ok + `} {"allowed":false}`, "after top-level value"},
		{"trailing garbage", 200, "", `{"allowed":true,` + ok + `}x`, "after top-level value"},
		{"deep nesting", 200, "", `{"allowed":true,` + ok + `,"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "not valid JSON"},
		{"over the limit", 200, "", `{"allowed":true,` + ok + `,"x":"` + strings.Repeat("a", client.MaxDecisionBytes) + `"}`, "limit of 1048576 bytes"},
		{"201", 201, "", `{"allowed":true,` + ok + `}`, "HTTP 201"},
		{"204", 204, "", ``, "HTTP 204"},
		{"302 without Location", 302, "", ``, "HTTP 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := canned{status: tt.status, contentType: tt.ctype, body: tt.body}.server(t)
			c := newClient(t, srv.URL, nil)
			d, err := c.Check(context.Background(), warden.Request{Subject: "alice", Action: "read"})
			if err == nil {
				t.Fatalf("accepted %.100q as %+v", tt.body, d)
			}
			if !cmp.Equal(d, warden.Decision{}) {
				t.Errorf("decision with an error is %+v, want the zero Decision", d)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestCheckTolerated: what a newer or differently written service may
// send and still be a decision.
func TestCheckTolerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       warden.Decision
	}{
		{"unknown fields are ignored", `{"allowed":true,"effect":"allow","reason":"r","policy_version":"v","obligations":[{"x":1}],"ttl":5}`,
			warden.Decision{Allowed: true, Effect: warden.EffectAllow, Reason: "r", PolicyVersion: "v"}},
		{"mismatch decision allow", `{"allowed":true,"effect":"none","reason":"no rule matched","policy_version":"v"}`,
			warden.Decision{Allowed: true, Effect: warden.EffectNone, Reason: "no rule matched", PolicyVersion: "v"}},
		{"every field, any order, spaces", ` { "policy_version" : "v", "resource_path":["part_b","res1"], "subject_path":["user1","g1"], "item":2, "rule":"rules.r1", "reason":"r", "effect":"deny", "allowed":false } `,
			warden.Decision{Effect: warden.EffectDeny, Rule: "rules.r1", Item: 2, Reason: "r", SubjectPath: []string{"user1", "g1"}, ResourcePath: []string{"part_b", "res1"}, PolicyVersion: "v"}},
		{"empty paths", `{"allowed":false,"effect":"none","reason":"r","subject_path":[],"resource_path":[],"policy_version":"v"}`,
			warden.Decision{Effect: warden.EffectNone, Reason: "r", PolicyVersion: "v"}},
		{"unicode escapes", `{"allowed":false,"effect":"none","reason":"\u00e9l\u00e8ve","policy_version":"v"}`,
			warden.Decision{Effect: warden.EffectNone, Reason: "élève", PolicyVersion: "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := canned{status: 200, body: tt.body}.server(t)
			got, err := newClient(t, srv.URL, nil).Check(context.Background(), warden.Request{Subject: "alice", Action: "read"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestCheckRefusesUnsendable: a request that cannot be sent exactly as
// given is refused before anything is sent.
func TestCheckRefusesUnsendable(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, "", true)
	c := newClient(t, srv.URL, nil)
	tests := []struct {
		name string
		req  warden.Request
		want string
	}{
		{"invalid UTF-8 subject", warden.Request{Subject: "al\xffice", Action: "read"}, "subject"},
		{"invalid UTF-8 action", warden.Request{Subject: "alice", Action: "re\xc3ad"}, "action"},
		{"invalid UTF-8 in context", warden.Request{Subject: "alice", Action: "read", Context: map[string]any{"k": "\xff"}}, "context"},
		{"unencodable context", warden.Request{Subject: "alice", Action: "read", Context: map[string]any{"f": func() {}}}, "context"},
		{"invalid UTF-8 group", warden.Request{Subject: "alice", Action: "read", Groups: []string{"te\xffam"}}, "group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := c.Check(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %+v, %v; want an error about the %s", d, err, tt.want)
			}
			if !errors.Is(err, warden.ErrInvalidRequest) {
				t.Errorf("errors.Is(%q, ErrInvalidRequest) = false", err)
			}
		})
	}
	if n := svc.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the service", n)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c := newClient(t, srv.URL, nil)
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"cancelled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	calls := map[string]func(context.Context) error{
		"Check": func(ctx context.Context) error {
			d, err := c.Check(ctx, warden.Request{Subject: "alice", Action: "read"})
			if !cmp.Equal(d, warden.Decision{}) {
				return fmt.Errorf("decision %+v with an error", d)
			}
			return err
		},
		"CheckBatch": func(ctx context.Context) error {
			res, err := c.CheckBatch(ctx, []warden.Request{{Subject: "alice", Action: "read"}})
			if res != nil {
				return fmt.Errorf("results %+v with an error", res)
			}
			return err
		},
		"Audit":  func(ctx context.Context) error { _, err := c.Audit(ctx, auditQuery()); return err },
		"Ready":  func(ctx context.Context) error { _, err := c.Ready(ctx); return err },
		"Health": c.Health,
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := tt.ctx()
				defer cancel()
				start := time.Now()
				err := call(ctx)
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				if time.Since(start) > 5*time.Second {
					t.Errorf("took %v to notice", time.Since(start))
				}
			})
		}
	}
}

// TestToken: the token is sent, as a bearer token, on every call, and is
// never in an error or in the Client's string forms.
func TestToken(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]string{}
	agents := map[string]bool{}
	bodies := map[string]canned{
		"/v1/check":       {status: 401, body: `{"error":{"code":"unauthorized","message":"bad token"}}`},
		"/v1/check/batch": {status: 200, body: `{"decisions":[]}`},
		"/v1/audit":       {status: 500, contentType: "text/html", body: "<html>oops</html>"},
		"/readyz":         {status: 200, body: `{"ready":"yes"}`},
		"/healthz":        {status: 200, body: `{`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization")
		agents[r.Header.Get("User-Agent")] = true
		mu.Unlock()
		b := bodies[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(b.status)
		fmt.Fprint(w, b.body)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, &client.Options{Token: secret, UserAgent: "test-agent"})
	ctx := context.Background()
	var errs []error
	_, err := c.Check(ctx, warden.Request{Subject: "alice", Action: "read"})
	errs = append(errs, err)
	_, err = c.CheckBatch(ctx, []warden.Request{{Subject: "alice", Action: "read"}})
	errs = append(errs, err)
	_, err = c.Audit(ctx, auditQuery())
	errs = append(errs, err)
	_, err = c.Ready(ctx)
	errs = append(errs, err)
	errs = append(errs, c.Health(ctx))
	_, err = c.CheckBatch(ctx, nil)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
			t.Errorf("call %d: error leaks the token: %v", i, err)
		}
	}
	for path := range bodies {
		if seen[path] != "Bearer "+secret {
			t.Errorf("%s: Authorization = %q", path, seen[path])
		}
	}
	if len(agents) != 1 || !agents["test-agent"] {
		t.Errorf("User-Agent headers %v, want test-agent", agents)
	}
	holder := struct {
		C *client.Client
		V client.Client
		O client.Options
	}{c, *c, client.Options{Token: secret}}
	opts := client.Options{Token: secret}
	for _, s := range []string{
		c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v", *c, *c, *c),
		fmt.Sprintf("%+v %#v", holder, holder), fmt.Sprintf("%v %+v %#v", opts, &opts, opts),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("string form leaks the token: %s", s)
		}
	}
	if !strings.Contains(c.String(), "token set") || !strings.Contains(c.String(), srv.URL) {
		t.Errorf("String() = %q, want the URL and that a token is set", c.String())
	}
}

// TestNoTokenNoHeader: a client without a token sends no Authorization
// header, rather than an empty bearer.
func TestNoTokenNoHeader(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, "", true)
	c := newClient(t, srv.URL, nil)
	if _, err := c.Check(context.Background(), warden.Request{Subject: "alice", Action: "read"}); err != nil {
		t.Fatal(err)
	}
	if got := svc.lastAuth.Load(); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
}

// TestRedirectNotFollowed: the default HTTP client does not follow a
// redirect, which would carry the token to another host.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var leaked sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store("auth", r.Header.Get("Authorization"))
		w.Write([]byte(`{"allowed":true,"effect":"allow","reason":"r","policy_version":"v"}`))
	}))
	t.Cleanup(other.Close)
	srv := canned{status: 307, header: map[string]string{"Location": other.URL + "/v1/check"}}.server(t)
	c := newClient(t, srv.URL, &client.Options{Token: secret})
	d, err := c.Check(context.Background(), warden.Request{Subject: "alice", Action: "read"})
	if err == nil || d.Allowed {
		t.Fatalf("followed the redirect: %+v, %v", d, err)
	}
	if v, ok := leaked.Load("auth"); ok {
		t.Errorf("the redirect target was asked, with Authorization %q", v)
	}
}

// TestConcurrentUse: one Client serves many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	_, srv := newService(t, secret, true)
	c := newClient(t, srv.URL, &client.Options{Token: secret})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				subject := []string{"alice", "bob"}[(i+j)%2]
				d, err := c.Check(context.Background(), warden.Request{Subject: subject, Resource: "articles:x", Action: "articles:update"})
				if err != nil || d.Allowed != (subject == "alice") {
					errs <- fmt.Errorf("%s: %+v, %v", subject, d, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestZeroClient: a nil *Client and the zero Client fail every call with
// an error that says the Client was not made with New, and the empty
// result; a nil *Error is no sentinel.
func TestZeroClient(t *testing.T) {
	t.Parallel()
	var nilClient *client.Client
	for _, c := range []*client.Client{nilClient, {}} {
		for _, call := range strictCalls {
			empty, err := call.do(c)
			if err == nil || !empty || !strings.Contains(err.Error(), "not made with New") {
				t.Errorf("%v: %s = empty %t, %v; want an error and no result", c, call.name, empty, err)
			}
		}
		for e, err := range c.AuditAll(context.Background(), audit.Query{}) {
			if err == nil || e.ID != "" {
				t.Errorf("%v: AuditAll yielded %+v, %v", c, e, err)
			}
		}
	}
	var nilErr *client.Error
	if s := nilErr.Error(); s != "client: nil *Error" {
		t.Errorf("nil *Error says %q", s)
	}
	for _, target := range []error{warden.ErrInvalidRequest, warden.ErrUnauthorized, warden.ErrNoPolicy, client.ErrBatchTooLarge} {
		if nilErr.Is(target) {
			t.Errorf("a nil *Error is %v", target)
		}
	}
}

// TestErrorIs: the sentinels each error answer stands for, and only those.
func TestErrorIs(t *testing.T) {
	t.Parallel()
	sentinels := []error{warden.ErrInvalidRequest, warden.ErrUnauthorized, warden.ErrNoPolicy, client.ErrBatchTooLarge, guard.ErrAccessDenied}
	tests := []struct {
		err  client.Error
		want []error
		text string
	}{
		{client.Error{Status: 400, Code: "invalid_request", Message: "m"}, []error{warden.ErrInvalidRequest}, "HTTP 400 invalid_request: m"},
		{client.Error{Code: "invalid_request", Message: `name "a*" has '*'`}, []error{warden.ErrInvalidRequest}, `invalid_request: name "a*" has '*'`},
		{client.Error{Status: 401, Code: "unauthorized", Message: "m"}, []error{warden.ErrUnauthorized}, "HTTP 401 unauthorized: m"},
		{client.Error{Status: 401, Message: "m"}, []error{warden.ErrUnauthorized}, "HTTP 401 Unauthorized: m"},
		{client.Error{Status: 503, Code: "no_policy", Message: "m"}, []error{warden.ErrNoPolicy}, "HTTP 503 no_policy: m"},
		{client.Error{Status: 413, Code: "batch_too_large", Message: "m"}, []error{client.ErrBatchTooLarge}, "HTTP 413 batch_too_large: m"},
		{client.Error{Status: 413, Code: "request_too_large", Message: "m"}, nil, "HTTP 413 request_too_large: m"},
		{client.Error{Status: 400, Code: "invalid_json", Message: "m"}, nil, "HTTP 400 invalid_json: m"},
		{client.Error{Status: 400, Code: "invalid_query", Message: "m"}, nil, "HTTP 400 invalid_query: m"},
		{client.Error{Status: 500, Code: "internal", Message: "m\r\nx"}, nil, "HTTP 500 internal: m??x"},
		{client.Error{Status: 403, Code: "access_denied", Message: "m"}, nil, "HTTP 403 access_denied: m"},
		{client.Error{Message: "m"}, nil, "error: m"},
		{client.Error{Status: 599, Message: "m"}, nil, "HTTP 599 error: m"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("wrapped: %w", &tt.err)
			for _, s := range sentinels {
				want := false
				for _, w := range tt.want {
					want = want || w == s
				}
				if got := errors.Is(err, s); got != want {
					t.Errorf("errors.Is(%v, %v) = %t, want %t", &tt.err, s, got, want)
				}
			}
			if got := tt.err.Error(); got != tt.text {
				t.Errorf("Error() = %q, want %q", got, tt.text)
			}
		})
	}
}

// TestDeclaredLengthOverLimit: an answer that declares a length over the
// client's limit is refused at once, without waiting for the body.
func TestDeclaredLengthOverLimit(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000000000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"allowed":true,`))
		w.(http.Flusher).Flush()
		select { // a body that never comes
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	c := newClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.Check(ctx, warden.Request{Subject: "alice", Action: "read"})
	if err == nil || !strings.Contains(err.Error(), "limit of 1048576 bytes") {
		t.Errorf("Check = %+v, %v; want the limit error", d, err)
	}
	res, err := c.CheckBatch(ctx, []warden.Request{{Subject: "alice", Action: "read"}})
	if err == nil || res != nil || !strings.Contains(err.Error(), "limit of 8388608 bytes") {
		t.Errorf("CheckBatch = %+v, %v; want the limit error", res, err)
	}
	if ctx.Err() != nil {
		t.Errorf("waited for the body: %v", ctx.Err())
	}
}
