package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/check", s.handleCheck)
	mux.HandleFunc("POST /v1/check/batch", s.handleBatch)
	mux.HandleFunc("GET /v1/audit", s.handleAudit)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}}))
	// The same paths with any other method, and every other path, answer
	// with the error object rather than net/http's plain text.
	for _, p := range []struct{ path, allow string }{
		{"/v1/check", "POST"}, {"/v1/check/batch", "POST"}, {"/v1/audit", "GET, HEAD"},
		{"/healthz", "GET, HEAD"}, {"/readyz", "GET, HEAD"}, {"/metrics", "GET, HEAD"},
	} {
		mux.HandleFunc(p.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", p.allow)
			writeError(w, http.StatusMethodNotAllowed, wire.Errorf(CodeMethod, "%s %s: method not allowed (allowed: %s)", r.Method, p.path, p.allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.Errorf(CodeNotFound, "no endpoint %s", pathForMessage(r.URL.Path)))
	})
	if s.cfg.Token == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warden"`)
			writeError(w, http.StatusUnauthorized, wire.Errorf(CodeUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first, so the comparison takes the same time whatever the
// length of what was sent, and the token's length does not leak either.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(h[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

func pathForMessage(p string) string {
	if len(p) > 80 {
		return strconv.Quote(p[:80]) + "..."
	}
	return strconv.Quote(p)
}

// slogPrinter sends promhttp's errors to the service log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics", "error", fmt.Sprint(v...)) }

// bufPool holds buffers for request bodies and responses. Buffers that
// grew past maxPooled (a large body or batch) are left to the collector,
// so one large request does not pin its memory for good, and a request's
// reservation (Server.reserve) covers the pooled buffer it may get.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooled = 16 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readBody reads a JSON body of at most limit bytes into buf. It returns
// a status and error object when the body cannot be taken.
func readBody(w http.ResponseWriter, r *http.Request, buf []byte, limit int64) ([]byte, int, *wire.Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return buf, http.StatusUnsupportedMediaType, wire.Errorf(CodeUnsupportedType, "Content-Type %s: want application/json", strconv.Quote(shortText(ct)))
	}
	if r.ContentLength > limit {
		return buf, http.StatusRequestEntityTooLarge, wire.Errorf(wire.CodeTooLarge, "body is %d bytes, over the limit of %d", r.ContentLength, limit)
	}
	if r.ContentLength > 0 && int64(cap(buf)) <= r.ContentLength {
		buf = make([]byte, 0, r.ContentLength+1) // +1: room to read EOF
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, 0, nil
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return buf, http.StatusRequestEntityTooLarge, wire.Errorf(wire.CodeTooLarge, "body is over the limit of %d bytes", limit)
			}
			return buf, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidJSON, "reading the body: %v", err)
		}
	}
}

