package template_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/warden-authz/warden/internal/template"
)

// TestZeroValues: the zero and nil values of the package's types resolve
// to an error or to the empty template, never panic and never resolve a
// placeholder from nothing.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	withX := template.MustParse("doc:{x}")
	var nilLookup template.LookupFunc
	if v, ok := nilLookup.Lookup([]string{"x"}); ok || v != nil {
		t.Errorf("a nil LookupFunc found %v", v)
	}
	sources := []struct {
		name string
		src  template.Source
	}{
		{"zero Source", template.Source{}},
		{"Value(nil)", template.Value(nil)},
		{"Values(nil)", template.Values(nil)},
		{"Request(nil)", template.Request(nil)},
		{"Request of a zero http.Request", template.Request(&http.Request{})},
		{"Value of a nil LookupFunc", template.Value(nilLookup)},
		{"Value of a nil map", template.Value(map[string]any(nil))},
		{"Value of a nil pointer", template.Value((*struct{ X string })(nil))},
	}
	for _, s := range sources {
		got, err := withX.Resolve(s.src)
		if !errors.Is(err, template.ErrInvalidReference) || got != "" {
			t.Errorf("%s: Resolve = %q, %v; want ErrInvalidReference", s.name, got, err)
		}
	}
	for name, tpl := range map[string]*template.Template{"nil *Template": nil, "zero Template": {}} {
		if got, err := tpl.Resolve(template.Value("ignored")); got != "" || err != nil {
			t.Errorf("%s: Resolve = %q, %v; want the empty template's \"\"", name, got, err)
		}
		if p := tpl.Placeholders(); len(p) != 0 {
			t.Errorf("%s: Placeholders = %q", name, p)
		}
		if s := tpl.String(); s != "" {
			t.Errorf("%s: String = %q", name, s)
		}
	}
	var nilErr *template.Error
	if !errors.Is(nilErr, template.ErrInvalidReference) || nilErr.Error() == "" {
		t.Errorf("a nil *Error is %q, not ErrInvalidReference", nilErr.Error())
	}
}
