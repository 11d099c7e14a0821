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
	page, err := decodeAuditPage(a.body)
	if err != nil {
		return AuditPage{}, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return page, nil
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

// decodeAuditPage decodes {"events":[...],"next":"ID"}. next, when
// present, must be the id of the last event, as the contract says; a
// cursor that is anything else would skip or repeat events.
func decodeAuditPage(data []byte) (AuditPage, error) {
	o, err := parseObject(data)
	if err != nil {
		return AuditPage{}, err
	}
	var raws [][]byte
	switch raw, ok := o.get("events"); {
	case !ok:
		return AuditPage{}, errors.New(`field "events" is missing`)
	case string(raw) != "null": // a service may encode an empty page as null
		if raws, err = parseArray(raw); err != nil {
			return AuditPage{}, fmt.Errorf(`field "events": %w`, err)
		}
	}
	var next string
	o.field("next", false, &next)
	if o.err != nil {
		return AuditPage{}, o.err
	}
	page := AuditPage{Events: make([]audit.Event, 0, len(raws)), Next: next}
	for i, raw := range raws {
		e, err := decodeEvent(raw)
		if err != nil {
			return AuditPage{}, fmt.Errorf("event %d: %w", i, err)
		}
		page.Events = append(page.Events, e)
	}
	if o.has("next") {
		switch {
		case next == "":
			return AuditPage{}, errors.New(`field "next" is empty (it is left out on the last page)`)
		case len(page.Events) == 0:
			return AuditPage{}, fmt.Errorf("next %q on a page with no events", clip(page.Next, 64))
		case page.Next != page.Events[len(page.Events)-1].ID:
			return AuditPage{}, fmt.Errorf("next %q is not the last event's id %q", clip(page.Next, 64), clip(page.Events[len(page.Events)-1].ID, 64))
		}
	}
	return page, nil
}

// decodeEvent decodes one audit.Event from a page's checked text, with
// the same exact-key rules as a decision.
func decodeEvent(data []byte) (audit.Event, error) {
	o, err := members(data)
	if err != nil {
		return audit.Event{}, err
	}
	var e audit.Event
	var latency int64
	var status string
	o.field("id", true, &e.ID)
	o.field("time", true, &e.Time)
	o.field("subject", true, &e.Subject)
	o.field("action", true, &e.Action)
	o.field("resource", true, &e.Resource)
	o.field("allowed", true, &e.Allowed)
	o.field("status", true, &status)
	o.field("rule", false, &e.Rule)
	o.field("reason", true, &e.Reason)
	o.field("latency_ns", true, &latency)
	o.field("policy_version", false, &e.PolicyVersion)
	o.field("error", false, &e.Error)
	o.field("fields", false, &e.Fields)
	if o.err != nil {
		return audit.Event{}, fmt.Errorf("not an audit event: %w", o.err)
	}
	if e.ID == "" {
		return audit.Event{}, errors.New(`not an audit event: field "id" is empty`)
	}
	e.Status = audit.Status(status)
	e.Latency = time.Duration(latency)
	return e, nil
}
