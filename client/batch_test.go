package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
)

func TestCheckBatch(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, secret, true)
	c := newClient(t, srv.URL, &client.Options{Token: secret})
	reqs := []warden.Request{
		{Subject: "alice", Resource: "articles:animals:42", Action: "articles:update"},
		{Subject: "a*", Resource: "articles:animals:42", Action: "articles:update"}, // invalid name
		{Subject: "bob", Resource: "articles:animals:42", Action: "articles:update"},
		{Subject: "alice", Resource: "articles:locked", Action: "articles:update"},
		{Subject: "alice", Action: ""}, // empty action
		{Subject: "alice", Resource: "articles:b", Action: "articles:update", Context: map[string]any{"ip": "10.0.0.1"}},
	}
	got, err := c.CheckBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("%d results for %d requests", len(got), len(reqs))
	}
	for i, r := range reqs {
		want, derr := svc.policy.Decide(r)
		switch {
		case derr != nil:
			if got[i].Err == nil || !errors.Is(got[i].Err, warden.ErrInvalidRequest) || got[i].Err.Status != 0 {
				t.Errorf("request %d (%+v): result %+v, want an invalid_request item error", i, r, got[i])
			}
			if !cmp.Equal(got[i].Decision, warden.Decision{}) || got[i].Allowed() {
				t.Errorf("request %d: item error with decision %+v", i, got[i].Decision)
			}
		default:
			if got[i].Err != nil {
				t.Errorf("request %d: unexpected item error %v", i, got[i].Err)
			}
			if diff := cmp.Diff(want, got[i].Decision); diff != "" {
				t.Errorf("request %d: (-want +got)\n%s", i, diff)
			}
			if got[i].Allowed() != want.Allowed {
				t.Errorf("request %d: Allowed() = %t", i, got[i].Allowed())
			}
		}
	}
}

