package template_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

type owner struct {
	ID   string `json:"id"`
	Name string
}

type Base struct {
	Tenant string `json:"tenant"`
	Kind   string `json:"kind"`
}

type audit struct {
	Region string `json:"region"`
}

type article struct {
	Base
	audit
	Category string         `json:"category"`
	ID       int64          `json:"id"`
	Slug     string         // untagged: named Slug
	Secret   string         `json:"-"`
	Dash     string         `json:"-,"` // named "-", which no placeholder can spell
	hidden   string         //nolint:unused // unexported: never visible
	Renamed  string         `json:"name,omitempty"`
	Owner    *owner         `json:"owner"`
	PP       **owner        `json:"pp"`
	Meta     map[string]any `json:"meta"`
	Any      any            `json:"any"`
	Kind     string         `json:"kind"` // shadows Base.kind: shallower wins
}

type withPtr struct {
	*Base
	ID int `json:"id"`
}

// Two embedded structs at one depth both named "id": json hides the name,
// unless exactly one of them is tagged.
type left struct{ ID string }
type right struct{ ID string }
type ambiguous struct {
	left
	right
}
type tagLeft struct {
	ID string `json:"ID"`
}
type resolvedTie struct {
	tagLeft
	right
}

// Value kinds.
type named string
type level int

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type ptrStringer struct{ s string }

func (s *ptrStringer) String() string { return s.s }

// both prefers MarshalText.
type both int

func (both) String() string               { return "from-String" }
func (both) MarshalText() ([]byte, error) { return []byte("from-MarshalText"), nil }

type badText struct{}

func (badText) MarshalText() ([]byte, error) { return nil, errors.New("cannot marshal") }

func sampleArticle() *article {
	o := &owner{ID: "u7", Name: "Bob"}
	return &article{
		Base:     Base{Tenant: "acme", Kind: "base-kind"},
		audit:    audit{Region: "eu"},
		Category: "animals",
		ID:       42,
		Slug:     "cats-rule",
		Secret:   "s3cret",
		Dash:     "dash",
		hidden:   "hidden",
		Renamed:  "renamed",
		Owner:    o,
		PP:       &o,
		Meta:     map[string]any{"lang": "en", "rev": 3, "nested": map[string]any{"x": "deep"}},
		Any:      &owner{ID: "any-id"},
		Kind:     "article-kind",
	}
}

type resolveCase struct {
	name    string
	tmpl    string
	sources []template.Source
	want    string
	err     string // substring of the error; "" means success
}

func runResolve(t *testing.T, cases []resolveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp := template.MustParse(tc.tmpl)
			got, err := tp.Resolve(tc.sources...)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Resolve(%q) error: %v", tc.tmpl, err)
				}
				if got != tc.want {
					t.Fatalf("Resolve(%q) = %q, want %q", tc.tmpl, got, tc.want)
				}
				if got != "" {
					if err := pattern.CheckName(got); err != nil {
						t.Fatalf("Resolve(%q) = %q, not a valid name: %v", tc.tmpl, got, err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%q) = %q, want an error containing %q", tc.tmpl, got, tc.err)
			}
			if got != "" {
				t.Errorf("Resolve(%q) returned %q along with its error", tc.tmpl, got)
			}
			if !errors.Is(err, template.ErrInvalidReference) {
				t.Errorf("Resolve(%q) error %v does not wrap ErrInvalidReference", tc.tmpl, err)
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q) error %q does not contain %q", tc.tmpl, err, tc.err)
			}
		})
	}
}

// untagged is a struct as a handler might declare it, without json tags.
type untagged struct {
	Category string
	ID       int
}

// TestMissingHintTaggedField: a field read by its json tag is not
// suggested a tag when the placeholder differs from it in case only.
func TestMissingHintTaggedField(t *testing.T) {
	t.Parallel()
	_, err := template.MustParse("{Category}").Resolve(template.Value(sampleArticle()))
	if err == nil || !strings.Contains(err.Error(), `has no field "Category"`) || strings.Contains(err.Error(), "goes by its Go name") {
		t.Errorf("error %v", err)
	}
}

