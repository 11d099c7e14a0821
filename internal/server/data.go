package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
)

// POST /v1/data, GET /v1/data and GET /v1/changes (SPEC 10.3–10.5): the
// runtime data, behind the admin token. A check token can never reach
// them; without an admin token configured they answer 403.

// MaxChangesWait bounds GET /v1/changes?wait=: wire.MaxChangesWait.
const MaxChangesWait = wire.MaxChangesWait

// dataAuthorized checks the admin token; it writes the error itself.
func (s *Server) dataAuthorized(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	switch {
	case s.cfg.Store == nil:
		s.fail(w, endpoint, http.StatusNotFound, wire.Errorf(wire.CodeNotFound, "this server keeps no runtime data (start it with --store)"))
		return false
	case s.cfg.AdminToken == "":
		s.fail(w, endpoint, http.StatusForbidden, wire.Errorf(wire.CodeForbidden, "the data endpoints are off: start the server with --admin-token-file to use them"))
		return false
	case !bearerIs(r, &s.admin):
		w.Header().Set("WWW-Authenticate", `Bearer realm="warden-admin"`)
		s.fail(w, endpoint, http.StatusUnauthorized, wire.Errorf(wire.CodeUnauthorized, "the admin token is required (Authorization: Bearer TOKEN); a check token does not reach the data"))
		return false
	}
	return true
}

// bearerIs compares a request's bearer token with a hashed one in
// constant time.
func bearerIs(r *http.Request, want *[sha256.Size]byte) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(h[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// engineFor returns the engine, or answers 503 while the store's data has
// not loaded.
func (s *Server) engineFor(w http.ResponseWriter, endpoint string) *warden.Engine {
	e := s.eng.Load()
	if e == nil {
		msg := "the store's data has not loaded yet"
		if m := s.engErr.Load(); m != nil {
			msg = *m
		}
		s.fail(w, endpoint, http.StatusServiceUnavailable, wire.Errorf(wire.CodeNoPolicy, "%s", msg))
	}
	return e
}

func (s *Server) handleWrite(w http.ResponseWriter, r *http.Request) {
	const endpoint = "data"
	if !s.dataAuthorized(w, r, endpoint) {
		return
	}
	if r.URL.RawQuery != "" {
		// As /v1/check/batch: a parameter the write would ignore (an
		// if_revision meant for the body, say) is refused, not dropped.
		s.fail(w, endpoint, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "POST /v1/data takes no query parameters; if_revision goes in the body"))
		return
	}
	e := s.engineFor(w, endpoint)
	if e == nil {
		return
	}
	t, ok := s.take(w, r, endpoint, wire.MaxDataBytes, 0)
	if !ok {
		return
	}
	defer s.release(t)
	b, werr := wire.DecodeDataBatch(*t.buf)
	if werr != nil {
		status := http.StatusBadRequest
		switch werr.Code {
		case wire.CodeTooLarge, wire.CodeBatchTooLarge:
			status = http.StatusRequestEntityTooLarge
		}
		s.fail(w, endpoint, status, werr)
		return
	}
	// A store that stops answering without refusing (a stalled network)
	// would hold the write, its connection and its request memory until
	// TCP gave up; bounded, it answers store_unavailable (outcome
	// unknown) while the answer can still be written.
	// The bound starts now, after the body and its memory may have
	// waited, so the answer's deadline moves with it.
	extendWrite(w, s.writeBound)
	wctx, cancel := context.WithTimeout(r.Context(), s.writeBound)
	rev, err := e.Write(wctx, b)
	cancel()
	if err != nil {
		status, werr := writeFailure(err, rev)
		s.fail(w, endpoint, status, werr)
		if status >= 500 {
			s.log.Error("data write failed", "error", err)
		}
		return
	}
	s.metrics.responses.WithLabelValues(endpoint, "200").Inc()
	writeJSONBytes(w, http.StatusOK, append(wire.AppendRevision(nil, rev), '\n'))
}

// writeFailure maps a write's error to its status and error object.
func writeFailure(err error, rev store.Revision) (int, *wire.Error) {
	switch {
	case errors.Is(err, store.ErrInvalid), errors.Is(err, warden.ErrNotDynamic):
		return http.StatusBadRequest, wire.Errorf(wire.CodeInvalidRequest, "%v", err)
	case errors.Is(err, warden.ErrConflict):
		return http.StatusConflict, wire.Errorf(wire.CodeConflict, "%v", err)
	case errors.Is(err, store.ErrRevisionConflict):
		return http.StatusConflict, wire.Errorf(wire.CodeRevisionConflict, "%v", err)
	case rev > 0:
		// Committed, but not applied here in time: the revision exists,
		// and a retry with at_least_revision will see it.
		return http.StatusServiceUnavailable, wire.Errorf(wire.CodeRevisionUnavailable, "revision %d is committed but not yet applied here: %v", rev, err)
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, wire.Errorf(wire.CodeStoreUnavailable, "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, wire.Errorf(wire.CodeStoreUnavailable, "the write did not finish: %v", err)
	}
	return http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "%v", err)
}

func (s *Server) handleListData(w http.ResponseWriter, r *http.Request) {
	const endpoint = "data"
	if !s.dataAuthorized(w, r, endpoint) {
		return
	}
	f, werr := dataFilter(r.URL.RawQuery)
	if werr != nil {
		s.fail(w, endpoint, http.StatusBadRequest, werr)
		return
	}
	recs, next, err := s.cfg.Store.List(r.Context(), f)
	if err != nil {
		status, werr := readError(err)
		s.fail(w, endpoint, status, werr)
		return
	}
	s.metrics.responses.WithLabelValues(endpoint, "200").Inc()
	writeJSONBytes(w, http.StatusOK, append(wire.AppendRecords(nil, recs, next), '\n'))
}

// dataFilter reads GET /v1/data's query: every parameter at most once,
// none unknown.
func dataFilter(raw string) (store.Filter, *wire.Error) {
	var f store.Filter
	q, err := url.ParseQuery(raw)
	if err != nil {
		return f, wire.Errorf(wire.CodeInvalidQuery, "query: %v", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return f, wire.Errorf(wire.CodeInvalidQuery, "query parameter %s given %d times", strconv.Quote(shortText(k)), len(v))
		}
		val := v[0]
		switch k {
		case "member":
			f.Member = val
		case "group":
			f.Group = val
		case "resource":
			f.Resource = val
		case "rule":
			f.Rule = val
		case "subject":
			f.Subject = val
		case "after":
			f.After = val
		case "kind":
			switch val {
			case "memberships":
				f.Kind = store.Memberships
			case "grants":
				f.Kind = store.Grants
			default:
				return f, wire.Errorf(wire.CodeInvalidQuery, "kind=%s: want memberships or grants", strconv.Quote(shortText(val)))
			}
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return f, wire.Errorf(wire.CodeInvalidQuery, "limit=%s: want a number", strconv.Quote(shortText(val)))
			}
			f.Limit = n
		default:
			return f, wire.Errorf(wire.CodeInvalidQuery, "unknown query parameter %s (want member, group, resource, rule, subject, kind, after, limit)", strconv.Quote(shortText(k)))
		}
	}
	if err := f.Check(); err != nil {
		return f, wire.Errorf(wire.CodeInvalidQuery, "%v", err)
	}
	return f, nil
}