// TestCheckBatchLimits: an empty batch and one over MaxBatch are refused
// before anything is sent, with the sentinels the service's own answers
// carry; MaxBatch itself is sent.
func TestCheckBatchLimits(t *testing.T) {
	t.Parallel()
	one := warden.Request{Subject: "alice", Resource: "articles:a", Action: "articles:update"}
	tests := []struct {
		name string
		n    int
		want error // nil: accepted
		sent bool
	}{
		{"empty", 0, warden.ErrInvalidRequest, false},
		{"one", 1, nil, true},
		{"MaxBatch", client.MaxBatch, nil, true},
		{"MaxBatch+1", client.MaxBatch + 1, client.ErrBatchTooLarge, false},
		{"far over", 3 * client.MaxBatch, client.ErrBatchTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, srv := newService(t, "", true)
			// A full batch under the race detector on a busy machine
			// can outlast DefaultTimeout; time is not what is tested.
			c := newClient(t, srv.URL, &client.Options{HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
			reqs := make([]warden.Request, tt.n)
			for i := range reqs {
				reqs[i] = one
			}
			res, err := c.CheckBatch(context.Background(), reqs)
			if tt.want == nil {
				if err != nil || len(res) != tt.n {
					t.Fatalf("%d results, %v", len(res), err)
				}
				for i, r := range res {
					if !r.Allowed() {
						t.Fatalf("result %d: %+v", i, r)
					}
				}
			} else {
				if !errors.Is(err, tt.want) || res != nil {
					t.Fatalf("CheckBatch = %d results, %v; want %v", len(res), err, tt.want)
				}
				if tt.want == client.ErrBatchTooLarge && !strings.Contains(err.Error(), "MaxBatch") {
					t.Errorf("error %q does not name the limit", err)
				}
			}
			if sent := svc.requests.Load() > 0; sent != tt.sent {
				t.Errorf("sent = %t, want %t", sent, tt.sent)
			}
		})
	}
}

// TestCheckBatchServiceErrors: whole-batch error answers.
func TestCheckBatchServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		canned canned
		is     error
		code   string
	}{
		{"batch_too_large", canned{status: 413, body: `{"error":{"code":"batch_too_large","message":"over 10000"}}`}, client.ErrBatchTooLarge, client.CodeBatchTooLarge},
		{"invalid_json", canned{status: 400, body: `{"error":{"code":"invalid_json","message":"request 3: bad"}}`}, nil, client.CodeInvalidJSON},
		{"empty", canned{status: 400, body: `{"error":{"code":"invalid_request","message":"no requests"}}`}, warden.ErrInvalidRequest, client.CodeInvalidRequest},
		{"unauthorized", canned{status: 401, body: `{"error":{"code":"unauthorized","message":"token"}}`}, warden.ErrUnauthorized, client.CodeUnauthorized},
		{"no policy", canned{status: 503, body: `{"error":{"code":"no_policy","message":"none"}}`}, warden.ErrNoPolicy, client.CodeNoPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.canned.server(t).URL, nil)
			res, err := c.CheckBatch(context.Background(), []warden.Request{{Subject: "alice", Action: "read"}})
			if err == nil || res != nil {
				t.Fatalf("CheckBatch = %+v, %v", res, err)
			}
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Code != tt.code || ce.Status != tt.canned.status {
				t.Errorf("error %v, want a *Error with %d %s", err, tt.canned.status, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// TestCheckBatchHostileAnswers: a 200 answer that is not exactly one item
// per request, each a decision or an error object, fails the whole batch.
func TestCheckBatchHostileAnswers(t *testing.T) {
	t.Parallel()
	const d = `{"allowed":true,"effect":"allow","reason":"r","policy_version":"v"}`
	const e = `{"error":{"code":"invalid_request","message":"m"}}`
	tests := []struct {
		name, body, want string
	}{
		{"too few items", `{"decisions":[` + d + `]}`, "1 decisions for 2 requests"},
		{"too many items", `{"decisions":[` + d + `,` + d + `,` + d + `]}`, "3 decisions for 2 requests"},
		{"no items", `{"decisions":[]}`, "0 decisions for 2 requests"},
		{"decisions null", `{"decisions":null}`, `"decisions" is null`},
		{"decisions missing", `{"results":[` + d + `,` + d + `]}`, `"decisions" is missing`},
		{"decisions an object", `{"decisions":{"0":` + d + `}}`, `"decisions": want`},
		{"decisions twice", `{"decisions":[` + d + `,` + d + `],"decisions":[` + d + `,` + d + `]}`, "appears twice"},
		{"item not an object", `{"decisions":[` + d + `,true]}`, "decision 1: want a JSON object"},
		{"item null", `{"decisions":[null,` + d + `]}`, "decision 0: want a JSON object, not null"},
		{"item missing allowed", `{"decisions":[` + d + `,{"effect":"allow","reason":"r","policy_version":"v"}]}`, `decision 1: not a decision: field "allowed" is missing`},
		{"item allowed twice", `{"decisions":[` + d + `,{"allowed":false,"allowed":true,"effect":"allow","reason":"r","policy_version":"v"}]}`, "decision 1: field \"allowed\" appears twice"},
		{"item error without code", `{"decisions":[` + d + `,{"error":{"message":"m"}}]}`, `decision 1: field "error": field "code" is missing`},
		{"item error with empty code", `{"decisions":[` + d + `,{"error":{"code":"","message":"m"}}]}`, "the code is empty"},
		{"item error not an object", `{"decisions":[` + d + `,{"error":"invalid_request"}]}`, `decision 1: field "error": want a JSON object`},
		{"item both, valid error", `{"decisions":[` + d + `,{"allowed":true,"effect":"allow","reason":"r","policy_version":"v","error":{"code":"internal","message":"m"}}]}`, "decision 1: both a decision and an error object"},
		{"item both", `{"decisions":[` + d + `,{"allowed":true,"effect":"allow","reason":"r","policy_version":"v","error":"x"}]}`, "decision 1: both a decision and an error object"},
		{"truncated", `{"decisions":[` + d + `,` + d[:30], "unexpected end"},
		{"trailing data", `{"decisions":[` + d + `,` + e + `]}]`, "after top-level value"},
		{"single decision instead", d, `"decisions" is missing`},
		{"HTML", `<html>hi</html>`, "not valid JSON"},
		{"over the limit", `{"decisions":[` + d + `,` + d + `],"pad":"` + strings.Repeat("a", client.MaxListBytes) + `"}`, "limit of 8388608 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, canned{status: 200, body: tt.body}.server(t).URL, nil)
			res, err := c.CheckBatch(context.Background(), []warden.Request{{Subject: "alice", Action: "read"}, {Subject: "bob", Action: "read"}})
			if err == nil {
				t.Fatalf("accepted %.100q as %+v", tt.body, res)
			}
			if res != nil {
				t.Errorf("results %+v with an error", res)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestCheckBatchItemErrors: item errors are kept apart from decisions.
func TestCheckBatchItemErrors(t *testing.T) {
	t.Parallel()
	body := `{"decisions":[{"error":{"code":"invalid_request","message":"subject \"a*\": '*' in a name"}},` +
		`{"allowed":false,"effect":"none","reason":"no rule matched","policy_version":"v"},` +
		`{"error":{"code":"some_future_code","message":"m","line":3},"index":2}]}`
	c := newClient(t, canned{status: 200, body: body}.server(t).URL, nil)
	res, err := c.CheckBatch(context.Background(), make([]warden.Request, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Result{
		{Err: &client.Error{Code: "invalid_request", Message: `subject "a*": '*' in a name`}},
		{Decision: warden.Decision{Effect: warden.EffectNone, Reason: "no rule matched", PolicyVersion: "v"}},
		{Err: &client.Error{Code: "some_future_code", Message: "m"}},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if !errors.Is(res[0].Err, warden.ErrInvalidRequest) || errors.Is(res[2].Err, warden.ErrInvalidRequest) {
		t.Errorf("errors.Is on item errors: %v, %v", res[0].Err, res[2].Err)
	}
	for i, r := range res {
		if r.Allowed() {
			t.Errorf("result %d allowed", i)
		}
	}
}

// TestManyFields: an answer with hundreds of thousands of keys, duplicated
// or not, is decoded in linear time; a quadratic duplicate check would
// take minutes.
func TestManyFields(t *testing.T) {
	t.Parallel()
	const d = `{"allowed":true,"effect":"allow","reason":"r","policy_version":"v"}`
	var pad strings.Builder
	for i := 0; pad.Len() < client.MaxListBytes-1000; i++ {
		fmt.Fprintf(&pad, `,"k%d":0`, i)
	}
	tests := []struct {
		name, body, wantErr string
	}{
		{"unknown keys", `{"decisions":[` + d + `,` + d + `]` + pad.String() + `}`, ""},
		{"a duplicate at the end", `{"decisions":[` + d + `,` + d + `]` + pad.String() + `,"k7":1}`, `field "k7" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, canned{status: 200, body: tt.body}.server(t).URL, &client.Options{HTTPClient: &http.Client{Timeout: time.Minute}})
			res, err := c.CheckBatch(context.Background(), make([]warden.Request, 2))
			switch {
			case tt.wantErr == "" && (err != nil || len(res) != 2):
				t.Fatalf("CheckBatch = %+v, %v", res, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckBatch = %+v, %v; want an error saying %q", res, err, tt.wantErr)
			}
		})
	}
}
