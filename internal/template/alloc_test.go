package template_test

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/warden-authz/warden/internal/template"
)

// The allocation tests are the only ones that do not call t.Parallel:
// testing.AllocsPerRun reads process-wide counters and panics when called
// from a parallel test. Top-level sequential tests run before any paused
// parallel test resumes, so the counts are not polluted by other tests.

// TestResolveAllocations holds Resolve to its budget: the result string and
// nothing else, because the guard check it feeds must stay within 2
// allocations in all.
func TestResolveAllocations(t *testing.T) {
	req := newBenchRequest()
	named := map[string]any{"category": "animals", "id": 42, "owner.id": "u-1001"}
	jsonLike := map[string]any{"category": "animals", "id": "42", "owner": map[string]any{"id": "u-1001"}}
	r := httptest.NewRequest("GET", "/?category=animals&id=42&owner=u", nil)
	type tp = *template.Template
	// Each case builds its sources inside the measured call, as a guard
	// does on every call.
	cases := []struct {
		name    string
		tmpl    string
		resolve func(tp) (string, error)
		want    float64
	}{
		{"struct", benchTemplate, func(t tp) (string, error) { return t.Resolve(template.Value(req)) }, 1},
		// Boxing a struct (not a pointer) into an any copies it: that
		// allocation is the caller's, made where it calls Value.
		{"struct by value", benchTemplate, func(t tp) (string, error) { return t.Resolve(template.Value(*req)) }, 2},
		{"explicit values", benchTemplate, func(t tp) (string, error) { return t.Resolve(template.Values(named)) }, 1},
		{"decoded JSON", benchTemplate, func(t tp) (string, error) { return t.Resolve(template.Value(jsonLike)) }, 1},
		{"two sources", benchTemplate, func(t tp) (string, error) {
			return t.Resolve(template.Values(named), template.Value(req))
		}, 1},
		{"six sources", benchTemplate, func(t tp) (string, error) {
			return t.Resolve(template.Source{}, template.Source{}, template.Source{}, template.Source{}, template.Source{}, template.Value(req))
		}, 1},
		{"request", "a:{category}:{id}:{owner}", func(t tp) (string, error) { return t.Resolve(template.Request(r)) }, 1},
		{"fixed", "articles:animals", func(t tp) (string, error) { return t.Resolve() }, 0},
		{"empty", "", func(t tp) (string, error) { return t.Resolve(template.Value(req)) }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := template.MustParse(tc.tmpl)
			if _, err := tc.resolve(tmpl); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(200, func() { _, _ = tc.resolve(tmpl) })
			if n > tc.want {
				t.Errorf("Resolve(%q) allocates %v times, want at most %v", tc.tmpl, n, tc.want)
			}
		})
	}
}

// Building a Source must not allocate: a guard builds them on every call.
func TestSourceAllocations(t *testing.T) {
	req := newBenchRequest()
	m := map[string]any{"id": 1}
	tp := template.MustParse(benchTemplate)
	n := testing.AllocsPerRun(200, func() {
		_, _ = tp.Resolve(template.Values(m), template.Value(req), template.Value(m))
	})
	if n > 1 {
		t.Errorf("building sources and resolving allocates %v times, want 1", n)
	}
}

// Past maxListedPlans root types a Template keeps its plans in a sync.Map;
// those must be cached too, not rebuilt per call.
func TestManyTypesCachePlans(t *testing.T) {
	tp := template.MustParse("x:{id}")
	var roots []any
	for i := range 12 {
		typ := reflect.StructOf([]reflect.StructField{
			{Name: "Pad" + itoa(i), Type: reflect.TypeFor[int]()},
			{Name: "ID", Type: reflect.TypeFor[int](), Tag: `json:"id"`},
		})
		v := reflect.New(typ)
		v.Elem().Field(1).SetInt(int64(i))
		roots = append(roots, v.Interface())
	}
	for i, root := range roots {
		got, err := tp.Resolve(template.Value(root))
		if err != nil || got != "x:"+itoa(i) {
			t.Fatalf("Resolve(type %d) = %q, %v", i, got, err)
		}
	}
	last := roots[len(roots)-1]
	if n := testing.AllocsPerRun(200, func() { _, _ = tp.Resolve(template.Value(last)) }); n > 1 {
		t.Errorf("resolving the twelfth type allocates %v times, want 1: its plan is not cached", n)
	}
}
