package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
)

// fuzzHandler is one server shared by a fuzz run's inputs.
func fuzzHandler(f *testing.F) http.Handler {
	fx := start(f, policyAllow, nil)
	return fx.srv.Handler()
}

// checkResponse fails unless the response is a decision with 200 or the
// error object with a 4xx: a hostile body never gets a 5xx, a panic or a
// decision with an error status.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, isDecision func([]byte) bool) {
	t.Helper()
	body := rec.Body.Bytes()
	switch {
	case rec.Code == 200:
		if !isDecision(body) {
			t.Fatalf("200 without a decision: %.300s", body)
		}
	case rec.Code >= 400 && rec.Code < 500:
		if errorCode(body) == "" {
			t.Fatalf("%d without the error object: %.300s", rec.Code, body)
		}
	default:
		t.Fatalf("status %d: %.300s", rec.Code, body)
	}
}

func isDecision(b []byte) bool {
	var d warden.Decision
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&d) == nil && d.PolicyVersion != "" && d.Reason != ""
}

// FuzzCheckHandler drives POST /v1/check with arbitrary bodies and
// Content-Types.
func FuzzCheckHandler(f *testing.F) {
	for _, s := range []string{
		`{"subject":"alice","resource":"doc:1","action":"read"}`,
		`{"subject":"alice","action":"read","context":{"ip":"::1","n":1e400}}`,
		`{"subject":"a*","action":"read"}`, `{"subject":"alice"}`, `{`, `[]`, `null`, "",
		`{"subject":"alice","action":"read","x":1}`, `{"subject":"\ud800","action":"r"}`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"subject":"alice","action":"read"}`, "")
	f.Add(`{"subject":"alice","action":"read"}`, "text/plain")
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body, ct string) {
		req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, isDecision)
	})
}

// FuzzBatchHandler drives POST /v1/check/batch with arbitrary bodies.
func FuzzBatchHandler(f *testing.F) {
	for _, s := range []string{
		`{"requests":[{"subject":"alice","resource":"doc:1","action":"read"},{"subject":"*","action":"x"}]}`,
		`{"requests":[]}`, `{"requests":null}`, `{"requests":[1]}`, `{}`, `{"requests":[{"subject":"a","action":"b","context":{}}]}`,
		` {"requests" : [ {"action":"b","subject":"a"} ] } `, `{"requests":[{"subject":"a","action":"b"}],}`,
	} {
		f.Add(s)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/check/batch", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, func(b []byte) bool {
			var out struct {
				Decisions []json.RawMessage `json:"decisions"`
			}
			if json.Unmarshal(b, &out) != nil || len(out.Decisions) == 0 {
				return false
			}
			for _, d := range out.Decisions {
				if !isDecision(d) && errorCode(d) != "invalid_request" {
					return false
				}
			}
			return true
		})
	})
}

// FuzzAuditQuery drives GET /v1/audit with arbitrary query strings: a
// page of events or invalid_query, never a 5xx.
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{
		"", "subject=alice", "status=denied&limit=2", "since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z",
		"action=read,write&resource=doc:*", "after=x", "limit=10001", "subject=a&subject=b", "%zz", "x=1", "resource=a::b",
	} {
		f.Add(s)
	}
	fx := start(f, policyAllow, nil)
	h := fx.srv.Handler()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/check", strings.NewReader(`{"subject":"alice","resource":"doc:1","action":"read"}`)))
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/v1/audit", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 200 {
			var page struct {
				Events []json.RawMessage `json:"events"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &page) != nil || page.Events == nil {
				t.Fatalf("200 without a page: %s", rec.Body)
			}
			return
		}
		if rec.Code != 400 || errorCode(rec.Body.Bytes()) != "invalid_query" {
			t.Fatalf("query %q: %d %s", raw, rec.Code, rec.Body)
		}
	})
}
