package template_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

type guardVector struct {
	Policy   [3]string `json:"policy"` // effect, scope, index pattern
	Template string    `json:"template"`
	Value    any       `json:"value"`
	Outcome  string    `json:"outcome"`
}

func loadGuardVectors(t *testing.T) []guardVector {
	t.Helper()
	data, err := os.ReadFile("../../testdata/conformance/toffi.json")
	if err != nil {
		t.Fatalf("reading conformance file: %v", err)
	}
	var c struct {
		Guard []guardVector `json:"guard"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("decoding conformance file: %v", err)
	}
	if len(c.Guard) == 0 {
		t.Fatal("conformance file has no guard vectors")
	}
	return c.Guard
}

// TestConformanceGuard checks the template half of toffi's guard vectors:
// the guarded call's argument is bound by name as {value} and is also a
// source in its own right (so {user.id} reads into it), which is how toffi's
// guard(ref=...) sees a call's arguments.
func TestConformanceGuard(t *testing.T) {
	t.Parallel()
	for _, v := range loadGuardVectors(t) {
		t.Run(v.Template+"~"+v.Outcome, func(t *testing.T) {
			t.Parallel()
			tp, err := template.Parse(v.Template)
			if err != nil {
				t.Fatalf("Parse(%q): %v", v.Template, err)
			}
			got, err := tp.Resolve(template.Values(map[string]any{"value": v.Value}), template.Value(v.Value))
			switch v.Outcome {
			case "ErrInvalidReference":
				if !errors.Is(err, template.ErrInvalidReference) || got != "" {
					t.Fatalf("Resolve(%q) with %v = %q, %v; want ErrInvalidReference", v.Template, v.Value, got, err)
				}
				return
			case "allowed", "ErrAccessDenied", "ErrUnauthorized":
				// These are decided after resolution; here the template
				// must resolve, to the policy's index exactly when allowed.
			default:
				t.Fatalf("unknown outcome %q", v.Outcome)
			}
			if err != nil {
				t.Fatalf("Resolve(%q) with %v: %v", v.Template, v.Value, err)
			}
			if got != "" {
				if err := pattern.CheckName(got); err != nil {
					t.Fatalf("Resolve(%q) = %q, not a name: %v", v.Template, got, err)
				}
			}
			index := pattern.MustParse(v.Policy[2])
			if v.Outcome == "allowed" && !index.Match(got) {
				t.Errorf("Resolve(%q) = %q, which the allowing index %q does not match", v.Template, got, v.Policy[2])
			}
			if v.Outcome == "ErrAccessDenied" && index.Match(got) {
				t.Errorf("Resolve(%q) = %q, which the index %q matches, yet the vector is denied", v.Template, got, v.Policy[2])
			}
		})
	}
}

// The vectors spelled out, so a change to the file cannot quietly drop one.
func TestConformanceGuardExplicit(t *testing.T) {
	t.Parallel()
	runResolve(t, []resolveCase{
		{"user:{value} with 12", "user:{value}", []template.Source{template.Values(map[string]any{"value": 12})}, "user:12", ""},
		{"user:{value} with \"12\"", "user:{value}", []template.Source{template.Values(map[string]any{"value": "12"})}, "user:12", ""},
		{"{user.id}", "{user.id}", []template.Source{template.Value(map[string]any{"user": map[string]any{"id": "12", "name": "Bob"}})}, "12", ""},
		{"user:{value} with 12:*", "user:{value}", []template.Source{template.Values(map[string]any{"value": "12:*"})}, "", "contains ':'"},
		{"user:{missing}", "user:{missing}", []template.Source{template.Values(map[string]any{"value": "12"})}, "", "{missing}: no source has a value"},
		{"empty template", "", nil, "", ""},
	})
}