func TestResolveStruct(t *testing.T) {
	t.Parallel()
	a := sampleArticle()
	v := template.Value(a)
	nilOwner := sampleArticle()
	nilOwner.Owner = nil
	nilPP := sampleArticle()
	nilPP.PP = new(*owner)
	var nilArticle *article
	runResolve(t, []resolveCase{
		{"json tags", "articles:{category}:{id}", []template.Source{v}, "articles:animals:42", ""},
		{"struct by value", "articles:{category}:{id}", []template.Source{template.Value(*a)}, "articles:animals:42", ""},
		{"pointer to pointer", "{id}", []template.Source{template.Value(&a)}, "42", ""},
		{"untagged field by its name", "{Slug}", []template.Source{v}, "cats-rule", ""},
		{"names are case-sensitive", "{slug}", []template.Source{v}, "", "no source has a value"},
		{"tagged field hides its Go name", "{Category}", []template.Source{v}, "", "no source has a value"},
		{"tag options ignored", "{name}", []template.Source{v}, "renamed", ""},
		{"json:\"-\" hidden", "{Secret}", []template.Source{v}, "", "no source has a value"},
		{"json:\"-,\" is named -", "{Dash}", []template.Source{v}, "", "no source has a value"},
		{"unexported hidden", "{hidden}", []template.Source{v}, "", "no source has a value"},
		{"embedded promoted", "{tenant}", []template.Source{v}, "acme", ""},
		{"embedded type name is not a path", "{Base.tenant}", []template.Source{v}, "", "no source has a value"},
		{"unexported embedded promoted", "{region}", []template.Source{v}, "eu", ""},
		{"shallower field wins", "{kind}", []template.Source{v}, "article-kind", ""},
		{"nested pointer", "{owner.id}", []template.Source{v}, "u7", ""},
		{"nested untagged", "{owner.Name}", []template.Source{v}, "Bob", ""},
		{"double pointer", "{pp.id}", []template.Source{v}, "u7", ""},
		{"nil nested pointer", "{owner.id}", []template.Source{template.Value(nilOwner)}, "", "nil *template_test.owner"},
		{"nil inner pointer", "{pp.id}", []template.Source{template.Value(nilPP)}, "", "nil *template_test.owner"},
		{"nil root pointer", "{id}", []template.Source{template.Value(nilArticle)}, "", "nil *template_test.article"},
		{"map field", "{meta.lang}:{meta.rev}", []template.Source{v}, "en:3", ""},
		{"map in map field", "{meta.nested.x}", []template.Source{v}, "deep", ""},
		{"map field missing key", "{meta.nope}", []template.Source{v}, "", "no source has a value"},
		{"interface field", "{any.id}", []template.Source{v}, "any-id", ""},
		{"path into a string", "{category.x}", []template.Source{v}, "", "no source has a value"},
		{"struct leaf", "{owner}", []template.Source{v}, "", "type template_test.owner is not a string"},
		{"map leaf", "{meta}", []template.Source{v}, "", "type map[string]interface {} is not"},
		{"embedded pointer", "{tenant}:{id}", []template.Source{template.Value(withPtr{Base: &Base{Tenant: "t"}, ID: 1})}, "t:1", ""},
		{"nil embedded pointer", "{tenant}", []template.Source{template.Value(withPtr{ID: 1})}, "", "nil *template_test.Base"},
		{"ambiguous embedded name hidden", "{ID}", []template.Source{template.Value(ambiguous{left{"l"}, right{"r"}})}, "", "no source has a value"},
		{"tagged embedded name wins a tie", "{ID}", []template.Source{template.Value(resolvedTie{tagLeft{"l"}, right{"r"}})}, "l", ""},
		{"a struct without json tags says what is looked up", "articles:{category}:{id}", []template.Source{template.Value(untagged{"animals", 42})},
			"", `{category}: no source has a value for it; struct template_test.untagged has no field "category": fields are looked up by their json names, which are "Category", "ID" (a field without a json tag goes by its Go name: tag Category ` + "`json:\"category\"`" + ` to read it as {category})`},
		{"a pointer to it too", "{id}", []template.Source{template.Value(&untagged{})}, "", `has no field "id": fields are looked up by their json names, which are "Category", "ID" (a field without a json tag goes by its Go name: tag ID`},
		{"the level where the path left the struct", "{owner.nick}", []template.Source{v}, "", `struct template_test.owner has no field "nick": fields are looked up by their json names, which are "Name", "id"`},
		{"every struct source is described", "{category}", []template.Source{template.Values(nil), template.Value(untagged{}), template.Value(owner{})}, "", `struct template_test.untagged has no field "category"` + `: fields are looked up by their json names, which are "Category", "ID" (a field without a json tag goes by its Go name: tag Category ` + "`json:\"category\"`" + ` to read it as {category}); struct template_test.owner has no field "category"`},
		{"no exported field", "{x}", []template.Source{template.Value(struct{ x int }{})}, "", "which are none (no exported field)"},
		{"anonymous struct", "{a}:{b}", []template.Source{template.Value(struct {
			A string `json:"a"`
			B uint8  `json:"b"`
		}{"x", 9})}, "x:9", ""},
	})
}

