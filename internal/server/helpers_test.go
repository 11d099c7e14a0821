package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/server"
)

// policyAllow lets staff read documents, except bob the secret one.
const policyAllow = `
[groups]
staff = ['alice', 'bob']

[resources]
docs = ['doc:*']

[rules.read]
allow = [['staff', 'docs', 'read']]
deny = [['bob', 'doc:secret', 'read']]
`

// policyDeny is policyAllow turned around: staff may not read documents.
const policyDeny = `
[groups]
staff = ['alice', 'bob']

[rules.read]
deny = [['staff', 'doc:*', 'read']]
`

const brokenPolicy = "[rules.read]\nallow = [['staff', 'doc:*']]\n"

func writePolicy(t testing.TB, path, text string) {
	t.Helper()
	// Write and rename, as editors and deployment tools do, so a reader
	// never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func version(t testing.TB, text string) string {
	t.Helper()
	p, err := warden.Parse("policy.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p.Version()
}

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	srv    *server.Server
	http   *httptest.Server
	path   string
	store  *audit.Memory
	logBuf *syncBuffer
}

// start serves policy text with an in-memory audit store; edit adjusts the
// configuration first.
func start(t testing.TB, policy string, edit func(*server.Config)) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "policy.toml"), store: &audit.Memory{}, logBuf: &syncBuffer{}}
	writePolicy(t, f.path, policy)
	cfg := server.Config{
		PolicyPath: f.path,
		Audit:      f.store,
		Debounce:   20 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(f.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = s
	f.http = httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		f.http.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t testing.TB, method, path, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (f *fixture) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

type errorObject struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorCode decodes an error object strictly and returns its code; "" if
// the body is not one.
func errorCode(body []byte) string {
	var e errorObject
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

func decodeDecision(t testing.TB, body []byte) warden.Decision {
	t.Helper()
	var d warden.Decision
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("not a decision: %v: %s", err, body)
	}
	return d
}

// eventually polls cond until it holds or time runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
