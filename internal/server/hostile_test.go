package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/server"
)

// TestHostileChecks sends /v1/check bodies a hostile or broken client
// might; each gets a 4xx with the error object, never a decision or a 5xx
// (SPEC 9.3).
func TestHostileChecks(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	long := strings.Repeat("a", 1025)
	tests := []struct {
		name, body string
		header     []string
		status     int
		code       string
	}{
		{"empty body", "", nil, 400, "invalid_json"},
		{"not JSON", "subject=alice", nil, 400, "invalid_json"},
		{"truncated", `{"subject":"alice"`, nil, 400, "invalid_json"},
		{"array", `[{"subject":"alice","action":"read"}]`, nil, 400, "invalid_json"},
		{"string", `"alice"`, nil, 400, "invalid_json"},
		{"null", `null`, nil, 400, "invalid_json"},
		{"number", `42`, nil, 400, "invalid_json"},
		{"unknown field", `{"subject":"alice","action":"read","admin":true}`, nil, 400, "invalid_request"},
		{"misspelt field", `{"subjet":"alice","action":"read"}`, nil, 400, "invalid_request"},
		{"field in another case", `{"Subject":"alice","action":"read"}`, nil, 400, "invalid_request"},
		{"duplicate field", `{"subject":"alice","subject":"root","action":"read"}`, nil, 400, "invalid_request"},
		{"duplicate by escape", `{"subject":"alice","\u0073ubject":"root","action":"read"}`, nil, 400, "invalid_request"},
		{"subject a number", `{"subject":1,"action":"read"}`, nil, 400, "invalid_request"},
		{"action an array", `{"subject":"alice","action":["read"]}`, nil, 400, "invalid_request"},
		{"null field", `{"subject":null,"action":"read"}`, nil, 400, "invalid_request"},
		{"context a string", `{"subject":"alice","action":"read","context":"x"}`, nil, 400, "invalid_request"},
		{"missing subject", `{"action":"read"}`, nil, 400, "invalid_request"},
		{"missing action", `{"subject":"alice"}`, nil, 400, "invalid_request"},
		{"empty object", `{}`, nil, 400, "invalid_request"},
		{"trailing data", `{"subject":"alice","action":"read"} {}`, nil, 400, "invalid_json"},
		{"trailing garbage", `{"subject":"alice","action":"read"}x`, nil, 400, "invalid_json"},
		{"two objects", `{"subject":"alice","action":"read"}{"subject":"bob","action":"read"}`, nil, 400, "invalid_json"},
		{"pattern in subject", `{"subject":"*","resource":"doc:1","action":"read"}`, nil, 400, "invalid_request"},
		{"alternatives in resource", `{"subject":"alice","resource":"doc:1,doc:2","action":"read"}`, nil, 400, "invalid_request"},
		{"empty subject", `{"subject":"","action":"read"}`, nil, 400, "invalid_request"},
		{"space in name", `{"subject":"alice smith","action":"read"}`, nil, 400, "invalid_request"},
		{"control char in name", `{"subject":"alice\u0000","action":"read"}`, nil, 400, "invalid_request"},
		{"raw control char", "{\"subject\":\"al\x01ice\",\"action\":\"read\"}", nil, 400, "invalid_json"},
		{"empty segment", `{"subject":"a::b","action":"read"}`, nil, 400, "invalid_request"},
		{"name over 1024 bytes", `{"subject":"` + long + `","action":"read"}`, nil, 400, "invalid_request"},
		{"65 segments", `{"subject":"` + strings.Repeat("a:", 64) + `a","action":"read"}`, nil, 400, "invalid_request"},
		{"deep nesting in context", `{"subject":"alice","action":"read","context":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`, nil, 400, "invalid_json"},
		{"body over 1 MiB", `{"subject":"alice","action":"read","context":{"x":"` + strings.Repeat("x", 1<<20) + `"}}`, nil, 413, "request_too_large"},
		{"wrong content type", `{"subject":"alice","action":"read"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form content type", `subject=alice`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"broken content type", `{"subject":"alice","action":"read"}`, []string{"Content-Type", "application/json; ==="}, 415, "unsupported_media_type"},
		{"invalid UTF-8", "{\"subject\":\"\xff\",\"action\":\"read\"}", nil, 400, "invalid_request"},
		{"BOM", "\ufeff{\"subject\":\"alice\",\"action\":\"read\"}", nil, 400, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, "POST", "/v1/check", tt.body, tt.header...)
			if r.status != tt.status || errorCode(r.body) != tt.code {
				t.Errorf("got %d %.300s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
}

// TestHostileBatches does the same for /v1/check/batch: anything wrong
// with the body fails the whole batch; only an invalid name is answered
// item by item (TestBatch).
func TestHostileBatches(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	ok := `{"subject":"alice","resource":"doc:1","action":"read"}`
	many := func(n int) string { return `{"requests":[` + strings.Repeat(ok+",", n-1) + ok + `]}` }
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty body", "", 400, "invalid_json"},
		{"not JSON", "requests", 400, "invalid_json"},
		{"bare array", `[` + ok + `]`, 400, "invalid_request"},
		{"null", `null`, 400, "invalid_request"},
		{"empty object", `{}`, 400, "invalid_request"},
		{"empty list", `{"requests":[]}`, 400, "invalid_request"},
		{"requests null", `{"requests":null}`, 400, "invalid_request"},
		{"requests an object", `{"requests":{}}`, 400, "invalid_request"},
		{"requests a string", `{"requests":"x"}`, 400, "invalid_request"},
		{"unknown field", `{"requests":[` + ok + `],"strategy":"allow"}`, 400, "invalid_request"},
		{"duplicate requests", `{"requests":[` + ok + `],"requests":[` + ok + `]}`, 400, "invalid_request"},
		{"escaped key", `{"r\u0065quests":[` + ok + `]}`, 200, ""},
		{"unterminated list", `{"requests":[` + ok, 400, "invalid_json"},
		{"missing comma", `{"requests":[` + ok + ok + `]}`, 400, "invalid_json"},
		{"trailing comma", `{"requests":[` + ok + `,]}`, 400, "invalid_json"},
		{"trailing data", many(1) + `x`, 400, "invalid_json"},
		{"item not an object", `{"requests":[` + ok + `,42]}`, 400, "invalid_json"},
		{"item unknown field", `{"requests":[` + ok + `,{"subject":"a","action":"b","x":1}]}`, 400, "invalid_request"},
		{"item wrong type", `{"requests":[{"subject":1,"action":"b"}]}`, 400, "invalid_request"},
		{"item missing action", `{"requests":[{"subject":"a"}]}`, 400, "invalid_request"},
		{"item malformed", `{"requests":[{"subject":"a",}]}`, 400, "invalid_json"},
		{"nested deep", `{"requests":[` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `]}`, 400, "invalid_json"},
		{"max batch", many(server.MaxBatch), 200, ""},
		{"over max batch", many(server.MaxBatch + 1), 413, "batch_too_large"},
		{"body over limit", `{"requests":[{"subject":"a","action":"b","context":{"x":"` + strings.Repeat("x", server.MaxBatchBytes) + `"}}]}`, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, "POST", "/v1/check/batch", tt.body)
			if tt.status == 200 {
				if r.status != 200 || !strings.HasPrefix(string(r.body), `{"decisions":[{"allowed":true`) {
					t.Errorf("got %d %.300s, want 200", r.status, r.body)
				}
				return
			}
			if r.status != tt.status || errorCode(r.body) != tt.code {
				t.Errorf("got %d %.300s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
}

// TestHostileQueries sends bad /v1/audit queries and requests to paths
// and methods that do not exist.
func TestHostileQueries(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	tests := []struct {
		name, method, target string
		status               int
		code                 string
	}{
		{"unknown parameter", "GET", "/v1/audit?subjet=alice", 400, "invalid_query"},
		{"repeated parameter", "GET", "/v1/audit?subject=a&subject=b", 400, "invalid_query"},
		{"bad status", "GET", "/v1/audit?status=maybe", 400, "invalid_query"},
		{"bad since", "GET", "/v1/audit?since=yesterday", 400, "invalid_query"},
		{"bad until", "GET", "/v1/audit?until=" + url.QueryEscape("2026-13-01T00:00:00Z"), 400, "invalid_query"},
		{"limit zero", "GET", "/v1/audit?limit=0", 400, "invalid_query"},
		{"limit negative", "GET", "/v1/audit?limit=-1", 400, "invalid_query"},
		{"limit over max", "GET", fmt.Sprintf("/v1/audit?limit=%d", 10001), 400, "invalid_query"},
		{"limit not a number", "GET", "/v1/audit?limit=ten", 400, "invalid_query"},
		{"bad action pattern", "GET", "/v1/audit?action=" + url.QueryEscape("a::b"), 400, "invalid_query"},
		{"bad resource pattern", "GET", "/v1/audit?resource=" + url.QueryEscape("a,"), 400, "invalid_query"},
		{"broken escape", "GET", "/v1/audit?subject=%zz", 400, "invalid_query"},
		{"check with unknown parameter", "POST", "/v1/check?debug=1", 400, "invalid_query"},
		{"check with bad explain", "POST", "/v1/check?explain=maybe", 400, "invalid_query"},
		{"batch with a parameter", "POST", "/v1/check/batch?x=1", 400, "invalid_query"},
		{"GET check", "GET", "/v1/check", 405, "method_not_allowed"},
		{"PUT batch", "PUT", "/v1/check/batch", 405, "method_not_allowed"},
		{"POST audit", "POST", "/v1/audit", 405, "method_not_allowed"},
		{"POST healthz", "POST", "/healthz", 405, "method_not_allowed"},
		{"unknown path", "GET", "/v2/check", 404, "not_found"},
		{"unknown v1 path", "POST", "/v1/checks", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := ""
			if tt.method == "POST" {
				body = `{"subject":"alice","action":"read"}`
			}
			r := f.do(t, tt.method, tt.target, body)
			if r.status != tt.status || errorCode(r.body) != tt.code {
				t.Errorf("got %d %.300s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
}
