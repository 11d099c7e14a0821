package server_test

import (
	"slices"
	"strings"
	"testing"
)

const policyConditions = `
[context]
mfa = 'bool'
ip = 'ip'

[rules.office]
when = 'context.mfa && context.ip.in_cidr("10.0.0.0/8")'
allow = [['staff', 'payroll:*', 'read']]

[rules.guard]
when = 'context.mfa'
deny = [['*', 'payroll:*', 'delete']]
`

// TestCheckConditions: over HTTP, context is checked against [context]
// (SPEC 12.4) and conditions fail closed, with what was missing (SPEC
// 12.5), alone and in a batch.
func TestCheckConditions(t *testing.T) {
	t.Parallel()
	f := start(t, policyConditions, nil)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		allowed    bool
		missing    []string
	}{
		{"held", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":true,"ip":"10.1.2.3"}}`, 200, "", true, nil},
		{"outside the network", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":true,"ip":"192.168.0.1"}}`, 200, "", false, nil},
		{"deny with its condition missing applies", `{"subject":"staff","resource":"payroll:1","action":"delete"}`, 200, "", false, []string{"mfa"}},
		{"wrong type", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":"true"}}`, 400, "invalid_request", false, nil},
		{"undeclared key", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfaa":true}}`, 400, "invalid_request", false, nil},
		{"bad address", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"ip":"10.0.0.999"}}`, 400, "invalid_request", false, nil},
		{"huge number", `{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":1e999}}`, 400, "invalid_request", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, "POST", "/v1/check", tc.body, "Content-Type", "application/json")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if got := errorCode(r.body); got != tc.code {
					t.Fatalf("code %q, want %q: %s", got, tc.code, r.body)
				}
				return
			}
			d := decodeDecision(t, r.body)
			if d.Allowed != tc.allowed || !slices.Equal(d.MissingContext, tc.missing) {
				t.Fatalf("%+v, want allowed %v, missing %q", d, tc.allowed, tc.missing)
			}
			if tc.missing != nil && (len(d.ConditionErrors) != 1 || d.ConditionErrors[0].Rule != "rules.guard" || !strings.Contains(d.Reason, "could not be evaluated")) {
				t.Fatalf("%+v: want the guard's condition error in the decision and its reason", d)
			}
		})
	}
	r := f.do(t, "POST", "/v1/check/batch", `{"requests":[
		{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":true,"ip":"10.1.2.3"}},
		{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":"yes"}}]}`, "Content-Type", "application/json")
	if r.status != 200 || !strings.Contains(string(r.body), `"allowed":true`) || !strings.Contains(string(r.body), `"invalid_request"`) {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
}
