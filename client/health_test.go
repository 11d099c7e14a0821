package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
)

func TestReadyAgainstService(t *testing.T) {
	t.Parallel()
	svc, ready := newService(t, secret, true)
	_, notReady := newService(t, secret, false)

	// /readyz needs no token.
	got, err := newClient(t, ready.URL, nil).Ready(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := client.Readiness{
		Ready: true, PolicyVersion: svc.policy.Version(), LoadedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		LastReload: &client.Reload{OK: false, Time: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), Error: "policy.toml:9:2: bad pattern"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ready (-want +got)\n%s", diff)
	}

	got, err = newClient(t, notReady.URL, nil).Ready(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want = client.Readiness{Error: "no policy has loaded: policy.toml:3:1: unknown key"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("not ready (-want +got)\n%s", diff)
	}
}

func TestReadyAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		canned canned
		want   client.Readiness
		err    string // non-empty: an error saying this
		status int    // of the *Error, when there is one
	}{
		{name: "ready without last_reload", canned: canned{status: 200, body: `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z"}`},
			want: client.Readiness{Ready: true, PolicyVersion: "v", LoadedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}},
		{name: "ready, last reload ok", canned: canned{status: 200, body: `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":{"ok":true,"time":"2026-11-25T10:00:00Z"},"uptime":5}`},
			want: client.Readiness{Ready: true, PolicyVersion: "v", LoadedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
				LastReload: &client.Reload{OK: true, Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}}},
		{name: "not ready", canned: canned{status: 503, body: `{"ready":false,"error":"policy.toml: no such file"}`},
			want: client.Readiness{Error: "policy.toml: no such file"}},
		{name: "503 HTML from a proxy", canned: canned{status: 503, contentType: "text/html", body: "<html>down for maintenance</html>"},
			err: "not a warden error object", status: 503},
		{name: "503 error object", canned: canned{status: 503, body: `{"error":{"code":"no_policy","message":"m"}}`},
			err: "no_policy", status: 503},
		{name: "503 saying ready", canned: canned{status: 503, body: `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z"}`},
			err: "not a warden error object", status: 503},
		{name: "200 saying not ready", canned: canned{status: 200, body: `{"ready":false,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z"}`},
			err: `"ready" is false with HTTP status 200`},
		{name: "ready missing", canned: canned{status: 200, body: `{"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z"}`},
			err: `"ready" is missing`},
		{name: "ready a string", canned: canned{status: 200, body: `{"ready":"true","policy_version":"v","loaded_at":"2026-11-25T10:00:00Z"}`},
			err: `"ready": want true or false`},
		{name: "loaded_at missing", canned: canned{status: 200, body: `{"ready":true,"policy_version":"v"}`},
			err: `"loaded_at" is missing`},
		{name: "last_reload not an object", canned: canned{status: 200, body: `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":true}`},
			err: `"last_reload": want a JSON object`},
		{name: "last_reload without ok", canned: canned{status: 200, body: `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":{"time":"2026-11-25T10:00:00Z"}}`},
			err: `"last_reload": field "ok" is missing`},
		{name: "500", canned: canned{status: 500, body: `{"error":{"code":"internal","message":"m"}}`},
			err: "HTTP 500 internal", status: 500},
		{name: "truncated", canned: canned{status: 200, body: `{"ready":tr`}, err: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := newClient(t, tt.canned.server(t).URL, nil).Ready(context.Background())
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Ready = %+v, %v; want an error saying %q", got, err, tt.err)
			}
			if !cmp.Equal(got, client.Readiness{}) {
				t.Errorf("readiness %+v with an error", got)
			}
			var ce *client.Error
			if tt.status != 0 && (!errors.As(err, &ce) || ce.Status != tt.status) {
				t.Errorf("error %v, want a *Error with status %d", err, tt.status)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	_, srv := newService(t, secret, false)
	if err := newClient(t, srv.URL, nil).Health(context.Background()); err != nil {
		t.Errorf("a live service without a policy: %v", err)
	}
	tests := []struct {
		name   string
		canned canned
		want   string
	}{
		{"status not ok", canned{status: 200, body: `{"status":"degraded"}`}, `status "degraded"`},
		{"status missing", canned{status: 200, body: `{}`}, `"status" is missing`},
		{"not JSON", canned{status: 200, body: `ok`}, "not valid JSON"},
		{"text/plain", canned{status: 200, contentType: "text/plain", body: `{"status":"ok"}`}, `Content-Type "text/plain" (want application/json)`},
		{"500", canned{status: 500, body: `{"error":{"code":"internal","message":"m"}}`}, "HTTP 500 internal: m"},
		{"502 HTML", canned{status: 502, contentType: "text/html", body: `<html/>`}, "HTTP 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newClient(t, tt.canned.server(t).URL, nil).Health(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Health = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestPathPrefix: a service mounted under a path is reached there, with
// or without a trailing slash on the base URL.
func TestPathPrefix(t *testing.T) {
	t.Parallel()
	paths := make(chan string, 8)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"allowed":false,"effect":"none","reason":"r","policy_version":"v"}`))
	}))
	t.Cleanup(s.Close)
	for _, base := range []string{s.URL + "/warden", s.URL + "/warden/"} {
		c := newClient(t, base, nil)
		if _, err := c.Check(context.Background(), warden.Request{Subject: "alice", Action: "read"}); err != nil {
			t.Errorf("%s: %v", base, err)
		}
		if p := <-paths; p != "/warden/v1/check" {
			t.Errorf("%s: asked %s", base, p)
		}
	}
}
