package template_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

func seedTemplates() []string {
	var seeds []string
	for _, tc := range validTemplates {
		seeds = append(seeds, tc.text)
	}
	for _, tc := range invalidTemplates {
		seeds = append(seeds, tc.text)
	}
	return append(seeds, "articles:{category}:{id}", "{a}:{a.b}:{a.b.c}", "a:{b}:c:{d}:e")
}

var placeholderPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func FuzzParse(f *testing.F) {
	for _, s := range seedTemplates() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tp, err := template.Parse(text)
		if err != nil {
			if !errors.Is(err, template.ErrInvalidTemplate) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidTemplate", text, err)
			}
			if msg := err.Error(); !strings.Contains(msg, " at byte ") || len(msg) > 300 {
				t.Fatalf("Parse(%q) error %q names no offset or is too long", text, msg)
			}
			if pattern.CheckName(text) == nil {
				t.Fatalf("Parse(%q) rejects a valid name: %v", text, err)
			}
			return
		}
		if tp.String() != text {
			t.Fatalf("Parse(%q).String() = %q", text, tp.String())
		}
		if len(text) > pattern.MaxBytes || strings.Count(text, ":") >= pattern.MaxSegments {
			t.Fatalf("Parse(%q) accepted a template over the limits", text)
		}
		if strings.ContainsAny(text, "*,") {
			t.Fatalf("Parse(%q) accepted a pattern character", text)
		}
		// Every segment is a valid literal or exactly one placeholder.
		var holes []string
		if text != "" {
			for _, seg := range strings.Split(text, ":") {
				if strings.HasPrefix(seg, "{") {
					if !strings.HasSuffix(seg, "}") || !placeholderPath.MatchString(seg[1:len(seg)-1]) {
						t.Fatalf("Parse(%q) accepted the segment %q", text, seg)
					}
					holes = append(holes, seg[1:len(seg)-1])
				} else if err := pattern.CheckName(seg); err != nil {
					t.Fatalf("Parse(%q) accepted the literal %q: %v", text, seg, err)
				}
			}
		}
		got := tp.Placeholders()
		if len(got) != len(holes) {
			t.Fatalf("Parse(%q).Placeholders() = %q, want %q", text, got, holes)
		}
		for i := range holes {
			if got[i] != holes[i] {
				t.Fatalf("Parse(%q).Placeholders() = %q, want %q", text, got, holes)
			}
		}
		// Filling every placeholder with a valid value always works, and
		// the result has the template's shape.
		vals := map[string]any{}
		for i, h := range holes {
			vals[h] = "v" + strconv.Itoa(i%3)
		}
		name, err := tp.Resolve(template.Values(vals))
		checkResolved(t, text, func(p string) string { return vals[p].(string) }, name, err)
		if err != nil {
			t.Fatalf("Resolve(%q) with valid values: %v", text, err)
		}
	})
}

type anyMap map[string]any

func FuzzResolve(f *testing.F) {
	for _, s := range seedTemplates() {
		for _, hv := range hostileValues {
			f.Add(s, hv.value, int64(-1))
		}
		f.Add(s, "ok", int64(42))
	}
	f.Fuzz(func(t *testing.T, text, value string, n int64) {
		tp, err := template.Parse(text)
		if err != nil {
			return
		}
		// Alternate the fuzzed string and integer between placeholders, so
		// that both kinds and their mixtures are tried.
		vals := map[string]any{}
		forms := map[string]string{}
		for i, h := range tp.Placeholders() {
			if _, ok := vals[h]; ok {
				continue
			}
			if i%2 == 0 {
				vals[h], forms[h] = value, value
			} else {
				vals[h], forms[h] = n, strconv.FormatInt(n, 10)
			}
		}
		form := func(p string) string { return forms[p] }
		got, err := tp.Resolve(template.Values(vals))
		checkResolved(t, text, form, got, err)

		// The reflective route: a named map type is read by reflection,
		// with each value behind an interface; dotted paths it cannot reach
		// fall through to the explicit values.
		got2, err2 := tp.Resolve(template.Value(anyMap(vals)), template.Values(vals))
		if got2 != got || (err == nil) != (err2 == nil) {
			t.Fatalf("Resolve(%q) through a struct = %q, %v; through Values = %q, %v", text, got2, err2, got, err)
		}
	})
}
