package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/cli"
)

const fullRBAC = "../../examples/accesscontrol/full-rbac.toml"

type result struct {
	code           int
	stdout, stderr string
}

func run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExitCodes pins SPEC 9.1: 0 allowed, 1 denied, 2 usage or input error.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	broken := writeFile(t, "[rules\n")
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{"allowed", []string{"check", "-c", fullRBAC, "user1", "part_b", "GET"}, 0, `ALLOWED  [rules.r1] "admin" is allowed to do "any action" on "res1"`, ""},
		{"denied by rule", []string{"check", "-c", fullRBAC, "user3", "part_c", "PUT"}, 1, `DENIED  [rules.r2] "reader" is not allowed to do "PUT" on "res2"`, ""},
		{"no match uses mismatch_decision", []string{"check", "-c", fullRBAC, "nobody", "part_a", "GET"}, 0, "no rule matched", ""},
		{"chain shown", []string{"check", "-c", fullRBAC, "user1", "part_b", "GET"}, 0, "user1 → g1 → g4 → admin", ""},
		{"resource chain shown", []string{"check", "-c", fullRBAC, "user1", "part_b", "GET"}, 0, "part_b ∈ res1", ""},
		{"too few args", []string{"check", "-c", fullRBAC, "user1", "part_b"}, 2, "", "SUBJECT RESOURCE ACTION"},
		{"no config", []string{"check", "user1", "part_b", "GET"}, 2, "", "--config"},
		{"missing file", []string{"check", "-c", "/nonexistent/p.toml", "a", "b", "c"}, 2, "", "no such file"},
		{"broken file", []string{"check", "-c", broken, "a", "b", "c"}, 2, "", "policy.toml:1:"},
		{"star in request", []string{"check", "-c", fullRBAC, "user*", "part_b", "GET"}, 2, "", "invalid request"},
		{"comma in request", []string{"check", "-c", fullRBAC, "user1", "a,b", "GET"}, 2, "", "invalid request"},
		{"empty subject", []string{"check", "-c", fullRBAC, "", "part_b", "GET"}, 2, "", "subject"},
		{"empty action", []string{"check", "-c", fullRBAC, "user1", "part_b", ""}, 2, "", "action"},
		{"over-long name", []string{"check", "-c", fullRBAC, strings.Repeat("a", 1025), "part_b", "GET"}, 2, "", "over the limit"},
		{"unknown flag", []string{"check", "--nope", "-c", fullRBAC, "a", "b", "c"}, 2, "", "unknown flag"},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"batch takes no args", []string{"check", "--batch", "-c", fullRBAC, "a"}, 2, "", "no arguments"},
		{"explain allowed", []string{"explain", "-c", fullRBAC, "user2", "part_a", "GET"}, 0, "first-match: rules.r1 allow[1] is the first of 3 matching rules", ""},
		{"explain denied", []string{"explain", "-c", fullRBAC, "user5", "part_c", "POST"}, 1, "rules.r2 deny[3]", ""},
		{"explain bad request", []string{"explain", "-c", fullRBAC, "a b", "part_c", "POST"}, 2, "", "space"},
		{"validate ok", []string{"validate", "-c", fullRBAC}, 0, "ok (first-match", ""},
		{"validate broken", []string{"validate", "-c", broken}, 2, "problem", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.out) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tt.out)
			}
			if !strings.Contains(r.stderr, tt.err) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.err)
			}
		})
	}
}