// isJSON accepts application/json, with parameters (charset=utf-8), in
// any case; the common spellings skip the MIME parser.
func isJSON(ct string) bool {
	if ct == "application/json" || ct == "application/json; charset=utf-8" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func shortText(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}

func writeError(w http.ResponseWriter, status int, e *wire.Error) {
	b, err := json.Marshal(wire.ErrorBody{Error: e})
	if err != nil { // cannot happen for two strings and an int
		b = []byte(`{"error":{"code":"internal","message":"encoding an error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

var jsonType = []string{"application/json"}

func writeJSONValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "encoding the response: %v", err))
		return
	}
	writeJSONBytes(w, status, append(b, '\n'))
}

// record queues a decision's audit event. It fails only when the event
// cannot be queued (the writer is closed, or the queue stayed full until
// the client gave up); the decision is then not given out, since it would
// be a decision with no event. With AuditRequired it returns the event's
// receipt, to wait on before answering.
func (s *Server) record(ctx context.Context, req warden.Request, d warden.Decision, derr error, start time.Time) (audit.Receipt, error) {
	if s.async == nil {
		return audit.Receipt{}, nil
	}
	e, err := NewEvent(req, d, derr, start)
	if err != nil {
		return audit.Receipt{}, err
	}
	if s.cfg.AuditRequired {
		return s.async.Submit(ctx, &e)
	}
	err = s.async.Record(ctx, &e)
	if errors.Is(err, audit.ErrDropped) {
		// Dropping was chosen explicitly (AuditDrop): the drop is counted
		// and logged, and the decision still goes out.
		return audit.Receipt{}, nil
	}
	return audit.Receipt{}, err
}

// durable waits, with AuditRequired, until the event behind r is
// committed to the store.
func (s *Server) durable(ctx context.Context, r audit.Receipt) error {
	if !s.cfg.AuditRequired || s.async == nil {
		return nil
	}
	return r.Wait(ctx)
}

func (s *Server) auditFailed(w http.ResponseWriter, endpoint string, err error) {
	s.metrics.responses.WithLabelValues(endpoint, "503").Inc()
	s.log.Error("audit event not recorded; decision withheld", "error", err)
	writeError(w, http.StatusServiceUnavailable, wire.Errorf(CodeAuditFailed, "the decision could not be recorded in the audit log"))
}

// reserve takes a request's share of Config.RequestMemory before its body
// is read: DecodeFactor times the body's length, or its limit when the
// length is unknown, and never more than the whole budget. It waits while
// the budget is spent; the caller releases what it returns.
func (s *Server) reserve(ctx context.Context, r *http.Request, limit, pooled int64) (int64, error) {
	n := limit
	if r.ContentLength >= 0 && r.ContentLength < limit {
		n = r.ContentLength
	}
	n = min(maxPooled+pooled+n*DecodeFactor, s.cfg.RequestMemory)
	if !s.reqMem.TryAcquire(n) {
		if err := s.reqMem.Acquire(ctx, n); err != nil {
			return 0, err
		}
	}
	s.reqHeld.Add(n)
	return n, nil
}

func (s *Server) unreserve(n int64) {
	s.reqHeld.Add(-n)
	s.reqMem.Release(n)
}

// tooMuchMemory is the answer to a request whose decoded form is larger
// than the memory it could reserve.
func tooMuchMemory(used, budget int64) *wire.Error {
	return wire.Errorf(wire.CodeTooLarge, "the request decodes to about %d bytes of memory, over the %d it may hold (--request-memory)", used, budget)
}

func (s *Server) noPolicy(w http.ResponseWriter) {
	msg := "no policy has loaded yet"
	if r := s.lastReload.Load(); r != nil && r.err != "" {
		msg += ": " + r.err
	}
	writeError(w, http.StatusServiceUnavailable, wire.Errorf(CodeNoPolicy, "%s", msg))
}

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.metrics.checkDuration.Observe(time.Since(start).Seconds()) }()
	explain := false
	if r.URL.RawQuery != "" {
		var e *wire.Error
		if explain, e = explainParam(r.URL.RawQuery); e != nil {
			s.fail(w, "check", http.StatusBadRequest, e)
			return
		}
	}
	held, err := s.reserve(r.Context(), r, wire.MaxRequestBytes, 0)
	if err != nil {
		return // the client gave up waiting
	}
	defer s.unreserve(held)
	bp := getBuf()
	defer putBuf(bp)
	body, status, werr := readBody(w, r, *bp, wire.MaxRequestBytes)
	*bp = body
	if werr != nil {
		s.fail(w, "check", status, werr)
		return
	}
	req, werr := decodeRequest(string(body))
	if werr == nil && req.Context != nil {
		if used := int64(len(body)) + audit.EventSize(&audit.Event{Fields: req.Context}); used > held {
			werr = tooMuchMemory(used, held)
		}
	}
	if werr != nil {
		status := http.StatusBadRequest
		if werr.Code == wire.CodeTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		s.fail(w, "check", status, werr)
		return
	}
	cur := s.policy.Load()
	if cur == nil {
		s.metrics.responses.WithLabelValues("check", "503").Inc()
		s.noPolicy(w)
		return
	}
	dstart := time.Now()
	var d warden.Decision
	if explain {
		var e warden.Explanation
		e, err = cur.p.Explain(req)
		d = e.Decision
	} else {
		d, err = cur.p.Decide(req)
	}
	receipt, rerr := s.record(r.Context(), req, d, err, dstart)
	if rerr == nil {
		rerr = s.durable(r.Context(), receipt)
	}
	if rerr != nil {
		s.auditFailed(w, "check", rerr)
		return
	}
	if err != nil {
		s.metrics.errored.Inc()
		werr := wire.FromDecideError(err)
		status := http.StatusBadRequest
		if werr.Code == wire.CodeInternal {
			status = http.StatusInternalServerError
		}
		s.fail(w, "check", status, werr)
		return
	}
	s.metrics.count(d.Effect.String())
	out := appendDecision((*bp)[:0], &d)
	*bp = out
	writeJSONBytes(w, http.StatusOK, append(out, '\n'))
	s.metrics.checkOK.Inc()
}

// explainParam reads /v1/check's one query parameter, explain=true|false.
func explainParam(raw string) (bool, *wire.Error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return false, wire.Errorf(CodeInvalidQuery, "query: %v", err)
	}
	explain := false
	for k, v := range q {
		if k != "explain" {
			return false, wire.Errorf(CodeInvalidQuery, "unknown query parameter %s (want explain)", strconv.Quote(shortText(k)))
		}
		if len(v) != 1 {
			return false, wire.Errorf(CodeInvalidQuery, "query parameter explain given %d times", len(v))
		}
		switch v[0] {
		case "true", "1":
			explain = true
		case "false", "0", "":
		default:
			return false, wire.Errorf(CodeInvalidQuery, "explain=%s: want true or false", strconv.Quote(shortText(v[0])))
		}
	}
	return explain, nil
}

func (s *Server) fail(w http.ResponseWriter, endpoint string, status int, e *wire.Error) {
	s.metrics.responses.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	writeError(w, status, e)
}

// batchState is the per-call scratch of a batch, pooled so a steady load
// of batches allocates little.
type batchState struct {
	reqs     []warden.Request
	receipts []audit.Receipt
}

var batchPool = sync.Pool{New: func() any { return &batchState{reqs: make([]warden.Request, 0, batchPooledReqs)} }}

// A pooled batchState keeps room for batchPooledReqs requests, and
// receipts; larger ones are left to the collector. batchPooled is the
// memory a pooled one holds, which a batch's reservation covers.
const (
	batchPooledReqs = 1024
	batchPooled     = batchPooledReqs * int64(unsafe.Sizeof(warden.Request{})+unsafe.Sizeof(audit.Receipt{}))
)

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.metrics.batchDuration.Observe(time.Since(start).Seconds()) }()
	if r.URL.RawQuery != "" {
		s.fail(w, "batch", http.StatusBadRequest, wire.Errorf(CodeInvalidQuery, "/v1/check/batch takes no query parameters"))
		return
	}
	held, err := s.reserve(r.Context(), r, MaxBatchBytes, batchPooled)
	if err != nil {
		return // the client gave up waiting
	}
	defer s.unreserve(held)
	bp := getBuf()
	defer putBuf(bp)
	body, status, werr := readBody(w, r, *bp, MaxBatchBytes)
	*bp = body
	if werr != nil {
		s.fail(w, "batch", status, werr)
		return
	}
	st := batchPool.Get().(*batchState)
	defer func() {
		clear(st.reqs) // drop the strings, which hold the body
		clear(st.receipts)
		if cap(st.reqs) <= batchPooledReqs && cap(st.receipts) <= batchPooledReqs {
			st.reqs = st.reqs[:0]
			st.receipts = st.receipts[:0]
			batchPool.Put(st)
		}
	}()
	// One string for the whole body: every decoded name is a slice of it,
	// with no allocation per request. What contexts decode to is counted
	// against the reservation as they are decoded.
	budget := held - maxPooled - batchPooled - int64(len(body))
	reqs, berr := decodeBatch(string(body), MaxBatch, st.reqs[:0], budget)
	st.reqs = reqs
	if berr != nil {
		s.fail(w, "batch", berr.status, berr.err)
		return
	}
	cur := s.policy.Load()
	if cur == nil {
		s.metrics.responses.WithLabelValues("batch", "503").Inc()
		s.noPolicy(w)
		return
	}
	s.metrics.batchSize.Observe(float64(len(reqs)))
	out := append((*bp)[:0], `{"decisions":[`...)
	var allow, deny, none, errored int
	ctx := r.Context()
	receipts := st.receipts[:0]
	for i := range reqs {
		if i > 0 {
			out = append(out, ',')
		}
		var dstart time.Time
		if s.async != nil {
			dstart = time.Now()
		}
		d, err := cur.p.Decide(reqs[i])
		receipt, rerr := s.record(ctx, reqs[i], d, err, dstart)
		if rerr != nil {
			*bp = out
			st.receipts = receipts
			s.auditFailed(w, "batch", rerr)
			return
		}
		if s.cfg.AuditRequired {
			receipts = append(receipts, receipt)
		}
		if err != nil {
			errored++
			out = appendItemError(out, wire.FromDecideError(err))
			continue
		}
		switch d.Effect {
		case warden.EffectAllow:
			allow++
		case warden.EffectDeny:
			deny++
		default:
			none++
		}
		out = appendDecision(out, &d)
	}
	out = append(out, "]}\n"...)
	*bp = out
	st.receipts = receipts
	// Every event of the batch was queued before the first wait, so they
	// share the writer's commits.
	for _, rc := range receipts {
		if err := s.durable(ctx, rc); err != nil {
			s.auditFailed(w, "batch", err)
			return
		}
	}
	s.metrics.allow.Add(float64(allow))
	s.metrics.deny.Add(float64(deny))
	s.metrics.none.Add(float64(none))
	s.metrics.errored.Add(float64(errored))
	writeJSONBytes(w, http.StatusOK, out)
	s.metrics.batchOK.Inc()
}

func appendItemError(b []byte, e *wire.Error) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	return append(b, "}}"...)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

type readyBody struct {
	Ready         bool        `json:"ready"`
	PolicyVersion string      `json:"policy_version,omitempty"`
	LoadedAt      string      `json:"loaded_at,omitempty"`
	LastReload    *lastReload `json:"last_reload,omitempty"`
	Error         string      `json:"error,omitempty"`
}

type lastReload struct {
	OK    bool   `json:"ok"`
	Time  string `json:"time"`
	Error string `json:"error,omitempty"`
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	cur, last := s.policy.Load(), s.lastReload.Load()
	if cur == nil {
		msg := "no policy has loaded yet"
		if last != nil && last.err != "" {
			msg += ": " + last.err
		}
		writeJSONValue(w, http.StatusServiceUnavailable, readyBody{Ready: false, Error: msg})
		return
	}
	body := readyBody{Ready: true, PolicyVersion: cur.version, LoadedAt: cur.loadedAt.UTC().Format(time.RFC3339Nano)}
	if last != nil {
		body.LastReload = &lastReload{OK: last.ok, Time: last.time.UTC().Format(time.RFC3339Nano), Error: last.err}
	}
	writeJSONValue(w, http.StatusOK, body)
}

// auditPage is the answer of /v1/audit. Next is the id to pass as after
// for the next page; it is set only when the page is full, so a client
// pages until it is absent.
type auditPage struct {
	Events []audit.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Audit == nil {
		s.fail(w, "audit", http.StatusNotFound, wire.Errorf(CodeNotFound, "the audit log is off (--audit off)"))
		return
	}
	q, werr := ParseQuery(r.URL.RawQuery)
	if werr != nil {
		s.fail(w, "audit", http.StatusBadRequest, werr)
		return
	}
	m, err := q.Compile()
	if err != nil {
		s.fail(w, "audit", http.StatusBadRequest, wire.Errorf(CodeInvalidQuery, "%v", err))
		return
	}
	events, err := s.cfg.Audit.Query(r.Context(), q)
	if err != nil {
		s.log.Error("audit query", "error", err)
		s.fail(w, "audit", http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "querying the audit log failed"))
		return
	}
	page := auditPage{Events: events}
	if page.Events == nil {
		page.Events = []audit.Event{}
	}
	if len(events) > 0 && len(events) == m.Limit() {
		page.Next = events[len(events)-1].ID
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(page); err != nil {
		s.fail(w, "audit", http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "encoding events: %v", err))
		return
	}
	s.metrics.responses.WithLabelValues("audit", "200").Inc()
	writeJSONBytes(w, http.StatusOK, []byte(b.String()))
}

// ParseQuery reads the filters of GET /v1/audit: the fields of
// audit.Query, named as the CLI's `warden audit query` flags (subject,
// action, resource, status, since, until, after, limit). Unknown or
// repeated parameters and bad values are errors (invalid_query), never
// ignored: a misspelt filter would otherwise return more than asked.
func ParseQuery(raw string) (audit.Query, *wire.Error) {
	var q audit.Query
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, wire.Errorf(CodeInvalidQuery, "query: %v", err)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return q, wire.Errorf(CodeInvalidQuery, "query parameter %s given %d times", strconv.Quote(shortText(k)), len(v))
		}
		val := v[0]
		switch k {
		case "subject":
			q.Subject = val
		case "action":
			q.Action = val
		case "resource":
			q.Resource = val
		case "after":
			q.After = val
		case "status":
			q.Status = audit.Status(val)
		case "since", "until":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return q, wire.Errorf(CodeInvalidQuery, "%s=%s: want an RFC 3339 time such as 2026-11-25T12:00:00Z", k, strconv.Quote(shortText(val)))
			}
			if k == "since" {
				q.Since = t
			} else {
				q.Until = t
			}
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > audit.MaxLimit {
				return q, wire.Errorf(CodeInvalidQuery, "limit=%s: want a whole number from 1 to %d", strconv.Quote(shortText(val)), audit.MaxLimit)
			}
			q.Limit = n
		default:
			return q, wire.Errorf(CodeInvalidQuery, "unknown query parameter %s (want subject, action, resource, status, since, until, after or limit)", strconv.Quote(shortText(k)))
		}
	}
	if _, err := q.Compile(); err != nil {
		return q, wire.Errorf(CodeInvalidQuery, "%v", err)
	}
	return q, nil
}
