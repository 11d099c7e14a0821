package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warden-authz/warden/audit"
)

// AuditPage is the answer of GET /v1/audit (SPEC 8.4): events oldest
// first, and Next, the id to pass as after for the next page. Next is set
// only when the page is full, so a client pages until it is absent.
type AuditPage struct {
	Events []audit.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// EncodeAuditPage encodes a page as DecodeAuditPage reads it, with an
// empty list, never null, for no events.
func EncodeAuditPage(p AuditPage) ([]byte, error) {
	if p.Events == nil {
		p.Events = []audit.Event{}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encoding events: %w", err)
	}
	return []byte(b.String()), nil
}

// DecodeAuditPage decodes {"events":[...],"next":"ID"}. next, when
// present, must be the id of the last event, as the contract says; a
// cursor that is anything else would skip or repeat events.
func DecodeAuditPage(data []byte) (AuditPage, error) {
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
	o.field("revision", false, &e.Revision) // absent without a store: 0
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