// The same template reads structs of different types, each through its own
// cached plan, concurrently.
func TestResolveManyTypesConcurrently(t *testing.T) {
	t.Parallel()
	tp := template.MustParse("t:{id}")
	type one struct {
		ID string `json:"id"`
	}
	type two struct {
		Pad int
		ID  int `json:"id"`
	}
	type three struct {
		X  map[string]string
		ID *string `json:"id"`
	}
	s := "three"
	inputs := []struct {
		v    any
		want string
	}{{one{"one"}, "t:one"}, {&two{ID: 2}, "t:2"}, {three{ID: &s}, "t:three"}, {map[string]any{"id": true}, "t:true"}}
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			for range 200 {
				for _, in := range inputs {
					got, err := tp.Resolve(template.Value(in.v))
					if err != nil || got != in.want {
						t.Fatalf("Resolve(%T) = %q, %v; want %q", in.v, got, err, in.want)
					}
				}
			}
		})
	}
}

type key string

func TestResolveMaps(t *testing.T) {
	t.Parallel()
	runResolve(t, []resolveCase{
		{"map[string]string", "u:{id}", []template.Source{template.Value(map[string]string{"id": "7"})}, "u:7", ""},
		{"map[string]string no nesting", "u:{id.x}", []template.Source{template.Value(map[string]string{"id": "7"})}, "", "no source has a value"},
		{"map[string]int", "u:{id}", []template.Source{template.Value(map[string]int{"id": -7})}, "u:-7", ""},
		{"map[string]*owner", "u:{a.id}", []template.Source{template.Value(map[string]*owner{"a": {ID: "o"}})}, "u:o", ""},
		{"map[string]*owner nil", "u:{a.id}", []template.Source{template.Value(map[string]*owner{"a": nil})}, "", "nil *template_test.owner"},
		{"map[string]owner", "u:{a.Name}", []template.Source{template.Value(map[string]owner{"a": {Name: "n"}})}, "u:n", ""},
		{"named key type", "u:{id}", []template.Source{template.Value(map[key]string{"id": "k"})}, "u:k", ""},
		{"non-string keys", "u:{id}", []template.Source{template.Value(map[int]string{1: "x"})}, "", "no source has a value"},
		{"map[string]any nested", "{user.id}", []template.Source{template.Value(map[string]any{"user": map[string]any{"id": "12"}})}, "12", ""},
		{"map[string]any into struct", "{user.id}", []template.Source{template.Value(map[string]any{"user": owner{ID: "s"}})}, "s", ""},
		{"map[string]any into map[string]string", "{user.id}", []template.Source{template.Value(map[string]any{"user": map[string]string{"id": "ms"}})}, "ms", ""},
		{"map[string]any missing nested", "{user.id}", []template.Source{template.Value(map[string]any{"user": map[string]any{}})}, "", "no source has a value"},
		{"map[string]any nil value", "{id}", []template.Source{template.Value(map[string]any{"id": nil})}, "", "value is nil"},
		{"map[string]any nil map on the way", "{user.id}", []template.Source{template.Value(map[string]any{"user": (*owner)(nil)})}, "", "nil *template_test.owner"},
		{"map[string]any untyped nil on the way", "{user.id}", []template.Source{template.Value(map[string]any{"user": nil})}, "", "nil on the way"},
		{"pointer to map", "{id}", []template.Source{template.Value(&map[string]string{"id": "p"})}, "p", ""},
		{"nil map", "{id}", []template.Source{template.Value(map[string]string(nil))}, "", "no source has a value"},
		{"untyped nil", "{id}", []template.Source{template.Value(nil)}, "", "no source has a value"},
		{"scalar source has nothing", "{id}", []template.Source{template.Value(12)}, "", "no source has a value"},
		{"zero Source has nothing", "{id}", []template.Source{{}}, "", "no source has a value"},
		{"no sources", "{id}", nil, "", "no source has a value"},
	})
}

