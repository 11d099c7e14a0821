package testfile_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/testfile"
)

const goodCase = `
[[cases]]
subject = "alice"
resource = "doc"
action = "read"
allowed = true
`

// TestParse reads a file with every key and checks each lands
// where it belongs.
func TestParse(t *testing.T) {
	t.Parallel()
	tf, errs := testfile.Parse("t.toml", []byte(`policy = "p.toml"

[[cases]]
name = "full"
subject = "alice"
resource = ""
action = "read"
allowed = false
rule = "rules.r1 deny[2]"
effect = "deny"
reason = "not allowed"

[[cases]]
subject = "bob"
resource = "a:b"
action = "write"
allowed = true
rule = "rules.2"
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if tf.Policy != "p.toml" || tf.PolicyPos.String() != "t.toml:1:10" || len(tf.Cases) != 2 {
		t.Fatalf("%+v", tf)
	}
	c := tf.Cases[0]
	if c.Name != "full" || c.Pos.String() != "t.toml:3:1" || c.Subject != "alice" || c.Resource != "" || c.Action != "read" ||
		c.Allowed || c.Rule != "rules.r1" || c.Item != 2 || c.ItemEffect != engine.EffectDeny ||
		!c.EffectSet || c.Effect != engine.EffectDeny || !c.ReasonSet || c.Reason != "not allowed" {
		t.Errorf("case 1: %+v", c)
	}
	c = tf.Cases[1]
	if c.Label() != "bob write a:b" || c.Rule != "rules.2" || c.Item != 0 || c.EffectSet || c.ReasonSet || !c.Allowed {
		t.Errorf("case 2: %+v", c)
	}
	if tf.PolicyPath() != "p.toml" {
		t.Errorf("PolicyPath = %q", tf.PolicyPath())
	}
}

// TestParseHostile: every malformed file is refused with an error
// that says where (file:line:col) and what.
func TestParseHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       string // substring of the first error, with its position
	}{
		{"empty", "", "t.toml:1:1: missing policy"},
		{"no cases", `policy = "p.toml"`, "t.toml:1:1: no cases"},
		{"syntax error", "policy = \"p.toml\"\n[[cases]\n", "t.toml:2:"},
		{"unterminated string", "policy = \"p.toml", "t.toml:1:"},
		{"unknown top key", "policy = \"p.toml\"\npolcy = 1\n" + goodCase, `t.toml:2:1: unknown key "polcy" (did you mean "policy"?)`},
		{"unknown case key", "policy = \"p.toml\"\n" + goodCase + "allow = true\n", `t.toml:8:1: unknown key "allow" in a case (did you mean "allowed"?)`},
		{"dotted key", "policy = \"p.toml\"\n" + goodCase + "rule.id = 'x'\n", `t.toml:8:1: unknown key "rule.id"`},
		{"single-bracket table", "policy = \"p.toml\"\n[cases]\nsubject = 'a'\n", "t.toml:2:2: unknown table [cases]"},
		{"unknown array table", "policy = \"p.toml\"\n[[case]]\nsubject = 'a'\n", `t.toml:2:3: unknown table [[case]] (did you mean "cases"?)`},
		{"cases as a key", "policy = \"p.toml\"\ncases = []\n", "t.toml:2:1: cases must be written as [[cases]] tables"},
		{"inline cases", "policy = \"p.toml\"\ncases = [{subject = 'a'}]\n", "t.toml:2:1: cases must be written"},
		{"policy not a string", "policy = 3\n" + goodCase, "t.toml:1:10: policy must be a string, found an integer"},
		{"policy empty", "policy = ''\n" + goodCase, "t.toml:1:10: policy is empty"},
		{"policy twice", "policy = 'a'\npolicy = 'b'\n" + goodCase, "t.toml:2:1: invalid TOML: policy is already defined at t.toml:1:1"},
		{"policy in a case", "policy = 'a'\n" + goodCase + "policy = 'b'\n", "t.toml:8:1: policy belongs at the top"},
		{"key twice in a case", "policy = 'a'\n" + goodCase + "subject = 'b'\n", "t.toml:8:1: invalid TOML: subject is already defined at t.toml:4:1"},
		{"missing allowed", "policy = 'a'\n[[cases]]\nsubject = 'a'\nresource = 'b'\naction = 'c'\n", `t.toml:2:1: case "a c b" is missing allowed`},
		{"missing everything", "policy = 'a'\n[[cases]]\n", "is missing subject, resource, action, allowed"},
		{"missing resource", "policy = 'a'\n[[cases]]\nsubject = 'a'\naction = 'c'\nallowed = true\n", "is missing resource"},
		{"allowed as string", "policy = 'a'\n[[cases]]\nsubject = 'a'\nresource = 'b'\naction = 'c'\nallowed = 'yes'\n", "t.toml:6:11: allowed must be true or false, found a string"},
		{"subject as array", "policy = 'a'\n[[cases]]\nsubject = ['a']\nresource = 'b'\naction = 'c'\nallowed = true\n", "t.toml:3:1: subject must be a string, found an array"},
		{"pattern subject", "policy = 'a'\n[[cases]]\nsubject = 'a*'\nresource = 'b'\naction = 'c'\nallowed = true\n", "t.toml:3:11: subject: \"a*\": pattern character '*'"},
		{"pattern resource", "policy = 'a'\n[[cases]]\nsubject = 'a'\nresource = 'b:*'\naction = 'c'\nallowed = true\n", "t.toml:4:12: resource:"},
		{"empty action", "policy = 'a'\n[[cases]]\nsubject = 'a'\nresource = 'b'\naction = ''\nallowed = true\n", "t.toml:5:10: action: empty"},
		{"space in name", "policy = 'a'\n[[cases]]\nsubject = 'a b'\nresource = 'b'\naction = 'c'\nallowed = true\n", "space"},
		{"control character", "policy = 'a'\n[[cases]]\nsubject = \"a\\u0000\"\nresource = 'b'\naction = 'c'\nallowed = true\n", "control"},
		{"long name", "policy = 'a'\n[[cases]]\nsubject = '" + strings.Repeat("x", 1025) + "'\nresource = 'b'\naction = 'c'\nallowed = true\n", "over the limit"},
		{"context not a table", "policy = 'a'\n" + goodCase + "context = 'mfa'\n", "t.toml:8:11: context must be an inline table"},
		{"now without an offset", "policy = 'a'\n" + goodCase + "now = 2026-03-04T10:00:00\n", "t.toml:8:7: now must be a time with its offset"},
		{"now not a time", "policy = 'a'\n" + goodCase + "now = 'noon'\n", `t.toml:8:7: now must be a time with its offset, such as 2026-03-04T10:00:00Z, found "noon"`},
		{"bad effect", "policy = 'a'\n" + goodCase + "effect = 'alow'\n", `t.toml:8:10: effect must be "allow", "deny" or "none" (no rule matched), found "alow" (did you mean "allow"?)`},
		{"bad rule", "policy = 'a'\n" + goodCase + "rule = 'rules.r1 allow[x]'\n", `t.toml:8:8: rule "rules.r1 allow[x]": expected a rule id`},
		{"empty rule", "policy = 'a'\n" + goodCase + "rule = ''\n", "t.toml:8:8: rule \"\""},
		{"zero item", "policy = 'a'\n" + goodCase + "rule = 'r allow[0]'\n", "expected a rule id"},
		{"invalid UTF-8", "policy = 'a'\n" + goodCase + "name = '\xff'\n", "t.toml:8:"},
		{"date value", "policy = 1979-05-27\n" + goodCase, "policy must be a string, found a date or time"},
		{"deep nesting", "policy = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n" + goodCase, "policy must be a string, found an array"},
		{"too large", "policy = 'a'\n#" + strings.Repeat("x", testfile.MaxBytes) + "\n", "over the limit"},
		{"NUL byte", "policy = 'a'\x00\n" + goodCase, "t.toml:1:"},
		{"a policy file", "[groups]\nstaff = ['alice']\n[rules.r1]\nallow = [['staff', 'doc', 'read']]\n", "t.toml:1:1: this is a policy file, not a policy test file"},
		{"a policy of dotted keys", "rule_policy.strategy = 'first-match'\n", "this is a policy file"},
		{"a test file with a stray policy table", "policy = 'a'\n[groups]\n" + goodCase, "t.toml:2:2: unknown table [groups]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errs := testfile.Parse("t.toml", []byte(tt.text))
			if len(errs) == 0 {
				t.Fatalf("accepted; want an error containing %q", tt.want)
			}
			if !strings.Contains(errs.Error(), tt.want) {
				t.Errorf("errors:\n%v\nwant one containing %q", errs, tt.want)
			}
			if strings.Contains(tt.want, "this is a policy file") && len(errs) != 1 {
				t.Errorf("a policy given as a test file gets %d errors, want the one line:\n%v", len(errs), errs)
			}
			for _, d := range errs {
				if d.File != "t.toml" || d.Line < 1 || d.Column < 1 {
					t.Errorf("error without a position: %v", d)
				}
			}
		})
	}
}

// TestRunFiles runs test files through policies that pass, fail, name
// missing rules or do not load, and checks coverage is shared by files
// testing the same policy.
func TestRunFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	put := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	put("p.toml", "[rules.r1]\nallow = [['alice', 'doc', 'read'], ['bob', 'doc', 'read']]\ndeny = [['mallory', '*', '*']]\n")
	put("broken.toml", "[rules.r1]\nallow = [['alice', 'doc*', 'read*x']]\nbogus = 1\n")
	pass := put("pass_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'alice'\nresource = 'doc'\naction = 'read'\nallowed = true\nrule = 'rules.r1 allow[1]'\n")
	fail := put("fail_test.toml", "policy = 'p.toml'\n[[cases]]\nname = 'bob writes'\nsubject = 'bob'\nresource = 'doc'\naction = 'write'\nallowed = true\nrule = 'rules.r1'\neffect = 'allow'\nreason = 'bob'\n")
	missingRule := put("rule_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'bob'\nresource = 'doc'\naction = 'write'\nallowed = true\nrule = 'rules.r9'\n")
	missingItem := put("item_test.toml", "policy = 'p.toml'\n[[cases]]\nsubject = 'bob'\nresource = 'doc'\naction = 'write'\nallowed = true\nrule = 'rules.r1 deny[2]'\n")
	brokenPolicy := put("broken_test.toml", "policy = 'broken.toml'\n"+goodCase)
	noPolicy := put("none_test.toml", "policy = 'nope.toml'\n"+goodCase)
	badFile := put("bad_test.toml", "policy = 'p.toml'\n[[cases]]\nsubjec = 'a'\n")

	s := testfile.RunFiles([]string{pass, fail, missingRule, missingItem, brokenPolicy, noPolicy, badFile, filepath.Join(dir, "absent_test.toml")})
	failed, passed, broken := s.Failed()
	if failed != 1 || passed != 1 || broken != 6 {
		t.Errorf("failed %d passed %d broken %d, want 1 1 6", failed, passed, broken)
	}
	f := s.Files[1].Results[0]
	wantFailures := []string{
		"expected allowed, got denied",
		"expected rule rules.r1 to decide, got no rule matched",
		"expected effect allow, got none (no rule matched)",
		`expected the reason to contain "bob", got "no rule matched; the default mismatch decision is \"deny\""`,
	}
	if strings.Join(f.Failures, "\n") != strings.Join(wantFailures, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(f.Failures, "\n"), strings.Join(wantFailures, "\n"))
	}
	for i, want := range []string{
		2: `rule_test.toml:7:8: case "bob write doc": the policy ` + filepath.Join(dir, "p.toml") + ` has no rule "rules.r9"`,
		3: "item_test.toml:7:8: case \"bob write doc\": rule rules.r1 has no item deny[2]",
		4: "broken.toml:3:1: unknown key \"rules.r1.bogus\"",
		5: "nope.toml",
		6: `bad_test.toml:3:1: unknown key "subjec" in a case (did you mean "subject"?)`,
		7: "absent_test.toml",
	} {
		if i < 2 {
			continue
		}
		if err := s.Files[i].Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("file %d: err = %v, want %q", i, err, want)
		}
	}
	if len(s.Coverage) != 1 {
		t.Fatalf("%d policies covered, want 1", len(s.Coverage))
	}
	var un []string
	for _, r := range s.Coverage[0].Uncovered() {
		un = append(un, testfile.ItemName(r))
	}
	if strings.Join(un, ",") != "rules.r1 allow[2],rules.r1 deny[1]" {
		t.Errorf("uncovered %v", un)
	}
}

// TestZeroValues: the zero values and nil arguments of the runner fail
// closed (an error, or nothing covered), and never panic.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	var f testfile.File
	if res, err := f.Run(nil); err != nil || len(res) != 0 {
		t.Errorf("zero File ran: %v, %v", res, err)
	}
	f.Cases = []testfile.Case{{}}
	if _, err := f.Run(nil); !errors.Is(err, engine.ErrNoPolicy) {
		t.Errorf("a case under no policy: err = %v, want ErrNoPolicy", err)
	}
	p, errs := engine.Compile(&engine.Source{})
	if errs != nil {
		t.Fatal(errs)
	}
	if _, err := f.Run(p); !errors.Is(err, engine.ErrInvalidRequest) {
		t.Errorf("the zero Case: err = %v, want ErrInvalidRequest", err)
	}
	f.Cases = []testfile.Case{{Subject: "a", Action: "b", Rule: "rules.r1"}}
	if err := f.CheckRules(nil); err == nil || !strings.Contains(err.Error(), `no rule "rules.r1"`) {
		t.Errorf("CheckRules(nil) = %v, want the rule missing", err)
	}
	var c testfile.Coverage
	c.Add([]testfile.Result{{Explanation: engine.Explanation{Decision: engine.Decision{Rule: "rules.r1", Effect: engine.EffectAllow, Item: 1}}}})
	if un := c.Uncovered(); un != nil {
		t.Errorf("zero Coverage lists %v", un)
	}
	var s testfile.Suite
	if failed, passed, broken := s.Failed(); failed+passed+broken != 0 {
		t.Errorf("zero Suite counts %d %d %d", failed, passed, broken)
	}
}

// TestParseContext: a case's context keeps each value as the wire would
// give it, and now is a time.
func TestParseContext(t *testing.T) {
	t.Parallel()
	tf, errs := testfile.Parse("t.toml", []byte("policy = 'p.toml'\n"+goodCase+
		"context = { mfa = true, ip = '10.1.2.3', n = 1_000, amount = 2.5, tags = ['a', 'b'], at = 2026-01-02T03:04:05Z, inner = { x = 1 } }\nnow = 2026-03-04T10:00:00+01:00\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := tf.Cases[0]
	want := map[string]any{"mfa": true, "ip": "10.1.2.3", "n": json.Number("1000"), "amount": 2.5, "tags": []any{"a", "b"},
		"at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "inner": map[string]any{"x": json.Number("1")}}
	if diff := cmp.Diff(want, c.Context); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}
	if !c.Now.Equal(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("now %v", c.Now)
	}
}
