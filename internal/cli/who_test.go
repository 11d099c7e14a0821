package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWho pins warden who's output, exit codes and hostile arguments.
func TestWho(t *testing.T) {
	t.Parallel()
	tests := []cmdCase{
		{"group members listed and decided", []string{"-c", publishing, "articles:plants:3", "articles:publish"}, 0, []string{
			`allowed to do "articles:publish" on "articles:plants:3"`,
			"  user   bob\n         [rules.desks] \"desk_plants\" is allowed to do \"articles:publish\" on \"plants\"\n         via desk_plants\n",
			"  group  desk_plants\n",
			"11 subject(s)",
		}, ""},
		{"any other subject", []string{"-c", publishing, "articles:plants:3", "articles:read"}, 0, []string{"  other  _ (any other subject)\n"}, ""},
		{"nobody", []string{"-c", publishing, "articles:animals:1001", "articles:read"}, 0, []string{"  nobody\n"}, ""},
		{"no particular resource", []string{"-c", publishing, "", "site:settings:update"}, 0, []string{"(no particular resource)", "5 subject(s)"}, ""},
		{"mismatch allow lets everyone else in", []string{"-c", fullRBACPolicy, "part_c", "DELETE"}, 0, []string{"other  _ (any other subject)", "no rule matched; rule_policy.mismatch_decision is \"allow\""}, ""},
		{"pattern resource", []string{"-c", publishing, "articles:*", "articles:read"}, 2, nil, "invalid request: resource"},
		{"empty action", []string{"-c", publishing, "doc", ""}, 2, nil, "invalid request: action"},
		{"too few args", []string{"-c", publishing, "doc"}, 2, nil, "accepts 2 arg(s)"},
		{"no config", []string{"doc", "read"}, 2, nil, "no policy file"},
		{"broken policy", []string{"-c", "../../examples/publishing/README.md", "doc", "read"}, 2, nil, "README.md:3:1: invalid TOML"},
	}
	runCases(t, newWho, tests)
	t.Run("intern left out", func(t *testing.T) {
		t.Parallel()
		r := runCmd(t, newWho(), "-c", publishing, "articles:plants:3", "articles:publish")
		if r.code != 0 || strings.Contains(r.stdout, "erin") {
			t.Errorf("exit %d; erin, an intern, must not be listed as a publisher:\n%s", r.code, r.stdout)
		}
	})
}

// TestWhoJSON: --json lists the grants with their rule items.
func TestWhoJSON(t *testing.T) {
	t.Parallel()
	r := runCmd(t, newWho(), "--json", "-c", publishing, "articles:animals:1", "articles:read")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Resource, Action, Strategy string
		PolicyVersion              string `json:"policy_version"`
		Allowed                    []map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if out.Resource != "articles:animals:1" || out.Action != "articles:read" || out.Strategy != "deny-overrides" ||
		!strings.HasPrefix(out.PolicyVersion, "sha256:") || len(out.Allowed) != 19 {
		t.Fatalf("%+v", out)
	}
	last := out.Allowed[len(out.Allowed)-1]
	want := map[string]any{"subject": "_", "kind": "other", "stands_for": "any other subject", "effect": "allow", "rule": "rules.public", "item": 1.0}
	for k, v := range want {
		if last[k] != v {
			t.Errorf("%s = %v, want %v", k, last[k], v)
		}
	}
	r = runCmd(t, newWho(), "--json", "-c", publishing, "articles:animals:1001", "articles:read")
	if !strings.Contains(r.stdout, `"allowed":[]`) {
		t.Errorf("nobody allowed should be an empty list: %s", r.stdout)
	}
}