func TestResolveValues(t *testing.T) {
	t.Parallel()
	runResolve(t, []resolveCase{
		{"named value", "user:{value}", []template.Source{template.Values(map[string]any{"value": 12})}, "user:12", ""},
		{"dotted key", "{user.id}", []template.Source{template.Values(map[string]any{"user.id": "d"})}, "d", ""},
		{"walks into value", "{user.id}", []template.Source{template.Values(map[string]any{"user": &owner{ID: "w"}})}, "w", ""},
		{"dotted key wins over walking", "{user.id}", []template.Source{template.Values(map[string]any{"user.id": "dotted", "user": &owner{ID: "walked"}})}, "dotted", ""},
		{"missing", "user:{missing}", []template.Source{template.Values(map[string]any{"value": "12"})}, "", "{missing}: no source has a value"},
		{"nil map", "{x}", []template.Source{template.Values(nil)}, "", "no source has a value"},
		{"Value of a Source is that Source", "{user.id}", []template.Source{template.Value(template.Values(map[string]any{"user.id": "s"}))}, "s", ""},
	})
}

func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	named := template.Values(map[string]any{"id": "named"})
	a := template.Value(&article{ID: 2, Category: "c"})
	runResolve(t, []resolveCase{
		{"first source wins", "{id}", []template.Source{named, a}, "named", ""},
		{"order matters", "{id}", []template.Source{a, named}, "2", ""},
		{"per placeholder", "{category}:{id}", []template.Source{named, a}, "c:named", ""},
		{"falls through when absent", "{x}", []template.Source{a, template.Values(map[string]any{"x": "y"})}, "y", ""},
		{"a bad value does not fall through", "{id}", []template.Source{template.Values(map[string]any{"id": "1:*"}), named}, "", "contains ':'"},
		{"a nil value does not fall through", "{id}", []template.Source{template.Values(map[string]any{"id": nil}), named}, "", "value is nil"},
		{"a nil pointer does not fall through", "{owner.id}", []template.Source{a, template.Values(map[string]any{"owner.id": "x"})}, "", "nil *template_test.owner"},
		{"many sources", "{e}", []template.Source{{}, {}, {}, {}, {}, template.Value(map[string]string{"e": "fifth"})}, "fifth", ""},
		{"many sources, reflective ones past the fourth", "{id}:{category}", []template.Source{{}, {}, {}, {}, {}, a}, "2:c", ""},
	})
}

