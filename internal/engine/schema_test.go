package engine_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

func TestParseSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		template string
		want     string // segments joined by "|", or the error's substring after "!"
	}{
		{"users:{id}", "users|{id}"},
		{"users:by_group:{group}:{id}", "users|by_group|{group}|{id}"},
		{"{tenant}:docs:{doc_id}", "{tenant}|docs|{doc_id}"},
		{"users:{sub-group}:{_x9}", "users|{sub-group}|{_x9}"},
		{"a", "a"},
		{"", "!empty template"},
		{"a::b", "!empty segment at byte 2"},
		{":a", "!empty segment at byte 0"},
		{"a:", "!empty segment at byte 2"},
		{"users:x{id}", "!whole segment"},
		{"users:{id}x", "!whole segment"},
		{"users:{}", "!whole segment"},
		{"users:{9id}", "!whole segment"},
		{"users:{-id}", "!whole segment"},
		{"users:{i d}", "!whole segment"},
		{"users:{a.b}", "!whole segment"},
		{"users:{{id}}", "!whole segment"},
		{"users:{id", "!whole segment"},
		{"users:id}", "!whole segment"},
		{"users:{id}:{id}", "!appears twice"},
		{"users:*", "!'*'"},
		{"users:a,b", "!','"},
		{"users:a b", "!space"},
		{"users:\x00", "!control"},
		{"caf\u0065\u0301:{id}", "!normalization"},
		{strings.Repeat("a", pattern.MaxBytes+1), "!over the limit"},
		{strings.Repeat("a:", pattern.MaxSegments) + "a", "!more than 64 segments"},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			t.Parallel()
			segs, err := engine.ParseSchema(tt.template)
			if want, isErr := strings.CutPrefix(tt.want, "!"); isErr {
				if err == nil || !errors.Is(err, engine.ErrInvalidSchema) || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil || strings.Join(segs, "|") != tt.want {
				t.Errorf("got %q, %v; want %q", segs, err, tt.want)
			}
		})
	}
}

func strictSource(strict bool) *engine.Source {
	return &engine.Source{
		Schemas: []engine.Schema{
			{Name: "article", Template: "articles:{category}:{id}", Pos: at(2)},
			{Name: "user", Template: "users:by_id:{id}", Pos: at(3)},
		},
		StrictSchemas: strict,
		Rules: []engine.Rule{
			rule("rules.1", engine.EffectAllow, "alice", "*", "read"),
		},
	}
}

// TestStrictSchemas: with strict_schemas, a resource of no declared shape
// is an invalid request, never a decision; the empty resource is not
// checked; without it, schemas change nothing.
func TestStrictSchemas(t *testing.T) {
	t.Parallel()
	strict, errs := engine.Compile(strictSource(true))
	if errs != nil {
		t.Fatal(errs)
	}
	loose, errs := engine.Compile(strictSource(false))
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		resource string
		fits     bool
	}{
		{"articles:animals:42", true},
		{"users:by_id:7", true},
		{"", true},
		{"articles:animals", false},
		{"articles:animals:42:x", false},
		{"users:by_group:7", false},
		{"users", false},
		{"comments:1:2", false},
		{strings.Repeat("a:", 63) + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			t.Parallel()
			d, err := strict.Decide(&engine.Query{Subject: "alice", Resource: tt.resource, Action: "read"})
			if tt.fits {
				if err != nil || !d.Allowed {
					t.Errorf("strict: %+v, %v; want allowed", d, err)
				}
			} else {
				if !errors.Is(err, engine.ErrInvalidRequest) || d.Allowed || !strings.Contains(err.Error(), tt.resource[:min(len(tt.resource), 40)]) || !strings.Contains(err.Error(), "schema") {
					t.Errorf("strict: %+v, %v; want an invalid request naming the resource", d, err)
				}
				if _, err := strict.Explain(&engine.Query{Subject: "alice", Resource: tt.resource, Action: "read"}); !errors.Is(err, engine.ErrInvalidRequest) {
					t.Errorf("Explain: %v, want an invalid request", err)
				}
			}
			if d, err := loose.Decide(&engine.Query{Subject: "alice", Resource: tt.resource, Action: "read"}); err != nil || !d.Allowed {
				t.Errorf("not strict: %+v, %v; want allowed", d, err)
			}
		})
	}
	if strict.Version() == loose.Version() {
		t.Error("strict schemas change decisions but not the version")
	}
	plain, _ := engine.Compile(&engine.Source{Rules: strictSource(false).Rules})
	if plain.Version() != loose.Version() {
		t.Error("schemas that are not strict change the version")
	}
}

func TestSchemaCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  *engine.Source
		want string // "line: substring"
	}{
		{"bad template", &engine.Source{Schemas: []engine.Schema{{Name: "a", Template: "x:{y", Pos: at(4)}}}, "4: schemas.a: \"x:{y\": segment 2"},
		{"twice", &engine.Source{Schemas: []engine.Schema{{Name: "a", Template: "x", Pos: at(2)}, {Name: "a", Template: "y", Pos: at(3)}}}, "3: schema \"a\" is declared twice"},
		{"strict without schemas", &engine.Source{StrictSchemas: true}, "0: strict_schemas is true but no [schemas]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, errs := engine.Compile(tt.src)
			if p != nil || len(errs) != 1 {
				t.Fatalf("got %v, %v; want one error", p, errs)
			}
			line, msg, _ := strings.Cut(tt.want, ": ")
			if got := errs[0]; strconv.Itoa(got.Line) != line || !strings.Contains(got.Message, msg) {
				t.Errorf("got %v, want line %s and %q", got, line, msg)
			}
		})
	}
}

// TestStrictSchemasDoNotAllocate extends the hot-path promise to the
// schema check. Not parallel: AllocsPerRun refuses parallel tests.
func TestStrictSchemasDoNotAllocate(t *testing.T) {
	p, errs := engine.Compile(strictSource(true))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, res := range []string{"articles:animals:42", "users:by_id:7", ""} {
		if n := testing.AllocsPerRun(20, func() { p.Decide(&engine.Query{Subject: "alice", Resource: res, Action: "read"}) }); n != 0 {
			t.Errorf("Decide(alice, %q, read) allocates %v times", res, n)
		}
	}
}

// FuzzParseSchema: ParseSchema never panics, and a template it accepts is
// its segments joined by ':', each a valid name segment or a placeholder,
// and compiles into a policy that accepts a name of its shape.
func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{"users:{id}", "a:{b}:{c-d}", "{x}", "a::b", "{}", "a:{b}:{b}", "é:{ü}", "a:{b", strings.Repeat("{a}:", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, template string) {
		segs, err := engine.ParseSchema(template)
		if err != nil {
			if !errors.Is(err, engine.ErrInvalidSchema) {
				t.Fatalf("error %v does not wrap ErrInvalidSchema", err)
			}
			return
		}
		if strings.Join(segs, ":") != template {
			t.Fatalf("segments %q do not join to %q", segs, template)
		}
		name := make([]string, len(segs))
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				name[i] = "v"
				continue
			}
			if err := pattern.CheckName(s); err != nil {
				t.Fatalf("accepted literal segment %q: %v", s, err)
			}
			name[i] = s
		}
		p, errs := engine.Compile(&engine.Source{
			Schemas:       []engine.Schema{{Name: "s", Template: template}},
			StrictSchemas: true,
			Rules:         []engine.Rule{rule("rules.1", engine.EffectAllow, "u", "*", "a")},
		})
		if errs != nil {
			t.Fatalf("accepted template does not compile: %v", errs)
		}
		full := strings.Join(name, ":")
		if pattern.CheckName(full) != nil {
			return // a placeholder value made it too long
		}
		if d, err := p.Decide(&engine.Query{Subject: "u", Resource: full, Action: "a"}); err != nil || !d.Allowed {
			t.Fatalf("%q does not fit %q: %v", full, template, err)
		}
	})
}
