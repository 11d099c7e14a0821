package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

func TestSchemas(t *testing.T) {
	t.Parallel()
	policy := "strict_schemas = true\n[schemas]\nusers_by_group = 'users:by_group:{group}:{id}'\n\"article\" = \"articles:{category}:{id}\"\n"
	src, diags := config.Parse(file, []byte(policy))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	if !src.StrictSchemas {
		t.Error("strict_schemas not read")
	}
	var got []string
	for _, s := range src.Schemas {
		got = append(got, s.Name+"="+s.Template+"@"+at(s.Pos))
	}
	want := []string{"users_by_group=users:by_group:{group}:{id}@3:18", "article=articles:{category}:{id}@4:13"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("schemas (-want +got):\n%s", d)
	}
	for _, text := range []string{"", "strict_schemas = false", "[schemas]"} {
		src, diags := config.Parse(file, []byte(text))
		if len(diags) > 0 || src.StrictSchemas || len(src.Schemas) > 0 {
			t.Errorf("%q: strict %v, %d schemas, %v", text, src.StrictSchemas, len(src.Schemas), diags)
		}
	}
}

// TestSchemaErrors: every malformed schema declaration is an error at the
// place it was written, from the front end (types, keys) or the compiler
// (templates).
func TestSchemaErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy string
		want   string // "line:col: substring"
	}{
		{"schemas = 'users:{id}'", "1:11: schemas must be a table"},
		{"[schemas]\nu = 1", "2:5: schemas.u must be a string template"},
		{"[schemas]\nu = ['users:{id}']", "2:5: schemas.u must be a string template"},
		{"strict_schemas = 'yes'", "1:18: strict_schemas must be true or false, found a string"},
		{"strict_schemas = 1", "1:18: strict_schemas must be true or false, found an integer"},
		{"strict_schema = true", "1:1: unknown key \"strict_schema\" (did you mean \"strict_schemas\"?)"},
		{"[schema]\nu = 'a'", "1:2: unknown key \"schema\" (did you mean \"schemas\"?)"},
		{"[schemas]\nu = 'users:x{id}'", "2:5: schemas.u: \"users:x{id}\": segment 2"},
		{"[schemas]\nu = 'users::{id}'", "2:5: schemas.u: \"users::{id}\": empty segment at byte 6"},
		{"[schemas]\nu = 'users:{id}:{id}'", "2:5: placeholder {id} appears twice"},
		{"[schemas]\nu = ''", "2:5: schemas.u: empty template"},
		{"[schemas]\nu = 'users:*'", "2:5: schemas.u: \"users:*\": segment 2"},
		{"strict_schemas = true", "strict_schemas is true but no [schemas]"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			src, diags := config.Parse(file, []byte(tt.policy))
			_, cerrs := engine.Compile(src)
			all := append(diags, cerrs...)
			if len(all) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(all), all)
			}
			pos, msg, _ := strings.Cut(tt.want, ": ")
			if all[0].Line == 0 {
				pos, msg = "0:0", tt.want // a policy-wide problem has no place
			}
			if at(diag.At(all[0])) != pos || !strings.Contains(all[0].Message, msg) {
				t.Errorf("got %v, want %q", all[0], tt.want)
			}
		})
	}
}