// readError maps a store read's error to its status and error object.
func readError(err error) (int, *wire.Error) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "%v", err)
	case errors.Is(err, store.ErrRevisionUnavailable):
		return http.StatusServiceUnavailable, wire.Errorf(wire.CodeRevisionUnavailable, "%v", err)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, wire.Errorf(wire.CodeStoreUnavailable, "%v", err)
	}
	return http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "%v", err)
}

func (s *Server) handleChanges(w http.ResponseWriter, r *http.Request) {
	const endpoint = "changes"
	if !s.dataAuthorized(w, r, endpoint) {
		return
	}
	var after uint64
	limit := 0
	var wait time.Duration
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.fail(w, endpoint, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "query: %v", err))
		return
	}
	for k, v := range q {
		if len(v) != 1 {
			s.fail(w, endpoint, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "query parameter %s given %d times", strconv.Quote(shortText(k)), len(v)))
			return
		}
		var perr error
		switch k {
		case "after":
			after, perr = strconv.ParseUint(v[0], 10, 64)
		case "limit":
			limit, perr = strconv.Atoi(v[0])
			if perr == nil && (limit < 0 || limit > store.MaxLimit) {
				perr = errors.New("out of range")
			}
		case "wait":
			wait, perr = time.ParseDuration(v[0])
			if perr == nil && (wait < 0 || wait > MaxChangesWait) {
				perr = errors.New("out of range")
			}
		default:
			s.fail(w, endpoint, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "unknown query parameter %s (want after, limit, wait)", strconv.Quote(shortText(k))))
			return
		}
		if perr != nil {
			s.fail(w, endpoint, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "%s=%s: want %s", k, strconv.Quote(shortText(v[0])), map[string]string{
				"after": "a revision", "limit": "0 to " + strconv.Itoa(store.MaxLimit), "wait": "a duration up to " + MaxChangesWait.String(),
			}[k]))
			return
		}
	}
	ctx := r.Context()
	changes, through, err := s.cfg.Store.Changes(ctx, after, limit)
	if err == nil && len(changes) == 0 && through <= after && wait > 0 {
		// A watch: nothing yet, so wait for the next commit (SPEC 10.5).
		if n, ok := s.cfg.Store.(store.Notifier); ok {
			extendWrite(w, wait)
			wctx, cancel := context.WithTimeout(ctx, wait)
			n.Wait(wctx, after) // a timeout answers the empty page
			cancel()
			changes, through, err = s.cfg.Store.Changes(ctx, after, limit)
		}
	}
	if err != nil {
		status, werr := readError(err)
		s.fail(w, endpoint, status, werr)
		return
	}
	s.metrics.responses.WithLabelValues(endpoint, "200").Inc()
	writeJSONBytes(w, http.StatusOK, append(wire.AppendChanges(nil, changes, through), '\n'))
}
