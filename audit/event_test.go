package audit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/types"
)

func TestNewEvent(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 25, 12, 0, 0, 5, time.FixedZone("CET", 3600))
	end := start.Add(1500 * time.Nanosecond)
	req := types.Request{Subject: "alice", Resource: "doc:1", Action: "read", Context: map[string]any{"ip": "::1"}}
	allow := types.Decision{Allowed: true, Effect: types.EffectAllow, Rule: "rules.r", Item: 1, Reason: "because", PolicyVersion: "v1"}
	deny := types.Decision{Effect: types.EffectDeny, Rule: "rules.d", Item: 1, Reason: "no", PolicyVersion: "v1"}
	base := audit.Event{
		Time: start.UTC(), Subject: "alice", Action: "read", Resource: "doc:1",
		Latency: 1500 * time.Nanosecond, PolicyVersion: "v1", Fields: map[string]any{"ip": "::1"},
	}
	with := func(f func(e *audit.Event)) audit.Event { e := base; f(&e); return e }
	for _, tc := range []struct {
		name string
		req  types.Request
		d    types.Decision
		err  error
		want audit.Event
	}{
		{"allowed", req, allow, nil, with(func(e *audit.Event) {
			e.Allowed, e.Status, e.Rule, e.Reason = true, audit.StatusAllowed, "rules.r", "because"
		})},
		{"denied", req, deny, nil, with(func(e *audit.Event) { e.Status, e.Rule, e.Reason = audit.StatusDenied, "rules.d", "no" })},
		{"error beats an allowing decision", req, allow, errors.New("boom"), with(func(e *audit.Event) {
			e.Status, e.Error, e.Rule, e.Reason = audit.StatusError, "boom", "rules.r", "because"
		})},
		{"the store revision the decision saw", req, func() types.Decision { d := allow; d.Revision = 4711; return d }(), nil, with(func(e *audit.Event) {
			e.Allowed, e.Status, e.Rule, e.Reason, e.Revision = true, audit.StatusAllowed, "rules.r", "because", 4711
		})},
		{"revision unavailable: the error, and the revision applied", req, types.Decision{Reason: "revision unavailable", Revision: 9}, errors.New("not yet"), with(func(e *audit.Event) {
			e.Status, e.Error, e.Reason, e.Revision, e.PolicyVersion = audit.StatusError, "not yet", "revision unavailable", 9, ""
		})},
		{"no context, no fields", types.Request{Subject: "bob", Action: "x"}, types.Decision{Reason: "none", PolicyVersion: "v1"}, nil, audit.Event{
			Time: start.UTC(), Subject: "bob", Action: "x", Status: audit.StatusDenied, Reason: "none",
			Latency: 1500 * time.Nanosecond, PolicyVersion: "v1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := audit.NewEvent(tc.req, tc.d, tc.err, start, end)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == "" {
				t.Error("no id")
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(audit.Event{}, "ID")); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("time %v is not UTC", got.Time)
			}
		})
	}
}
