package audit

import (
	"time"

	"github.com/warden-authz/warden/types"
)

// NewEvent builds the event of one decision (SPEC 8.1). It is the one
// place this is done: guarded calls, `warden check --audit` and `warden
// serve` all call it, so an event means the same whichever wrote it.
//
// req is what was asked: its Subject, Action and Resource are recorded as
// given, and its Context becomes the event's Fields. d is the decision:
// its PolicyVersion and Revision say which policy and which state of the
// runtime data decided, so the event can be reproduced.
// derr is the error deciding failed with: the event then has status
// error, with derr's message, and is not allowed whatever d says. A
// denial is a decision, not an error: pass a nil derr for it. start and
// end bound the deciding, which gives the event its time and latency;
// callers take both from their clock, so tests can fix them.
//
// It fails only when no event id can be made (the system's random source
// failed).
func NewEvent(req types.Request, d types.Decision, derr error, start, end time.Time) (Event, error) {
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	e := Event{
		ID: id, Time: start.UTC(), Subject: req.Subject, Action: req.Action, Resource: req.Resource,
		Allowed: d.Allowed && derr == nil, Rule: d.Rule, Reason: d.Reason,
		Latency: end.Sub(start), PolicyVersion: d.PolicyVersion, Revision: d.Revision, Fields: req.Context,
	}
	switch {
	case derr != nil:
		e.Status, e.Error = StatusError, derr.Error()
	case d.Allowed:
		e.Status = StatusAllowed
	default:
		e.Status = StatusDenied
	}
	return e, nil
}