func TestResolveKinds(t *testing.T) {
	t.Parallel()
	i := 5
	var nilInt *int
	var nilStringer *ptrStringer
	var nilAny any
	addr := netip.MustParseAddr("10.0.0.1")
	v := func(x any) []template.Source { return []template.Source{template.Values(map[string]any{"v": x})} }
	s := func(x any) []template.Source { // the same value reached by reflection
		return []template.Source{template.Value(struct {
			V any `json:"v"`
		}{x})}
	}
	cases := []struct {
		name string
		x    any
		want string
		err  string
	}{
		{"string", "abc", "abc", ""},
		{"named string", named("n"), "n", ""},
		{"int", -1, "-1", ""},
		{"int8", int8(math.MinInt8), "-128", ""},
		{"int16", int16(math.MaxInt16), "32767", ""},
		{"int32", int32(-3), "-3", ""},
		{"int64", int64(math.MinInt64), "-9223372036854775808", ""},
		{"uint", uint(1), "1", ""},
		{"uint8", uint8(255), "255", ""},
		{"uint16", uint16(2), "2", ""},
		{"uint32", uint32(3), "3", ""},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615", ""},
		{"uintptr", uintptr(4), "4", ""},
		{"named int", level(3), "3", ""},
		{"bool", true, "true", ""},
		{"false", false, "false", ""},
		{"pointer to int", &i, "5", ""},
		{"Stringer", stringer{"st"}, "st", ""},
		{"pointer Stringer", &ptrStringer{"ps"}, "ps", ""},
		{"TextMarshaler", addr, "10.0.0.1", ""},
		{"TextMarshaler over Stringer", both(1), "from-MarshalText", ""},
		{"TextMarshaler failing", badText{}, "", "MarshalText failed: cannot marshal"},
		{"Stringer giving a bad segment", stringer{"a:b"}, "", "contains ':'"},
		{"Stringer giving empty", stringer{""}, "", "value is empty"},
		{"nil", nil, "", "nil"},
		{"nil pointer", nilInt, "", "nil *int"},
		{"nil pointer Stringer", nilStringer, "", "nil *template_test.ptrStringer"},
		{"nil interface", &nilAny, "", "nil interface {}"},
		{"float64", 1.5, "", "type float64 is not a string, integer, bool"},
		{"float32", float32(1), "", "type float32 is not"},
		{"complex", complex(1, 2), "", "type complex128 is not"},
		{"struct", owner{}, "", "type template_test.owner is not"},
		{"slice", []string{"a"}, "", "type []string is not"},
		{"bytes", []byte("a"), "", "type []uint8 is not"},
		{"map", map[string]int{}, "", "type map[string]int is not"},
		{"func", func() {}, "", "type func() is not"},
	}
	var rc []resolveCase
	for _, tc := range cases {
		rc = append(rc,
			resolveCase{tc.name + "/values", "k:{v}", v(tc.x), "k:" + tc.want, tc.err},
			resolveCase{tc.name + "/struct", "k:{v}", s(tc.x), "k:" + tc.want, tc.err})
	}
	// Typed fields, not values behind an interface, take the plan's
	// precomputed path.
	rc = append(rc,
		resolveCase{"typed fields", "{a}:{b}:{c}:{d}:{e}:{f}:{g}", []template.Source{template.Value(&struct {
			A int8         `json:"a"`
			B uint16       `json:"b"`
			C bool         `json:"c"`
			D named        `json:"d"`
			E stringer     `json:"e"`
			F *ptrStringer `json:"f"`
			G netip.Addr   `json:"g"`
		}{-8, 16, true, "d", stringer{"e"}, &ptrStringer{"f"}, addr})}, "-8:16:true:d:e:f:10.0.0.1", ""},
		resolveCase{"typed float field", "{f}", []template.Source{template.Value(struct {
			F float64 `json:"f"`
		}{1})}, "", "type float64 is not"},
		resolveCase{"typed nil Stringer field", "{f}", []template.Source{template.Value(struct {
			F *ptrStringer `json:"f"`
		}{})}, "", "nil *template_test.ptrStringer"},
	)
	runResolve(t, rc)
}

type selfPtr *selfPtr

// Self-referential types and values end in an error, not a hang.
func TestResolveSelfReference(t *testing.T) {
	t.Parallel()
	var p selfPtr
	p = &p
	var a any
	a = &a
	type node struct {
		Next any `json:"next"`
	}
	n := &node{}
	n.Next = n
	runResolve(t, []resolveCase{
		{"type P *P", "{id}", []template.Source{template.Value(p)}, "", "no source has a value"},
		{"a = &a", "{id}", []template.Source{template.Values(map[string]any{"id": a})}, "", "more than 32 pointers or interfaces"},
		{"a = &a on the way", "{id.x}", []template.Source{template.Values(map[string]any{"id": a})}, "", "more than 32 pointers or interfaces"},
		{"cyclic struct, finite path", "{next.next.next.next}", []template.Source{template.Value(n)}, "", "type template_test.node is not"},
	})
}

