package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
)

// answerWith is an http.RoundTripper that answers every request with one
// status and body, without a network, so the fuzzer runs fast.
type answerWith struct {
	status int
	body   []byte
}

func (a answerWith) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Status: http.StatusText(a.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: r,
	}, nil
}

var fuzzStatuses = []int{200, 200, 200, 200, 201, 204, 400, 401, 413, 415, 500, 502, 503}

// FuzzAnswers feeds arbitrary bytes as the service's answer to Check,
// CheckBatch, Audit and Ready. None may panic; on any error the decision
// is the zero, denying one, and there are no results, events or
// readiness; and anything accepted came with the right status and was
// valid JSON, so no garbage is ever read as an answer.
func FuzzAnswers(f *testing.F) {
	const d = `{"allowed":true,"effect":"allow","rule":"rules.r1","item":2,"reason":"r","subject_path":["u","g"],"policy_version":"v"}`
	for _, s := range []string{
		d,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v"}`,
		`{"decisions":[` + d + `,{"error":{"code":"invalid_request","message":"m"}}]}`,
		`{"decisions":[` + d + `]}`,
		`{"error":{"code":"invalid_request","message":"m"}}`,
		`{"allowed":false,"allowed":true,"effect":"allow","reason":"r","policy_version":"v"}`,
		`{"Allowed":true,"effect":"allow","reason":"r","policy_version":"v"}`,
		`{"allowed":null}`, `<html>502</html>`, `[]`, `null`, `{"decisions":null}`, `{`, ``,
		`{"events":[{"id":"1","time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":true,"status":"allowed","reason":"r","latency_ns":5,"fields":{"n":1}}],"next":"1"}`,
		`{"events":null}`, `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":{"ok":false,"time":"2026-11-25T10:00:00Z","error":"e"}}`,
		`{"ready":false,"error":"no policy"}`,
		"{\"allowed\":true,\"effect\":\"allow\",\"reason\":\"\xff\",\"policy_version\":\"v\"}",
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(6), []byte(`{"error":{"code":"invalid_request","message":"m"}}`))
	f.Add(uint8(7), []byte(`{"error":{"code":"unauthorized","message":"m"}}`))
	f.Add(uint8(12), []byte(`{"ready":false,"error":"no policy"}`))
	f.Fuzz(func(t *testing.T, statusIndex uint8, body []byte) {
		status := fuzzStatuses[int(statusIndex)%len(fuzzStatuses)]
		c, err := client.New("http://warden.invalid", &client.Options{HTTPClient: &http.Client{Transport: answerWith{status, body}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		dec, err := c.Check(ctx, warden.Request{Subject: "alice", Action: "read"})
		if err != nil {
			if !cmp.Equal(dec, warden.Decision{}) {
				t.Fatalf("Check: decision %+v with error %v", dec, err)
			}
			var ce *client.Error
			if status != 200 && !errors.As(err, &ce) {
				t.Fatalf("Check: HTTP %d gave %v, not a *client.Error", status, err)
			}
		} else {
			if status != 200 || !json.Valid(body) {
				t.Fatalf("Check accepted HTTP %d %q as %+v", status, body, dec)
			}
			if dec.Allowed && dec.Effect == warden.EffectDeny {
				t.Fatalf("Check accepted an allowed decision with the deny effect from %q", body)
			}
			// Every accepted decision has the fields that make it one.
			var m map[string]json.RawMessage
			if json.Unmarshal(body, &m) != nil || m["allowed"] == nil || m["effect"] == nil {
				t.Fatalf("Check accepted %q, which lacks allowed or effect", body)
			}
		}

		reqs := []warden.Request{{Subject: "alice", Action: "read"}, {Subject: "bob", Action: "read"}}
		res, err := c.CheckBatch(ctx, reqs)
		switch {
		case err != nil && res != nil:
			t.Fatalf("CheckBatch: results %+v with error %v", res, err)
		case err == nil && (status != 200 || !json.Valid(body) || len(res) != len(reqs)):
			t.Fatalf("CheckBatch accepted HTTP %d %q as %+v", status, body, res)
		}
		for i, r := range res {
			if r.Err != nil && (r.Err.Code == "" || !cmp.Equal(r.Decision, warden.Decision{}) || r.Allowed()) {
				t.Fatalf("result %d: %+v", i, r)
			}
		}

		page, err := c.Audit(ctx, audit.Query{})
		switch {
		case err != nil && !cmp.Equal(page, client.AuditPage{}):
			t.Fatalf("Audit: page %+v with error %v", page, err)
		case err == nil && (status != 200 || !json.Valid(body)):
			t.Fatalf("Audit accepted HTTP %d %q as %+v", status, body, page)
		case err == nil && page.Next != "" && page.Next != page.Events[len(page.Events)-1].ID:
			t.Fatalf("Audit accepted next %q after %+v", page.Next, page.Events)
		}

		ready, err := c.Ready(ctx)
		switch {
		case err != nil && !cmp.Equal(ready, client.Readiness{}):
			t.Fatalf("Ready: %+v with error %v", ready, err)
		case err == nil && ready.Ready != (status == 200):
			t.Fatalf("Ready accepted HTTP %d %q as %+v", status, body, ready)
		}
	})
}
