package cli

import (
	"encoding/json"
	"testing"
)

// TestCan pins warden can's output, exit codes and hostile arguments.
func TestCan(t *testing.T) {
	t.Parallel()
	tests := []cmdCase{
		{"intern", []string{"-c", publishing, "erin"}, 0, []string{
			`  ALLOW  action "write" on resource "plants"  rules.desks allow[2] via desk_plants` + "\n",
			`  DENY   action "articles:publish,delete" on resource "*"  rules.editing deny[1] via interns` + "\n",
			`  ALLOW  action "read" on resource "articles:*"  rules.public allow[1]  (partial: overridden in places)` + "\n",
			`  DENY   everything else: no rule matched; the default mismatch decision is "deny"` + "\n",
		}, ""},
		{"undeclared subject", []string{"-c", publishing, "zoe"}, 0, []string{`rules.public allow[1]`, `rules.embargo deny[1]`}, ""},
		{"first-match shadowing", []string{"-c", fullRBACPolicy, "user5"}, 0, []string{
			`  ALLOW  action "GET" on resource "res1"  rules.r1 allow[1] via reader`,
			`  DENY   action "PUT" on resource "res2"  rules.r2 deny[2] via reader`,
			`  ALLOW  everything else: no rule matched; rule_policy.mismatch_decision is "allow"`,
		}, ""},
		{"pattern subject", []string{"-c", publishing, "user:*"}, 2, nil, "invalid request: subject"},
		{"space", []string{"-c", publishing, "a b"}, 2, nil, "space"},
		{"too many args", []string{"-c", publishing, "a", "b"}, 2, nil, "accepts 1 arg(s)"},
		{"missing file", []string{"-c", "/nonexistent.toml", "a"}, 2, nil, "no such file"},
	}
	runCases(t, newCan, tests)
}

// TestCanJSON: --json lists every permission, the mismatch entry last.
func TestCanJSON(t *testing.T) {
	t.Parallel()
	r := runCmd(t, newCan(), "--json", "-c", publishing, "erin")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Subject     string
		Permissions []struct {
			Resource, Action, Effect, Rule, Via string
			Allowed, Partial                    bool
			Item                                int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if out.Subject != "erin" || len(out.Permissions) != 6 {
		t.Fatalf("%+v", out)
	}
	deny := out.Permissions[3]
	if deny.Resource != "*" || deny.Action != "articles:publish,delete" || deny.Effect != "deny" || deny.Allowed ||
		deny.Rule != "rules.editing" || deny.Item != 1 || deny.Via != "interns" {
		t.Errorf("%+v", deny)
	}
	last := out.Permissions[5]
	if last.Rule != "" || last.Effect != "none" || last.Resource != "*" || last.Action != "*" || !last.Partial {
		t.Errorf("mismatch entry %+v", last)
	}
}