func TestResolveLookuper(t *testing.T) {
	t.Parallel()
	var seen [][]string
	f := template.LookupFunc(func(path []string) (any, bool) {
		seen = append(seen, slices.Clone(path))
		switch strings.Join(path, ".") {
		case "user.id":
			return 12, true
		case "bad":
			return "a b", true
		case "nil":
			return nil, true
		}
		return nil, false
	})
	tp := template.MustParse("u:{user.id}")
	got, err := tp.Resolve(template.Value(f))
	if err != nil || got != "u:12" {
		t.Fatalf("Resolve = %q, %v; want u:12", got, err)
	}
	if len(seen) != 1 || !slices.Equal(seen[0], []string{"user", "id"}) {
		t.Fatalf("Lookup saw %q, want [[user id]]", seen)
	}
	runResolve(t, []resolveCase{
		{"bad value", "{bad}", []template.Source{template.Value(f)}, "", "value is not a valid segment"},
		{"nil value", "{nil}", []template.Source{template.Value(f)}, "", "value is nil"},
		{"absent falls through", "{x}", []template.Source{template.Value(f), template.Values(map[string]any{"x": 1})}, "1", ""},
	})
}

func TestResolveErrorDetails(t *testing.T) {
	t.Parallel()
	tp := template.MustParse("articles:{category}:{id}")
	_, err := tp.Resolve(template.Values(map[string]any{"category": "a", "id": "1 2"}))
	var e *template.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *template.Error", err)
	}
	if e.Template != "articles:{category}:{id}" || e.Placeholder != "id" {
		t.Errorf("Error = %+v, want template and placeholder id", e)
	}
	if !errors.Is(err, pattern.ErrInvalidName) {
		t.Errorf("error %v does not wrap the name rule it broke", err)
	}
	want := `invalid reference: template "articles:{category}:{id}": {id}: value is not a valid segment: invalid name: "1 2": space at byte 1`
	if err.Error() != want {
		t.Errorf("error text\n got %s\nwant %s", err, want)
	}
}

func TestResolveRequest(t *testing.T) {
	t.Parallel()
	// A real mux fills the path values and the pattern, as in production.
	serve := func(route, target string) *http.Request {
		var got *http.Request
		mux := http.NewServeMux()
		mux.HandleFunc(route, func(_ http.ResponseWriter, r *http.Request) { got = r })
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
		if got == nil {
			t.Fatalf("route %q did not match %q", route, target)
		}
		return got
	}
	withValue := httptest.NewRequest(http.MethodGet, "/?id=q", nil)
	withValue.SetPathValue("id", "set")
	runResolve(t, []resolveCase{
		{"path value", "articles:{cat}:{id}", []template.Source{template.Request(serve("GET /a/{cat}/{id}", "/a/pets/42"))}, "articles:pets:42", ""},
		{"path wins over query", "{id}", []template.Source{template.Request(serve("GET /a/{id}", "/a/42?id=7"))}, "42", ""},
		{"query", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=7&x=1"))}, "7", ""},
		{"query unescaped", "{id}", []template.Source{template.Request(serve("GET /a", "/a?i%64=a%2Fb+c"))}, "", "space"},
		{"query escaped slash", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=a%2Fb"))}, "a/b", ""},
		{"query escaped colon is still a colon", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=1%3A%2A"))}, "", "contains ':'"},
		{"query given twice", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=1&id=1"))}, "", "given 2 times"},
		{"query without value", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id"))}, "", "value is empty"},
		{"query with semicolon dropped", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=1;x=2"))}, "", "no source has a value"},
		{"query badly escaped dropped", "{id}", []template.Source{template.Request(serve("GET /a", "/a?id=%zz"))}, "", "no source has a value"},
		{"declared wildcard matched empty never reads the query", "{rest}", []template.Source{template.Request(serve("GET /f/{rest...}", "/f/?rest=admin"))}, "", "value is empty"},
		{"rest wildcard", "f:{rest}", []template.Source{template.Request(serve("GET /f/{rest...}", "/f/a/b"))}, "f:a/b", ""},
		{"SetPathValue", "{id}", []template.Source{template.Request(withValue)}, "set", ""},
		{"dotted paths are not in a request", "{a.b}", []template.Source{template.Request(serve("GET /a", "/a?a.b=1"))}, "", "no source has a value"},
		{"Value of a request is the request, not its fields", "{Method}", []template.Source{template.Value(serve("GET /a", "/a"))}, "", "no source has a value"},
		{"Value of a request reads its path", "{id}", []template.Source{template.Value(serve("GET /a/{id}", "/a/9"))}, "9", ""},
		{"nil request", "{id}", []template.Source{template.Request(nil)}, "", "no source has a value"},
		{"request without URL", "{id}", []template.Source{template.Request(&http.Request{})}, "", "no source has a value"},
	})
}