// TestCheckJSON checks the decision object of SPEC 9.3.
func TestCheckJSON(t *testing.T) {
	t.Parallel()
	r := run(t, "", "check", "--json", "-c", fullRBAC, "user1", "part_b", "GET")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r.stdout)
	}
	want := map[string]any{
		"allowed": true, "effect": "allow", "rule": "rules.r1", "item": 2.0,
		"reason":        `[rules.r1] "admin" is allowed to do "any action" on "res1"`,
		"subject_path":  []any{"user1", "g1", "g4", "admin"},
		"resource_path": []any{"part_b", "res1"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(d[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if v, _ := d["policy_version"].(string); !strings.HasPrefix(v, "sha256:") {
		t.Errorf("policy_version = %v", d["policy_version"])
	}
}

// TestCheckJSONError: a malformed request under --json prints the error
// object of SPEC 9.3 on stdout and exits 2.
func TestCheckJSONError(t *testing.T) {
	t.Parallel()
	r := run(t, "", "check", "--json", "-c", fullRBAC, "user1", "x*", "GET")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2", r.code)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil || body.Error.Code != "invalid_request" || !strings.Contains(body.Error.Message, "resource") {
		t.Errorf("stdout %q (%v)", r.stdout, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBatch: one output line per input line, in order; a bad line gets an
// error object and the batch goes on; the exit code is 0.
func TestBatch(t *testing.T) {
	t.Parallel()
	in := strings.Join([]string{
		`{"subject":"user1","resource":"part_b","action":"GET"}`,
		`{"subject":"a*","action":"x"}`,
		`not json`,
		``,
		`{"subject":"user5","resource":"part_c","action":"POST","extra":1}`,
		`{"subject":"user5","resource":"part_c","action":"POST"}` + "\r",
		`{"subject":"user1","subject":"admin","action":"GET"}`,
		`{"subject":"user1","action":"GET","resource":7}`,
		`{"subject":"user1","action":"GET","context":[]}`,
		`{"subject":"user1","action":"GET"} {"subject":"x"}`,
		`[1,2,3]`,
		`{"resource":"part_b","action":"GET"}`,
		`{"subject":null,"action":"GET"}`,
		`{"subject":"user1","resource":"","action":"GET","context":{"ip":"10.0.0.1"}}`,
		`{"subject":"user5","resource":"part_b","action":"GET"}`, // last line has no newline
	}, "\n")
	r := run(t, in, "check", "--batch", "-c", fullRBAC)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		`"allowed":true`,
		`"code":"invalid_request"`,
		`"code":"invalid_json"`,
		`"code":"invalid_json"`,
		`unknown field \"extra\"`,
		`"rule":"rules.r2","item":3`,
		`appears twice`,
		`field \"resource\": want a string`,
		`field \"context\": want an object`,
		`unexpected data after the request object`,
		`must be a JSON object`,
		`missing field \"subject\"`,
		`field \"subject\" is null`,
		`"effect":"none"`,
		`"rule":"rules.r1","item":1`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d output lines for %d input lines:\n%s", len(lines), len(want), r.stdout)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s, want it to contain %s", i+1, lines[i], w)
		}
		if strings.Contains(lines[i], `"error"`) && !strings.Contains(lines[i], `"line":`) {
			t.Errorf("line %d error object does not say which line: %s", i+1, lines[i])
		}
	}
}

// TestBatchOverlongLine: a line over the request limit gets an error and
// does not stop the batch or get buffered whole.
func TestBatchOverlongLine(t *testing.T) {
	t.Parallel()
	huge := `{"subject":"` + strings.Repeat("a", 2<<20) + `","action":"GET"}`
	in := huge + "\n" + `{"subject":"user1","resource":"part_b","action":"GET"}` + "\n"
	r := run(t, in, "check", "--batch", "-c", fullRBAC)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines: %.300s", r.code, len(lines), r.stdout)
	}
	if !strings.Contains(lines[0], "request_too_large") || !strings.Contains(lines[1], `"allowed":true`) {
		t.Errorf("got %.300s", r.stdout)
	}
}

// TestValidateAfterTOMLErrors: a table or key defined twice does not stop
// the TOML parser, so validate still reports every other problem in the
// same run; a syntax error does, and validate says that nothing else was
// checked.
func TestValidateAfterTOMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []string
		problems   int
	}{
		{"table defined twice", "[groups]\nstaff = ['alice', 'g*']\n\n[rules.r1]\nallow = [['staff', 'doc', 'read']]\n\n[rules.r1]\nallow = [['bob', 'doc', 'read']]\n\n[rule_policy]\nstrategy = 'deny-wins'\nmismatch = 'allow'\n",
			[]string{"policy.toml:2:19:", "is a pattern", "policy.toml:7:8: invalid TOML: rules.r1 is already defined", `unknown strategy "deny-wins"`, `did you mean "mismatch_decision"`}, 5},
		{"syntax error", "[groups]\nstaff = ['alice'\n\n[rule_policy]\nstrategy = 'deny-wins'\n",
			[]string{"policy.toml:4:1: invalid TOML:", "the TOML parser stops here, so no other check ran"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "", "validate", "-c", writeFile(t, tt.text))
			if r.code != 2 {
				t.Fatalf("exit %d, want 2: %s", r.code, r.stdout)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("validate output does not contain %q:\n%s", want, r.stdout)
				}
			}
			if !strings.Contains(r.stdout, fmt.Sprintf(": %d problem(s)", tt.problems)) {
				t.Errorf("want %d problems:\n%s", tt.problems, r.stdout)
			}
		})
	}
}

