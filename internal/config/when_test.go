package config_test

import (
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
)

// load parses and compiles, as loading a policy does, and returns every
// problem as file:line:col: message.
func load(t *testing.T, text string) (*engine.Source, []string) {
	t.Helper()
	src, errs := config.Parse(file, []byte(text))
	_, cerrs := engine.Compile(src)
	errs = append(errs, cerrs...)
	errs.Sort()
	var out []string
	for _, d := range errs {
		out = append(out, d.String())
	}
	return src, out
}

// TestConditionPositions: an error in a condition points into the
// expression where it was written, through escapes and multi-line
// strings (SPEC 6.2, 12.3).
func TestConditionPositions(t *testing.T) {
	t.Parallel()
	head := "[context]\nmfa = 'bool'\n\n[rules.r]\nallow = [['a', 'b', 'c']]\n"
	for _, tc := range []struct {
		name, when, want string
	}{
		{"literal", `when = 'context.mfa && context.nope'`, "policy.toml:6:31: rules.r: when: undefined field 'nope'"},
		{"basic", `when = "context.mfa && context.nope"`, "policy.toml:6:31: rules.r: when: undefined field 'nope'"},
		{"escape before", `when = "\"x\" == \"x\" && context.nope"`, "policy.toml:6:34: rules.r: when: undefined field 'nope'"},
		{"unicode escape", `when = "'\u00e9' == 'é' && context.nope"`, "policy.toml:6:36: rules.r: when: undefined field 'nope'"},
		{"multi-line literal", "when = '''\ncontext.mfa &&\n  context.nope'''", "policy.toml:8:10: rules.r: when: undefined field 'nope'"},
		{"multi-line basic", "when = \"\"\"\ncontext.mfa && \\\n  context.nope\"\"\"", "policy.toml:8:10: rules.r: when: undefined field 'nope'"},
		{"syntax", `when = 'context.mfa &&'`, "policy.toml:6:23: rules.r: when: Syntax error"},
		{"not a bool", `when = 'context.mfa ? 1 : 2'`, "policy.toml:6:9: rules.r: when: the condition is of type int; it must be a bool"},
		{"not a string", `when = true`, "policy.toml:6:8: rules.r.when must be a string"},
		{"bad CIDR", `when = 'ip("10.0.0.1").in_cidr("10.0.0.0/40")'`, `policy.toml:6:32: rules.r: when: in_cidr: "10.0.0.0/40" is not a CIDR range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := load(t, head+tc.when+"\n")
			if len(errs) != 1 || !strings.HasPrefix(errs[0], tc.want) {
				t.Fatalf("got %q, want one error starting %q", errs, tc.want)
			}
		})
	}
}

// TestContextTable: [context] declares typed attributes; bad names and
// types, and a bad cost limit, are errors where they were written.
func TestContextTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"every type", "[context]\na = 'string'\nb = 'int'\nc = 'double'\nd = 'bool'\ne = 'timestamp'\nf = 'duration'\ng = 'ip'\nh = 'list<string>'\n", nil},
		{"unknown type", "[context]\nmfa = 'boolean'\n", []string{`policy.toml:2:7: context.mfa: unknown type "boolean"; expected one of string, int, double, bool, timestamp, duration, ip, list<string>`}},
		{"not a string", "[context]\nmfa = true\n", []string{"policy.toml:2:7: context.mfa must be a type name"}},
		{"not an identifier", "[context]\n'user-agent' = 'string'\n", []string{`policy.toml:2:16: context: attribute name "user-agent" is not an identifier`}},
		{"reserved word", "[context]\nin = 'string'\n", []string{`policy.toml:2:6: context: attribute name "in" is a reserved word`}},
		{"not a table", "context = 'x'\n", []string{"policy.toml:1:11: context must be a table"}},
		{"cost limit", "[rule_policy]\ncondition_cost_limit = 0\n", []string{"policy.toml:2:24: rule_policy.condition_cost_limit must be a positive integer"}},
		{"cost limit type", "[rule_policy]\ncondition_cost_limit = '10'\n", []string{"policy.toml:2:24: rule_policy.condition_cost_limit must be a positive integer"}},
		{"cost limit ok", "[rule_policy]\ncondition_cost_limit = 1_000\n", nil},
		{"typo in a rule key", "[rules.r]\nwhen = 'true'\nwhne = 'x'\nallow = [['a','b','c']]\n", []string{`policy.toml:3:1: unknown key "rules.r.whne" (did you mean "when"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := load(t, tc.text)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %q, want %q", errs, tc.want)
			}
			for i := range errs {
				if !strings.HasPrefix(errs[i], tc.want[i]) {
					t.Errorf("got %q, want it to start %q", errs[i], tc.want[i])
				}
			}
		})
	}
}

// TestWhenCoversTheBlock: a block's condition holds for each of its items
// wherever when was written, and for the grants of a dynamic block.
func TestWhenCoversTheBlock(t *testing.T) {
	t.Parallel()
	src, errs := load(t, "[rules.a]\nallow = [['x','y','z']]\nwhen = 'true'\ndeny = [['x','y','w']]\n\n[rules.b]\nallow = [['x','y','v']]\n\n[rules.c]\ndynamic = true\nwhen = 'subject == \"x\"'\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(src.Rules) != 3 || src.Rules[0].When == nil || src.Rules[1].When != src.Rules[0].When || src.Rules[2].When != nil {
		t.Fatalf("conditions of the items: %+v", src.Rules)
	}
	if len(src.Dynamic) != 1 || src.Dynamic[0].When == nil || src.Dynamic[0].When.Text != `subject == "x"` {
		t.Fatalf("dynamic blocks: %+v", src.Dynamic)
	}
}
