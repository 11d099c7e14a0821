package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
)

// answerWith is an http.RoundTripper that answers every request with one
// status and body, without a network, so the fuzzer runs fast.
type answerWith struct {
	status int
	ctype  string // "" sends no Content-Type
	body   []byte
}

func (a answerWith) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	resp := &http.Response{
		StatusCode: a.status, Status: http.StatusText(a.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {a.ctype}},
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: r,
	}
	if a.ctype == "" {
		resp.Header = http.Header{}
	}
	return resp, nil
}

var fuzzStatuses = []int{200, 200, 200, 200, 201, 204, 400, 401, 413, 415, 500, 502, 503}

// fuzzTypes are the Content-Types the fuzzer answers with; the first two
// are the only ones the client may read an answer from.
var fuzzTypes = []string{"application/json", "application/json; charset=utf-8", "text/plain", "", "application/json; charset=latin1", "text/html; charset=utf-8"}

// lossless reports whether decoding body with encoding/json, which turns
// invalid UTF-8 and lone surrogate escapes into U+FFFD, changes no text:
// no decoded key or string holds U+FFFD unless the body spells it.
func lossless(body []byte) bool {
	if bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
		return true // cannot tell a spelled U+FFFD from a replaced one
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return true
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			return !strings.ContainsRune(v, utf8.RuneError)
		case []any:
			for _, e := range v {
				if !walk(e) {
					return false
				}
			}
		case map[string]any:
			for k, e := range v {
				if strings.ContainsRune(k, utf8.RuneError) || !walk(e) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}

// FuzzAnswers feeds arbitrary bytes as the service's answer to Check,
// CheckBatch, Audit and Ready, under one of fuzzStatuses and one of
// fuzzTypes (both chosen by the first argument). None may panic; on any
// error the decision is the zero, denying one, and there are no results,
// events or readiness; and anything accepted came with the right status,
// declared as application/json, and was valid JSON whose text decodes
// without loss, so no garbage is ever read as an answer.
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
		`{"events":[{"id":"1","time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":true,"status":"allowed","reason":"r","latency_ns":5,"revision":18446744073709551615}]}`,
		`{"events":[{"id":"1","time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":true,"status":"allowed","reason":"r","latency_ns":5,"revision":-1}]}`,
		`{"events":null}`, `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":{"ok":false,"time":"2026-11-25T10:00:00Z","error":"e"}}`,
		`{"ready":false,"error":"no policy"}`,
		"{\"allowed\":true,\"effect\":\"allow\",\"reason\":\"\xff\",\"policy_version\":\"v\"}",
		`{"allowed":true,"effect":"allow","reason":"\ud800","policy_version":"v"}`,
		`{"allowed":true,"effect":"allow","reason":"\ud83d\ude00 \\ud800","policy_version":"v"}`,
		`{"decisions":[{"error":{"code":"invalid_request","message":"\udc00"}}]}`,
		`{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","x\ud800":1}`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(2*len(fuzzStatuses)), []byte(d)) // text/plain
	f.Add(uint8(3*len(fuzzStatuses)), []byte(d)) // no Content-Type
	f.Add(uint8(4*len(fuzzStatuses)), []byte(d)) // charset=latin1
	f.Add(uint8(6), []byte(`{"error":{"code":"invalid_request","message":"m"}}`))
	f.Add(uint8(7), []byte(`{"error":{"code":"unauthorized","message":"m"}}`))
	f.Add(uint8(12), []byte(`{"ready":false,"error":"no policy"}`))
	f.Fuzz(func(t *testing.T, statusIndex uint8, body []byte) {
		status := fuzzStatuses[int(statusIndex)%len(fuzzStatuses)]
		ctype := fuzzTypes[int(statusIndex)/len(fuzzStatuses)%len(fuzzTypes)]
		c, err := client.New("http://warden.invalid", &client.Options{HTTPClient: &http.Client{Transport: answerWith{status, ctype, body}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// readable is what an accepted answer must be.
		readable := (ctype == fuzzTypes[0] || ctype == fuzzTypes[1]) && json.Valid(body) && lossless(body)

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
			if status != 200 || !readable {
				t.Fatalf("Check accepted HTTP %d %q (%q) as %+v", status, body, ctype, dec)
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
		case err == nil && (status != 200 || !readable || len(res) != len(reqs)):
			t.Fatalf("CheckBatch accepted HTTP %d %q (%q) as %+v", status, body, ctype, res)
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
		case err == nil && (status != 200 || !readable):
			t.Fatalf("Audit accepted HTTP %d %q (%q) as %+v", status, body, ctype, page)
		case err == nil && page.Next != "" && page.Next != page.Events[len(page.Events)-1].ID:
			t.Fatalf("Audit accepted next %q after %+v", page.Next, page.Events)
		}

		ready, err := c.Ready(ctx)
		switch {
		case err != nil && !cmp.Equal(ready, client.Readiness{}):
			t.Fatalf("Ready: %+v with error %v", ready, err)
		case err == nil && (ready.Ready != (status == 200) || !readable):
			t.Fatalf("Ready accepted HTTP %d %q (%q) as %+v", status, body, ctype, ready)
		}
		// An error answer's code and message are the service's only
		// when they could have been read as an answer.
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code != "" && !readable {
			t.Fatalf("Ready read the code %q from HTTP %d %q (%q)", ce.Code, status, body, ctype)
		}
	})
}
