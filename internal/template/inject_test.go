package template_test

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/template"
)

// hostileValues are values an attacker might put in a request field, each of
// which would widen, redirect or disguise the index if it were pasted in.
var hostileValues = []struct {
	name  string
	value string
}{
	{"widen with a rest wildcard", "1:*"},
	{"match-all", "*"},
	{"glob", "a*"},
	{"alternatives", "a,b"},
	{"add a segment", "a:b"},
	{"redirect upwards", "x:..:admin"},
	{"lone separator", ":"},
	{"trailing separator", "x:"},
	{"leading separator", ":x"},
	{"two wildcards", "*:*"},
	{"space", "a b"},
	{"newline", "\n"},
	{"carriage return line feed", "a\r\nb"},
	{"tab", "\t"},
	{"NUL", "a\x00"},
	{"DEL", "\x7f"},
	{"placeholder syntax", "{x}"},
	{"open brace", "{"},
	{"close brace", "}"},
	{"empty", ""},
	{"zero-width space", "a\u200bb"},
	{"no-break space", "\u00a0"},
	{"line separator", "a\u2028"},
	{"byte order mark", "\ufeffa"},
	{"Hangul filler", "\u3164"},
	{"replacement character", "\ufffd"},
	{"invalid UTF-8", "a\xffb"},
	{"truncated UTF-8", "a\xc3"},
	{"overlong encoding of ':'", "\xc0\xba"},
	{"2 KB", strings.Repeat("a", 2048)},
	{"just over the limit", strings.Repeat("b", 1025)},
}

type hostileStringer string

func (h hostileStringer) String() string { return string(h) }

type hostileText string

func (h hostileText) MarshalText() ([]byte, error) { return []byte(h), nil }

// TestInjectionImpossible tries every hostile value through every kind of
// source and several template shapes; each must be an ErrInvalidReference
// and never a name.
func TestInjectionImpossible(t *testing.T) {
	t.Parallel()
	templates := []string{"articles:{id}", "{id}", "a:{id}:b", "{x}:{id}"}
	for _, hv := range hostileValues {
		sources := map[string]template.Source{
			"Values":            template.Values(map[string]any{"id": hv.value, "x": "ok"}),
			"map[string]string": template.Value(map[string]string{"id": hv.value, "x": "ok"}),
			"map[string]any":    template.Value(map[string]any{"id": hv.value, "x": "ok"}),
			"struct": template.Value(&struct {
				ID string `json:"id"`
				X  string `json:"x"`
			}{hv.value, "ok"}),
			"named string field": template.Value(struct {
				ID named `json:"id"`
				X  named `json:"x"`
			}{named(hv.value), "ok"}),
			"Stringer":      template.Values(map[string]any{"id": hostileStringer(hv.value), "x": "ok"}),
			"TextMarshaler": template.Values(map[string]any{"id": hostileText(hv.value), "x": "ok"}),
			"Lookuper": template.Value(template.LookupFunc(func(p []string) (any, bool) {
				if p[0] == "id" {
					return hv.value, true
				}
				return "ok", true
			})),
			"query": template.Request(httptest.NewRequest("GET", "/?x=ok&id="+url.QueryEscape(hv.value), nil)),
		}
		for srcName, src := range sources {
			for _, tmpl := range templates {
				t.Run(hv.name+"/"+srcName+"/"+tmpl, func(t *testing.T) {
					t.Parallel()
					got, err := template.MustParse(tmpl).Resolve(src)
					if err == nil || got != "" {
						t.Fatalf("Resolve(%q) with id=%q = %q, %v; want ErrInvalidReference and no name", tmpl, label(hv.value), got, err)
					}
					if !errors.Is(err, template.ErrInvalidReference) {
						t.Fatalf("Resolve(%q) with id=%q: %v does not wrap ErrInvalidReference", tmpl, label(hv.value), err)
					}
					var e *template.Error
					if !errors.As(err, &e) || e.Placeholder != "id" {
						t.Fatalf("Resolve(%q) with id=%q: %v does not name the placeholder {id}", tmpl, label(hv.value), err)
					}
					if len(err.Error()) > 400 {
						t.Fatalf("error is %d bytes: the hostile value must be truncated", len(err.Error()))
					}
					if strings.ContainsAny(err.Error(), "\n\r\x00\u200b") {
						t.Fatalf("error %q carries a control or invisible character into logs", err)
					}
				})
			}
		}
	}
}

// The resolved name must stay within the limits even when every value is
// valid on its own.
func TestResolveLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", 600)
	runResolve(t, []resolveCase{
		{"two long values", "{a}:{b}", []template.Source{template.Values(map[string]any{"a": long, "b": long})}, "", "over the limit of 1024 bytes"},
		{"long literal and value", strings.Repeat("l", 1000) + ":{a}", []template.Source{template.Values(map[string]any{"a": strings.Repeat("v", 24)})}, "", "over the limit of 1024"},
		{"long value and literal", "{a}:" + strings.Repeat("l", 1000), []template.Source{template.Values(map[string]any{"a": strings.Repeat("v", 24)})}, "", "1025 bytes, over the limit of 1024"},
		{"exactly at the limit", "{a}:" + strings.Repeat("l", 1000), []template.Source{template.Values(map[string]any{"a": strings.Repeat("v", 23)})}, strings.Repeat("v", 23) + ":" + strings.Repeat("l", 1000), ""},
		{"a value at the limit alone", "{a}", []template.Source{template.Values(map[string]any{"a": strings.Repeat("v", 1024)})}, strings.Repeat("v", 1024), ""},
	})
}