// TestValidateReportsEveryProblem: validate lists all problems, each with
// file:line:col, not only the first (SPEC 6.2).
func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `[groups]
admins = ['alice', 'bob']

[roles]
admins = ['carol']

[[rules]]
allow = [['admins', 'a::b', 'GET']]
deny = [['bob', 'x', 'DELETE', 'extra']]

[rule_policy]
mismatched = 'deny'
`)
	r := run(t, "", "validate", "-c", path)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2: %s", r.code, r.stdout)
	}
	for _, want := range []string{
		"policy.toml:5:1:",  // admins as role
		"both as a group",   // ... and why
		"policy.toml:8:",    // bad pattern
		"empty segment",     // ... and why
		"policy.toml:9:",    // 4-item triple
		"policy.toml:12:1:", // unknown key
		`did you mean "mismatch_decision"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output does not contain %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, "", "validate", "--json", "-c", path)
	var res struct {
		Valid       bool
		Diagnostics []struct {
			File         string
			Line, Column int
			Message      string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("validate --json: %v: %s", err, r.stdout)
	}
	if res.Valid || len(res.Diagnostics) < 4 {
		t.Errorf("validate --json = %+v", res)
	}
	for _, d := range res.Diagnostics {
		if d.Line == 0 || d.Column == 0 || d.File != path {
			t.Errorf("diagnostic without a position: %+v", d)
		}
	}
}

// TestRunNilStreams: Run with nil streams reads nothing and discards its
// output, and still returns the exit code.
func TestRunNilStreams(t *testing.T) {
	t.Parallel()
	policy := writeFile(t, "[rules.r]\nallow = [['alice', 'doc', 'read']]\n")
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"check", "--config", policy, "alice", "doc", "read"}, 0},
		{[]string{"check", "--config", policy, "bob", "doc", "read"}, 1},
		{[]string{"check", "--config", policy, "--batch"}, 0},
		{[]string{"no-such-command"}, 2},
		{nil, 0},
	}
	for _, tt := range tests {
		if code := cli.Run(tt.args, nil, nil, nil); code != tt.code {
			t.Errorf("Run(%q) with nil streams = %d, want %d", tt.args, code, tt.code)
		}
	}
}

// TestAuditFlagHelp: every --audit flag's help names every store URL
// auditurl opens, postgres:// included.
func TestAuditFlagHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"check"}, {"audit", "query"}, {"audit", "tail"}, {"audit", "stats"}, {"serve"}} {
		r := run(t, "", append(args, "--help")...)
		var flag string
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--audit ") {
				flag = line
			}
		}
		for _, scheme := range []string{"jsonl:PATH", "sqlite:PATH", "postgres://"} {
			if !strings.Contains(flag, scheme) {
				t.Errorf("warden %s --help: the --audit flag %q does not name %s", strings.Join(args, " "), flag, scheme)
			}
		}
	}
}
