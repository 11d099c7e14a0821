package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warden-authz/warden/internal/wire"
)

// Routing, authentication and the answers every endpoint shares: the
// error object for anything not served, and the JSON bodies.

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/check", s.handleCheck)
	mux.HandleFunc("POST /v1/check/batch", s.handleBatch)
	mux.HandleFunc("GET /v1/audit", s.handleAudit)
	mux.HandleFunc("POST /v1/data", s.handleWrite)
	mux.HandleFunc("GET /v1/data", s.handleListData)
	mux.HandleFunc("GET /v1/changes", s.handleChanges)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}}))
	// The same paths with any other method, and every other path, answer
	// with the error object rather than net/http's plain text.
	for _, p := range []struct{ path, allow string }{
		{"/v1/check", "POST"}, {"/v1/check/batch", "POST"}, {"/v1/audit", "GET, HEAD"},
		{"/v1/data", "GET, HEAD, POST"}, {"/v1/changes", "GET, HEAD"},
		{"/healthz", "GET, HEAD"}, {"/readyz", "GET, HEAD"}, {"/metrics", "GET, HEAD"},
	} {
		mux.HandleFunc(p.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", p.allow)
			writeError(w, http.StatusMethodNotAllowed, wire.Errorf(wire.CodeMethod, "%s %s: method not allowed (allowed: %s)", r.Method, p.path, p.allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.Errorf(wire.CodeNotFound, "no endpoint %s", pathForMessage(r.URL.Path)))
	})
	if s.cfg.Token == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The data endpoints check the admin token themselves; the check
		// token gates the rest of /v1/, which the admin token opens too.
		data := r.URL.Path == "/v1/data" || r.URL.Path == "/v1/changes"
		if strings.HasPrefix(r.URL.Path, "/v1/") && !data && !s.authorized(r) && !(s.cfg.AdminToken != "" && bearerIs(r, &s.admin)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warden"`)
			writeError(w, http.StatusUnauthorized, wire.Errorf(wire.CodeUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first, so the comparison takes the same time whatever the
// length of what was sent, and the token's length does not leak either.
func (s *Server) authorized(r *http.Request) bool { return bearerIs(r, &s.token) }

func pathForMessage(p string) string {
	if len(p) > 80 {
		return strconv.Quote(p[:80]) + "..."
	}
	return strconv.Quote(p)
}

// slogPrinter sends promhttp's errors to the service log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics", "error", fmt.Sprint(v...)) }

// writeError answers with the error object; package wire writes it, for
// every endpoint and the root package's middleware alike.
func writeError(w http.ResponseWriter, status int, e *wire.Error) { wire.WriteError(w, status, e) }

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

var jsonType = []string{"application/json"}

func (s *Server) fail(w http.ResponseWriter, endpoint string, status int, e *wire.Error) {
	s.metrics.responses.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	writeError(w, status, e)
}

func (s *Server) noPolicy(w http.ResponseWriter) {
	msg := "no policy has loaded yet"
	if r := s.lastReload.Load(); r != nil && r.err != "" {
		msg += ": " + r.err
	}
	writeError(w, http.StatusServiceUnavailable, wire.Errorf(wire.CodeNoPolicy, "%s", msg))
}
