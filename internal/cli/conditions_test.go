package cli_test

import (
	"strings"
	"testing"
)

const conditionPolicy = `
[context]
mfa = 'bool'

[rules.office]
when = 'context.mfa && now.getHours() >= 8 && now.getHours() < 18'
allow = [['staff', 'payroll:*', 'read']]
`

// TestCheckContext: check takes the request's context (--context, and in
// --batch lines) and the time (--now), checks the context against
// [context] (SPEC 12.4), and prints what a condition missed.
func TestCheckContext(t *testing.T) {
	t.Parallel()
	policy := writeFile(t, conditionPolicy)
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string
		stderr string
	}{
		{"held", []string{"--context", `{"mfa":true}`, "--now", "2026-03-04T10:00:00Z", "staff", "payroll:1", "read"}, "", 0,
			[]string{"ALLOWED  [rules.office]", "when context.mfa"}, ""},
		{"after hours", []string{"--context", `{"mfa":true}`, "--now", "2026-03-04T20:00:00Z", "staff", "payroll:1", "read"}, "", 1,
			[]string{"DENIED  no rule matched"}, ""},
		{"missing", []string{"--now", "2026-03-04T10:00:00Z", "staff", "payroll:1", "read"}, "", 1,
			[]string{"missing:  context.mfa", "failed:   rules.office when"}, ""},
		{"json", []string{"--json", "--now", "2026-03-04T10:00:00Z", "staff", "payroll:1", "read"}, "", 1,
			[]string{`"missing_context":["mfa"]`, `"condition_errors":[{"rule":"rules.office"`}, ""},
		{"wrong type", []string{"--context", `{"mfa":"yes"}`, "staff", "payroll:1", "read"}, "", 2, nil, "context.mfa: want a bool, found a string"},
		{"undeclared", []string{"--context", `{"mfaa":true}`, "staff", "payroll:1", "read"}, "", 2, nil, "context.mfaa is not declared"},
		{"not an object", []string{"--context", `[true]`, "staff", "payroll:1", "read"}, "", 2, nil, "--context: want one JSON object"},
		{"not JSON", []string{"--context", `{mfa}`, "staff", "payroll:1", "read"}, "", 2, nil, "--context"},
		{"bad now", []string{"--now", "10am", "staff", "payroll:1", "read"}, "", 2, nil, "--now: want an RFC 3339 time"},
		{"batch", []string{"--batch"},
			`{"subject":"staff","resource":"payroll:1","action":"read","context":{"mfa":1}}` + "\n" +
				`{"subject":"staff","resource":"payroll:1","action":"read","context":{"nope":true}}` + "\n", 0,
			[]string{`"code":"invalid_request","message":"invalid request: context.mfa: want a bool, found a number","line":1`, `context.nope is not declared`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.stdin, append([]string{"check", "--config", policy}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, r.stderr)
			}
		})
	}
}
