package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
	"github.com/warden-authz/warden/internal/wire"
)

// testPolicy is a small policy the fake service decides with.
const testPolicy = `
[groups]
editors = ['alice']

[rules.edit]
allow = [['editors', 'articles:*', 'articles:update']]
deny = [['*', 'articles:locked', '*']]
`

// service is a stand-in for `warden serve` that follows the HTTP contract
// (docs/serve.md, SPEC 9.2, 9.3) exactly, so the client is
// tested against the contract rather than against one implementation.
type service struct {
	token  string
	policy *warden.Policy // nil: no policy has loaded
	log    audit.Memory
	// requests counts requests that reached a handler, for tests that
	// check the client sent nothing.
	requests atomic.Int64
	// lastAuth is the last Authorization header seen.
	lastAuth atomic.Value
}

func newService(t testing.TB, token string, withPolicy bool) (*service, *httptest.Server) {
	t.Helper()
	s := &service{token: token}
	if withPolicy {
		p, err := warden.Parse("policy.toml", []byte(testPolicy))
		if err != nil {
			t.Fatal(err)
		}
		s.policy = p
	}
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/check", s.v1(http.MethodPost, s.check))
	mux.Handle("/v1/check/batch", s.v1(http.MethodPost, s.batch))
	mux.Handle("/v1/audit", s.v1(http.MethodGet, s.audit))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.policy == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": "no policy has loaded: policy.toml:3:1: unknown key"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"ready": true, "policy_version": s.policy.Version(), "loaded_at": "2026-11-25T10:00:00Z",
			"last_reload": map[string]any{"ok": false, "time": "2026-11-25T11:00:00Z", "error": "policy.toml:9:2: bad pattern"},
		})
	})
	return mux
}

// v1 applies what every /v1/ endpoint shares: the token, the method and
// the media type.
func (s *service) v1(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.lastAuth.Store(r.Header.Get("Authorization"))
		if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return
		}
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed; use "+method)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json")
				return
			}
		}
		h(w, r)
	})
}

func (s *service) check(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, err.Error())
		return
	}
	req, werr := wire.DecodeRequest(body)
	if werr != nil {
		writeWire(w, werr)
		return
	}
	if s.policy == nil {
		writeError(w, http.StatusServiceUnavailable, "no_policy", "no policy has loaded")
		return
	}
	d, err := s.policy.Decide(req)
	if err != nil {
		writeWire(w, wire.FromDecideError(err))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *service) batch(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, err.Error())
		return
	}
	var in struct {
		Requests []json.RawMessage `json:"requests"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeInvalidJSON, err.Error())
		return
	}
	switch {
	case len(in.Requests) == 0:
		writeError(w, http.StatusBadRequest, wire.CodeInvalidRequest, "the batch has no requests")
		return
	case len(in.Requests) > client.MaxBatch:
		writeError(w, http.StatusRequestEntityTooLarge, "batch_too_large", fmt.Sprintf("%d requests, over %d", len(in.Requests), client.MaxBatch))
		return
	}
	if s.policy == nil {
		writeError(w, http.StatusServiceUnavailable, "no_policy", "no policy has loaded")
		return
	}
	out := make([]any, len(in.Requests))
	for i, raw := range in.Requests {
		req, werr := wire.DecodeRequest(raw)
		if werr != nil && werr.Code == wire.CodeInvalidJSON {
			writeError(w, http.StatusBadRequest, werr.Code, fmt.Sprintf("request %d: %s", i, werr.Message))
			return
		}
		if werr != nil {
			out[i] = errorBody{Error: werr}
			continue
		}
		d, err := s.policy.Decide(req)
		if err != nil {
			out[i] = errorBody{Error: wire.FromDecideError(err)}
			continue
		}
		out[i] = d
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": out})
}

func (s *service) audit(w http.ResponseWriter, r *http.Request) {
	var q audit.Query
	for key, vals := range r.URL.Query() {
		if len(vals) != 1 {
			writeError(w, http.StatusBadRequest, "invalid_query", key+" is given more than once")
			return
		}
		v := vals[0]
		var err error
		switch key {
		case "subject":
			q.Subject = v
		case "action":
			q.Action = v
		case "resource":
			q.Resource = v
		case "status":
			q.Status = audit.Status(v)
		case "since":
			q.Since, err = time.Parse(time.RFC3339Nano, v)
		case "until":
			q.Until, err = time.Parse(time.RFC3339Nano, v)
		case "after":
			q.After = v
		case "limit":
			q.Limit, err = strconv.Atoi(v)
		default:
			err = errors.New("unknown parameter")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_query", key+": "+err.Error())
			return
		}
	}
	m, err := q.Compile()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	}
	events, err := s.log.Query(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	page := map[string]any{"events": events}
	if len(events) > 0 && len(events) == m.Limit() {
		page["next"] = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorBody is the error object as encoding/json writes it: this service
// encodes with encoding/json rather than package wire, so the client is
// tested against an encoder other than its own decoder's twin.
type errorBody struct {
	Error *wire.Error `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: &wire.Error{Code: code, Message: msg}})
}

func writeWire(w http.ResponseWriter, e *wire.Error) {
	status := http.StatusBadRequest
	switch e.Code {
	case wire.CodeTooLarge:
		status = http.StatusRequestEntityTooLarge
	case wire.CodeInternal:
		status = http.StatusInternalServerError
	}
	writeError(w, status, e.Code, e.Message)
}

// noContentType as canned.contentType sends no Content-Type at all.
const noContentType = "none"

// canned answers every request with one fixed response, for hostile and
// malformed answers. An empty contentType means application/json.
type canned struct {
	status      int
	contentType string
	body        string
	header      map[string]string
}

func (c canned) server(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch ct := c.contentType; ct {
		case "":
			w.Header().Set("Content-Type", "application/json")
		case noContentType:
			w.Header()["Content-Type"] = nil // and no sniffing either
		default:
			w.Header().Set("Content-Type", ct)
		}
		for k, v := range c.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(c.status)
		io.WriteString(w, c.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB, url string, opts *client.Options) *client.Client {
	t.Helper()
	c, err := client.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// record puts events with increasing ids into the service's audit log.
func (s *service) record(t testing.TB, n int) []audit.Event {
	t.Helper()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var out []audit.Event
	for i := range n {
		e := audit.Event{
			ID:   fmt.Sprintf("0193a000-0000-7000-8000-%012d", i+1),
			Time: base.Add(time.Duration(i) * time.Second), Subject: "alice", Action: "articles:update",
			Resource: "articles:" + strconv.Itoa(i), Allowed: i%2 == 0, Status: audit.StatusAllowed,
			Rule: "rules.edit", Reason: "because", Latency: time.Duration(i) * time.Microsecond,
			PolicyVersion: "sha256:abc", Fields: map[string]any{"request_id": json.Number(strconv.Itoa(900719925474099300 + i))},
			// None for the first (a service without a store), and above
			// 2^53 after it, where a float64 would round.
			Revision: uint64(i) * (1<<53 + 1),
		}
		if i%2 == 1 {
			e.Status = audit.StatusDenied
		}
		if err := s.log.Record(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
