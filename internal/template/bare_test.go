package template_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/template"
)

// TestBareIsValuesOfValue: Bare(v) resolves every template exactly as
// Values(map[string]any{"value": v}) does, name or error, for hostile
// values and for templates that name "value", a path under it, or
// something else.
func TestBareIsValuesOfValue(t *testing.T) {
	t.Parallel()
	templates := []string{"{value}", "docs:{value}", "a:{value}:{value}", "{id}", "docs:{value.x}", "{value}:{other}", "x"}
	values := []any{"42", "", "1:*", "*", "a,b", "a b", "caf\u00e9", "\xff", 42, -7, uint8(9), true, 3.5, nil,
		stringer{"s1"}, stringer{"a:b"}, struct{ X string }{"x"}, map[string]any{"x": "y"}, []string{"a"}}
	for _, text := range templates {
		tmpl, err := template.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			got, gerr := tmpl.Resolve(template.Bare(v))
			want, werr := tmpl.Resolve(template.Values(map[string]any{"value": v}))
			if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Errorf("%q with %#v: Bare gives %q, %v; Values gives %q, %v", text, v, got, gerr, want, werr)
			}
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.OneOf(rapid.String().AsAny(), rapid.Int().AsAny(), rapid.Bool().AsAny()).Draw(t, "v")
		tmpl, err := template.Parse(rapid.SampledFrom(templates).Draw(t, "template"))
		if err != nil {
			t.Fatal(err)
		}
		got, gerr := tmpl.Resolve(template.Bare(v))
		want, werr := tmpl.Resolve(template.Values(map[string]any{"value": v}))
		if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("Bare gives %q, %v; Values gives %q, %v", got, gerr, want, werr)
		}
	})
}
