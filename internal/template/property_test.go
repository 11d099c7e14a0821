package template_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

// expect is the reference resolver: it splits a valid template at ':' and
// substitutes each placeholder's string form, and says whether the result
// is acceptable under SPEC 7.4 (each value one valid segment) and 1.2
// (limits). It shares nothing with the package but pattern.CheckName,
// which is the definition of a valid segment.
func expect(text string, form func(path string) string) (want string, ok bool) {
	if text == "" {
		return "", true
	}
	segs := strings.Split(text, ":")
	ok = true
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			continue
		}
		v := form(seg[1 : len(seg)-1])
		if v == "" || strings.Contains(v, ":") || pattern.CheckName(v) != nil {
			ok = false
		}
		segs[i] = v
	}
	want = strings.Join(segs, ":")
	if len(want) > pattern.MaxBytes {
		ok = false
	}
	return want, ok
}

// checkResolved asserts the property every Resolve result must have: it
// fails with ErrInvalidReference and no name exactly when the reference
// resolver rejects the values, and otherwise returns a valid name with the
// template's segment count, its literal segments in place and each
// placeholder's string form in its segment.
func checkResolved(t interface {
	Helper()
	Fatalf(string, ...any)
}, text string, form func(string) string, got string, err error) {
	t.Helper()
	want, ok := expect(text, form)
	if !ok {
		if err == nil || got != "" {
			t.Fatalf("Resolve(%q) = %q, %v; want ErrInvalidReference (reference resolver gives %q)", text, got, err, want)
		}
		if !errors.Is(err, template.ErrInvalidReference) {
			t.Fatalf("Resolve(%q) error %v does not wrap ErrInvalidReference", text, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Resolve(%q): %v; want %q", text, err, want)
	}
	if got != want {
		t.Fatalf("Resolve(%q) = %q, want %q", text, got, want)
	}
	if text == "" {
		return
	}
	if err := pattern.CheckName(got); err != nil {
		t.Fatalf("Resolve(%q) = %q, not a valid name: %v", text, got, err)
	}
	if g, w := strings.Count(got, ":"), strings.Count(text, ":"); g != w {
		t.Fatalf("Resolve(%q) = %q has %d segments, the template %d", text, got, g+1, w+1)
	}
}

// Generators are made afresh per use: a shared rapid.Generator races under
// -race (see internal/pattern/helpers_test.go).

func literalGen() *rapid.Generator[string] {
	return rapid.StringOfN(rapid.RuneFrom([]rune("abcXYZ019_-./@+=~#$%!éß名")), 1, 6, -1)
}

func pathGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		elems := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "id", "user", "_x9"}), 1, 3).Draw(t, "elems")
		return strings.Join(elems, ".")
	})
}

// valueGen draws a placeholder value: mostly valid, often hostile, with the
// hostile characters SPEC 7.4 names and some it implies.
func valueGen() *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		switch rapid.IntRange(0, 6).Draw(t, "kind") {
		case 0:
			return rapid.Int64().Draw(t, "int")
		case 1:
			return rapid.Uint64().Draw(t, "uint")
		case 2:
			return rapid.Bool().Draw(t, "bool")
		case 3:
			return hostileStringer(rapid.StringOfN(rapid.RuneFrom([]rune("ab1:*")), 0, 4, -1).Draw(t, "stringer"))
		case 4: // arbitrary bytes, including invalid UTF-8
			return string(rapid.SliceOfN(rapid.Byte(), 0, 6).Draw(t, "bytes"))
		case 5: // sometimes long enough to push the name over its limit
			return strings.Repeat("v", rapid.IntRange(1, 1100).Draw(t, "len"))
		}
		return stringGen().Draw(t, "string")
	})
}

func stringGen() *rapid.Generator[string] {
	return rapid.StringOfN(rapid.RuneFrom([]rune("ab1:*,{} \t\n\u200b\u00a0\ufffdé.-")), 0, 5, -1)
}

// form is a value's string form, computed independently of the package.
func form(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case hostileStringer:
		return string(v)
	}
	panic("unexpected value type")
}

func TestResolveProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "segments")
		segs := make([]string, n)
		values := map[string]any{}
		for i := range segs {
			if rapid.Bool().Draw(t, "placeholder") {
				path := pathGen().Draw(t, "path")
				if _, ok := values[path]; !ok {
					values[path] = valueGen().Draw(t, "value")
				}
				segs[i] = "{" + path + "}"
			} else {
				segs[i] = literalGen().Draw(t, "literal")
			}
		}
		text := strings.Join(segs, ":")
		tp, err := template.Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		lookup := func(path string) string { return form(values[path]) }
		got, err := tp.Resolve(template.Values(values))
		checkResolved(t, text, lookup, got, err)

		// The same values through a struct-shaped source must agree: the
		// reflective path and the map path are separate code.
		got2, err2 := tp.Resolve(template.Value(template.LookupFunc(func(p []string) (any, bool) {
			v, ok := values[strings.Join(p, ".")]
			return v, ok
		})))
		if got2 != got || (err == nil) != (err2 == nil) {
			t.Fatalf("Values and Lookuper disagree on %q: %q, %v vs %q, %v", text, got, err, got2, err2)
		}
	})
}

// A struct exercises the compiled plans; its fields are strings so that the
// reference resolver can read them back by name.
type propStruct struct {
	A    string `json:"a"`
	B    int64  `json:"b"`
	User *struct {
		ID   string `json:"id"`
		Flag bool   `json:"flag"`
	} `json:"user"`
}

func TestResolveStructProperty(t *testing.T) {
	t.Parallel()
	paths := []string{"a", "b", "user.id", "user.flag"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "segments")
		segs := make([]string, n)
		for i := range segs {
			if rapid.Bool().Draw(t, "placeholder") {
				segs[i] = "{" + rapid.SampledFrom(paths).Draw(t, "path") + "}"
			} else {
				segs[i] = literalGen().Draw(t, "literal")
			}
		}
		var s propStruct
		s.A = stringGen().Draw(t, "a")
		s.B = rapid.Int64().Draw(t, "b")
		s.User = &struct {
			ID   string `json:"id"`
			Flag bool   `json:"flag"`
		}{rapid.StringOfN(rapid.RuneFrom([]rune("x1:*{ \u200b")), 0, 3, -1).Draw(t, "id"), rapid.Bool().Draw(t, "flag")}
		text := strings.Join(segs, ":")
		got, err := template.MustParse(text).Resolve(template.Value(&s))
		checkResolved(t, text, func(p string) string {
			switch p {
			case "a":
				return s.A
			case "b":
				return strconv.FormatInt(s.B, 10)
			case "user.id":
				return s.User.ID
			}
			return strconv.FormatBool(s.User.Flag)
		}, got, err)
	})
}
