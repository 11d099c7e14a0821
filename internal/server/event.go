package server

import (
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
)

// NewEvent turns one decision into its audit event (SPEC 8.1). It is the
// one place this is done, shared by `warden check --audit` and `warden
// serve`, so an event means the same thing whichever wrote it. derr is the
// error Decide or Explain returned with d: the event then has status error,
// and allowed false whatever d says. start is when deciding began; the
// latency runs to now.
func NewEvent(req warden.Request, d warden.Decision, derr error, start time.Time) (audit.Event, error) {
	id, err := audit.NewID()
	if err != nil {
		return audit.Event{}, err
	}
	e := audit.Event{
		ID: id, Time: start.UTC(), Subject: req.Subject, Action: req.Action, Resource: req.Resource,
		Allowed: d.Allowed && derr == nil, Rule: d.Rule, Reason: d.Reason,
		Latency: time.Since(start), PolicyVersion: d.PolicyVersion,
	}
	switch {
	case derr != nil:
		e.Status, e.Error = audit.StatusError, derr.Error()
	case d.Allowed:
		e.Status = audit.StatusAllowed
	default:
		e.Status = audit.StatusDenied
	}
	if req.Context != nil {
		e.Fields = req.Context
	}
	return e, nil
}
