package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// AuditPage is one page of audit events, oldest first. Next is the cursor
// of the following page: pass it as audit.Query.After. It is empty on the
// last page; the service sets it only when the page is full, so a full
// last page is followed by one empty page.
type AuditPage struct {
	Events []audit.Event
	Next   string
}

// Audit reads one page of the service's audit log (GET /v1/audit, SPEC
// 8.4). The query's fields mean what they mean to audit.Querier: Subject
// exactly, Action and Resource as patterns, Status, the time range
// [Since, Until), the cursor After and the page size Limit (0 means the
// service's default, audit.DefaultLimit).
//
// The service has no parameter for Query.Allowed, so a query that sets it
// is refused rather than sent without it, which would return events the
// caller meant to exclude: select by Status instead. A Limit outside
// 0..audit.MaxLimit is refused too. A page larger than MaxListBytes is an
// error; ask for a smaller Limit.
func (c *Client) Audit(ctx context.Context, q audit.Query) (AuditPage, error) {
	const where = "GET " + pathAudit
	params, err := auditParams(q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("client: %s: %w", where, err)
	}
	u := c.url(pathAudit)
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	a, err := c.do(ctx, http.MethodGet, u, where, nil, MaxListBytes, http.StatusOK)
	if err != nil {
		return AuditPage{}, err
	}
	page, err := wire.DecodeAuditPage(a.body)
	if err != nil {
		return AuditPage{}, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return AuditPage{Events: page.Events, Next: page.Next}, nil
}

// AuditAll reads every event the query selects, page by page, following
// Next. Each failure is yielded once, with the zero Event, and ends the
// sequence; stopping the loop early sends no further request. A service
// whose cursor does not move forward is such a failure, so a faulty
// service cannot make the loop run forever.
func (c *Client) AuditAll(ctx context.Context, q audit.Query) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		q := q // each range over the sequence starts from the query's own cursor
		for {
			page, err := c.Audit(ctx, q)
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			for _, e := range page.Events {
				if !yield(e, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			if page.Next <= q.After {
				yield(audit.Event{}, fmt.Errorf("client: GET %s: the cursor went from %q to %q, not forward (event ids sort by time)", pathAudit, clip(q.After, 64), clip(page.Next, 64)))
				return
			}
			q.After = page.Next
		}
	}
}

// auditParams encodes a query as the HTTP contract's parameters. Only
// fields that are set are sent, so the service applies its own defaults.
func auditParams(q audit.Query) (url.Values, error) {
	if q.Allowed != nil {
		return nil, errors.New("audit.Query.Allowed has no HTTP parameter; select by Status (allowed, denied or error) instead")
	}
	if q.Limit < 0 || q.Limit > audit.MaxLimit {
		return nil, fmt.Errorf("limit %d out of range 0..%d", q.Limit, audit.MaxLimit)
	}
	v := url.Values{}
	set := func(key, val string) {
		if val != "" {
			v.Set(key, val)
		}
	}
	set("subject", q.Subject)
	set("action", q.Action)
	set("resource", q.Resource)
	set("status", string(q.Status))
	for _, t := range []struct {
		key string
		t   time.Time
	}{{"since", q.Since}, {"until", q.Until}} {
		if !t.t.IsZero() {
			// RFC 3339 with nanoseconds, so the bound is the one given,
			// not one rounded to the second.
			v.Set(t.key, t.t.UTC().Format(time.RFC3339Nano))
		}
	}
	set("after", q.After)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v, nil
}
