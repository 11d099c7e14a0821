package template_test

import (
	"net/http/httptest"
	"testing"

	"github.com/warden-authz/warden/internal/template"
)

// benchRequest is the shape a guarded handler typically has: a decoded
// request body with a nested, pointed-to owner.
type benchRequest struct {
	Category string     `json:"category"`
	ID       int64      `json:"id"`
	Owner    *benchUser `json:"owner"`
	Body     string     `json:"body"`
}

type benchUser struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

const benchTemplate = "articles:{category}:{id}:{owner.id}"

const benchWant = "articles:animals:42:u-1001"

// newBenchRequest returns the request on the heap, as a handler has it
// after decoding, so that taking its address costs nothing.
func newBenchRequest() *benchRequest {
	return &benchRequest{Category: "animals", ID: 42, Owner: &benchUser{Name: "Bob", ID: "u-1001"}, Body: "…"}
}

func BenchmarkResolveStruct(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	req := newBenchRequest()
	b.ReportAllocs()
	for b.Loop() {
		s, err := tp.Resolve(template.Value(req))
		if err != nil || s != benchWant {
			b.Fatal(s, err)
		}
	}
}

// BenchmarkResolveStructParallel checks that the plan cache does not
// serialise concurrent guards.
func BenchmarkResolveStructParallel(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := newBenchRequest()
		for pb.Next() {
			if _, err := tp.Resolve(template.Value(req)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkResolveValues(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	vals := map[string]any{"category": "animals", "id": 42, "owner.id": "u-1001"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(template.Values(vals)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveJSONMap(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	vals := map[string]any{"category": "animals", "id": "42", "owner": map[string]any{"id": "u-1001"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(template.Value(vals)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveTwoSources is the guard's usual call: named arguments
// first, then the argument struct.
func BenchmarkResolveTwoSources(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	req := newBenchRequest()
	named := map[string]any{"category": "animals"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(template.Values(named), template.Value(req)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveRequest(b *testing.B) {
	tp := template.MustParse("articles:{category}:{id}")
	r := httptest.NewRequest("GET", "/articles?category=animals&id=42", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(template.Request(r)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveFixed(b *testing.B) {
	tp := template.MustParse("articles:animals")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveRejected measures the error path, which allocates the
// error; it matters only in that a flood of hostile requests stays cheap.
func BenchmarkResolveRejected(b *testing.B) {
	tp := template.MustParse(benchTemplate)
	req := newBenchRequest()
	req.Owner.ID = "1:*"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Resolve(template.Value(req)); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := template.Parse(benchTemplate); err != nil {
			b.Fatal(err)
		}
	}
}
