package server

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// GET /v1/audit: a page of audit events (SPEC 8.4).

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Audit == nil {
		s.fail(w, "audit", http.StatusNotFound, wire.Errorf(wire.CodeNotFound, "the audit log is off (--audit off)"))
		return
	}
	q, werr := ParseQuery(r.URL.RawQuery)
	if werr != nil {
		s.fail(w, "audit", http.StatusBadRequest, werr)
		return
	}
	m, err := q.Compile()
	if err != nil {
		s.fail(w, "audit", http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "%v", err))
		return
	}
	events, err := s.cfg.Audit.Query(r.Context(), q)
	if err != nil {
		s.log.Error("audit query", "error", err)
		s.fail(w, "audit", http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "querying the audit log failed"))
		return
	}
	// Next is set only when the page is full, so a client pages until it
	// is absent.
	page := wire.AuditPage{Events: events}
	if len(events) > 0 && len(events) == m.Limit() {
		page.Next = events[len(events)-1].ID
	}
	b, err := wire.EncodeAuditPage(page)
	if err != nil {
		s.fail(w, "audit", http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "%v", err))
		return
	}
	s.metrics.responses.WithLabelValues("audit", "200").Inc()
	writeJSONBytes(w, http.StatusOK, b)
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
		return q, wire.Errorf(wire.CodeInvalidQuery, "query: %v", err)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return q, wire.Errorf(wire.CodeInvalidQuery, "query parameter %s given %d times", strconv.Quote(shortText(k)), len(v))
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
				return q, wire.Errorf(wire.CodeInvalidQuery, "%s=%s: want an RFC 3339 time such as 2026-11-25T12:00:00Z", k, strconv.Quote(shortText(val)))
			}
			if k == "since" {
				q.Since = t
			} else {
				q.Until = t
			}
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > audit.MaxLimit {
				return q, wire.Errorf(wire.CodeInvalidQuery, "limit=%s: want a whole number from 1 to %d", strconv.Quote(shortText(val)), audit.MaxLimit)
			}
			q.Limit = n
		default:
			return q, wire.Errorf(wire.CodeInvalidQuery, "unknown query parameter %s (want subject, action, resource, status, since, until, after or limit)", strconv.Quote(shortText(k)))
		}
	}
	if _, err := q.Compile(); err != nil {
		return q, wire.Errorf(wire.CodeInvalidQuery, "%v", err)
	}
	return q, nil
}
