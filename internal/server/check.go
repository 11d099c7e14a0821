package server

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// POST /v1/check: one request, one decision (SPEC 9.3).

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	defer func() { s.metrics.checkDuration.Observe(s.now().Sub(start).Seconds()) }()
	explain := false
	if r.URL.RawQuery != "" {
		var e *wire.Error
		if explain, e = explainParam(r.URL.RawQuery); e != nil {
			s.fail(w, "check", http.StatusBadRequest, e)
			return
		}
	}
	t, ok := s.take(w, r, "check", wire.MaxRequestBytes, 0)
	if !ok {
		return
	}
	defer s.release(t)
	body, held, bp := *t.buf, t.held, t.buf
	req, werr := wire.DecodeRequest(body)
	if werr == nil && req.Context != nil {
		if used := int64(len(body)) + audit.EventSize(&audit.Event{Fields: req.Context}); used > held {
			werr = wire.TooMuchMemory(used, held)
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
	pol, ok := s.decider(w, r.Context(), "check", req.AtLeastRevision)
	if !ok {
		return
	}
	dstart := s.now()
	var d warden.Decision
	var err error
	if explain {
		var e warden.Explanation
		e, err = pol.Explain(req)
		d = e.Decision
	} else {
		d, err = pol.Decide(req)
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
	out := wire.AppendDecision((*bp)[:0], &d)
	*bp = out
	writeJSONBytes(w, http.StatusOK, append(out, '\n'))
	s.metrics.checkOK.Inc()
}

// explainParam reads /v1/check's one query parameter, explain=true|false.
func explainParam(raw string) (bool, *wire.Error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return false, wire.Errorf(wire.CodeInvalidQuery, "query: %v", err)
	}
	explain := false
	for k, v := range q {
		if k != "explain" {
			return false, wire.Errorf(wire.CodeInvalidQuery, "unknown query parameter %s (want explain)", strconv.Quote(shortText(k)))
		}
		if len(v) != 1 {
			return false, wire.Errorf(wire.CodeInvalidQuery, "query parameter explain given %d times", len(v))
		}
		switch v[0] {
		case "true", "1":
			explain = true
		case "false", "0", "":
		default:
			return false, wire.Errorf(wire.CodeInvalidQuery, "explain=%s: want true or false", strconv.Quote(shortText(v[0])))
		}
	}
	return explain, nil
}
