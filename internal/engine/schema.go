package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/pattern"
)

// ErrInvalidSchema is wrapped by every error that rejects a schema template.
var ErrInvalidSchema = errors.New("invalid schema")

// ParseSchema checks a schema template and returns its segments: literal
// segments as written, placeholders as "{name}" (a literal segment can never
// hold a brace, so the first byte tells them apart). A placeholder is a whole
// segment, so that it stands for exactly one segment of a resource name, as a
// guard's placeholder fills exactly one (SPEC 7.4); its name is an ASCII
// letter or '_' followed by letters, digits, '_' or '-'. A name may appear
// once per template. Templates obey the limits of names (SPEC 1.2).
func ParseSchema(template string) ([]string, error) {
	if template == "" {
		return nil, fmt.Errorf("%w: empty template; expected segments joined by ':', such as users:{id}", ErrInvalidSchema)
	}
	if len(template) > pattern.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidSchema, len(template), pattern.MaxBytes)
	}
	segs := strings.Split(template, ":")
	if len(segs) > pattern.MaxSegments {
		return nil, fmt.Errorf("%w: %q has more than %d segments", ErrInvalidSchema, pattern.Shorten(template), pattern.MaxSegments)
	}
	off := 0
	for i, seg := range segs {
		if i > 0 {
			off += len(segs[i-1]) + 1
		}
		if !strings.ContainsAny(seg, "{}") {
			if err := pattern.CheckName(seg); err != nil {
				if seg == "" {
					return nil, fmt.Errorf("%w: %q: empty segment at byte %d", ErrInvalidSchema, pattern.Shorten(template), off)
				}
				return nil, fmt.Errorf("%w: %q: segment %d: %v", ErrInvalidSchema, pattern.Shorten(template), i+1,
					strings.TrimPrefix(err.Error(), pattern.ErrInvalidName.Error()+": "))
			}
			continue
		}
		if seg[0] != '{' || seg[len(seg)-1] != '}' || len(seg) < 3 || !placeholderName(seg[1:len(seg)-1]) {
			return nil, fmt.Errorf("%w: %q: segment %d %q: a placeholder must be a whole segment {name}, the name a letter or '_' followed by letters, digits, '_' or '-'",
				ErrInvalidSchema, pattern.Shorten(template), i+1, pattern.Shorten(seg))
		}
		for _, prev := range segs[:i] {
			if prev == seg {
				return nil, fmt.Errorf("%w: %q: placeholder %s appears twice", ErrInvalidSchema, pattern.Shorten(template), seg)
			}
		}
	}
	return segs, nil
}

func placeholderName(s string) bool {
	for i, c := range []byte(s) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return s != ""
}

// schemaSet answers whether a resource name fits a declared schema. Shapes
// are grouped by their number of segments, so a check counts the name's
// segments, then compares it with the shapes of that depth only, segment by
// segment. It never allocates.
type schemaSet struct {
	byDepth [][]schemaShape // by number of segments
}

// schemaShape is a parsed template: literal segments, "" for a placeholder.
type schemaShape []string

func compileSchemas(schemas []Schema, strict bool, errs *diag.List) *schemaSet {
	set := &schemaSet{}
	seen := make(map[string]diag.Pos, len(schemas))
	for _, s := range schemas {
		if prev, dup := seen[s.Name]; dup {
			errs.Add(s.Pos, "schema %q is declared twice (first at %v)", s.Name, prev)
			continue
		}
		seen[s.Name] = s.Pos
		segs, err := ParseSchema(s.Template)
		if err != nil {
			errs.Add(s.Pos, "schemas.%s: %s", s.Name, strings.TrimPrefix(err.Error(), ErrInvalidSchema.Error()+": "))
			continue
		}
		shape := make(schemaShape, len(segs))
		for i, seg := range segs {
			if seg[0] != '{' {
				shape[i] = seg
			}
		}
		for len(set.byDepth) <= len(shape) {
			set.byDepth = append(set.byDepth, nil)
		}
		set.byDepth[len(shape)] = append(set.byDepth[len(shape)], shape)
	}
	if !strict {
		return nil
	}
	if len(schemas) == 0 {
		errs.Add(diag.Pos{}, "strict_schemas is true but no [schemas] are declared, so every request with a resource would be rejected; declare the resource shapes or drop strict_schemas")
	}
	return set
}

// fits reports whether name, a valid non-empty name, has the shape of a
// schema.
func (s *schemaSet) fits(name string) bool {
	n := strings.Count(name, ":") + 1
	if n >= len(s.byDepth) {
		return false
	}
	for _, shape := range s.byDepth[n] {
		if shape.fits(name) {
			return true
		}
	}
	return false
}

func (shape schemaShape) fits(name string) bool {
	rest := name
	for _, seg := range shape {
		part, tail, _ := strings.Cut(rest, ":")
		if seg != "" && seg != part {
			return false
		}
		rest = tail
	}
	return true
}

// checkSchema rejects a resource that fits no schema when the policy's
// schemas are strict. The empty resource ("no particular resource", SPEC
// 1.4) names no shape and is never rejected.
func (p *Policy) checkSchema(resource string) error {
	if p.schemas == nil || resource == "" || p.schemas.fits(resource) {
		return nil
	}
	return fmt.Errorf("%w: resource %q fits no declared schema (strict_schemas is on)", ErrInvalidRequest, pattern.Shorten(resource))
}
