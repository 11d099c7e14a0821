package template_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

var validTemplates = []struct {
	text         string
	placeholders []string
}{
	{"", nil},
	{"articles", nil},
	{"articles:animals:42", nil},
	{"alice@example.com", nil},
	{"/api/v1:GET", nil},
	{"ünïcode:名前", nil},
	{"user:{value}", []string{"value"}},
	{"{user.id}", []string{"user.id"}},
	{"articles:{category}:{id}", []string{"category", "id"}},
	{"{a}:{b}:{c}", []string{"a", "b", "c"}},
	{"{_}:{_x9}:{A.b_.C3}", []string{"_", "_x9", "A.b_.C3"}},
	{"{id}:{id}", []string{"id", "id"}},
	{"x:{id}:y", []string{"id"}},
	{"a.b:{c}", []string{"c"}},
	{"~#$%!=+-._/@:{x}", []string{"x"}},
	{strings.Repeat("a:", 63) + "{z}", []string{"z"}},
	{strings.Repeat("a", 1024), nil},
	{strings.Repeat("{a}:", 63) + "{a}", slices.Repeat([]string{"a"}, 64)},
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, tc := range validTemplates {
		t.Run(label(tc.text), func(t *testing.T) {
			t.Parallel()
			tp, err := template.Parse(tc.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.text, err)
			}
			if tp.String() != tc.text {
				t.Errorf("String() = %q, want %q", tp.String(), tc.text)
			}
			if got := tp.Placeholders(); !slices.Equal(got, tc.placeholders) {
				t.Errorf("Placeholders() = %q, want %q", got, tc.placeholders)
			}
			if len(tc.placeholders) == 0 {
				// A fixed template resolves to itself with no sources at all.
				got, err := tp.Resolve()
				if err != nil || got != tc.text {
					t.Errorf("Resolve() = %q, %v; want %q", got, err, tc.text)
				}
			}
		})
	}
}

func TestPlaceholdersIsACopy(t *testing.T) {
	t.Parallel()
	tp := template.MustParse("a:{x}")
	tp.Placeholders()[0] = "y"
	if got := tp.Placeholders()[0]; got != "x" {
		t.Fatalf("Placeholders()[0] = %q after the caller changed its copy", got)
	}
}

// invalidTemplates is the hostile table: each entry names the error text
// and the byte offset Parse must report.
var invalidTemplates = []struct {
	text string
	want string // substring of the message
	at   int    // byte offset the message names
}{
	{":", "empty segment", 0},
	{":a", "empty segment", 0},
	{"a:", "empty segment", 2},
	{"a::b", "empty segment", 2},
	{"{a}:", "empty segment", 4},
	{"{a}::{b}", "empty segment", 4},
	{"{", "unclosed '{'", 0},
	{"a:{b", "unclosed '{'", 2},
	{"a:{b:c}", "unclosed '{'", 2},
	{"}", "'}' without a matching '{'", 0},
	{"a:b}", "'}' without a matching '{'", 3},
	{"{a}}", "shares its segment", 3},
	{"{}", "empty placeholder", 0},
	{"a:{}:b", "empty placeholder", 2},
	{"{{a}}", "nested '{'", 1},
	{"{a{b}}", "nested '{'", 2},
	{"user-{id}", "shares its segment", 5},
	{"{id}-x", "shares its segment", 4},
	{"{a}{b}", "shares its segment", 3},
	{"x:pre{id}post", "shares its segment", 5},
	{"*", "pattern character '*'", 0},
	{"articles:*", "pattern character '*'", 9},
	{"a*b", "pattern character '*'", 1},
	{"read,write", "pattern character ','", 4},
	{"{.a}", "empty element", 1},
	{"{a.}", "empty element", 3},
	{"{a..b}", "empty element", 3},
	{"{1a}", "starts with a digit", 1},
	{"{a.2}", "starts with a digit", 3},
	{"{a-b}", "'-' in placeholder path", 2},
	{"{a b}", "space in placeholder path", 2},
	{"{a*}", "'*' in placeholder path", 2},
	{"{a,b}", "',' in placeholder path", 2},
	{"{é}", "U+00E9 in placeholder path", 1},
	{"{a\x00}", "U+0000 in placeholder path", 2},
	{"a b", "space is not allowed", 1},
	{"a\tb", "U+0009 is not allowed", 1},
	{"a\nb:{x}", "U+000A is not allowed", 1},
	{"x:a\u200bb", "U+200B is not allowed", 3},
	{"x:\u00a0", "U+00A0 is not allowed", 2},
	{"x:\u3164", "U+3164 is not allowed", 2},
	{"ok:\xff", "invalid UTF-8", 3},
	{"ok:a\xc3", "invalid UTF-8", 4},
	{"a\x7f", "U+007F is not allowed", 1},
	{strings.Repeat("a", 1025), "1025 bytes, over the limit of 1024", 1024},
	{strings.Repeat("a:", 64) + "a", "more than 64 segments", 128},
	{strings.Repeat("{a}:", 64) + "{a}", "more than 64 segments", 256},
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidTemplates {
		t.Run(label(tc.text), func(t *testing.T) {
			t.Parallel()
			tp, err := template.Parse(tc.text)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.text, tp)
			}
			if tp != nil {
				t.Errorf("Parse(%q) returned a template with its error", tc.text)
			}
			if !errors.Is(err, template.ErrInvalidTemplate) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalidTemplate", tc.text, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("Parse(%q) error %q does not say %q", tc.text, msg, tc.want)
			}
			if want := " at byte " + itoa(tc.at); !strings.HasSuffix(msg, want) {
				t.Errorf("Parse(%q) error %q does not end with %q", tc.text, msg, want)
			}
			if quoted := quotedPrefix(tc.text); !strings.Contains(msg, quoted) {
				t.Errorf("Parse(%q) error %q does not name the template as %s", tc.text, msg, quoted)
			}
			if len(msg) > 250 {
				t.Errorf("Parse(%q) error is %d bytes long", tc.text, len(msg))
			}
		})
	}
}

// A literal that breaks the name rules reports the rule it broke too.
func TestParseLiteralWrapsNameError(t *testing.T) {
	t.Parallel()
	_, err := template.Parse("a:\u200b")
	if !errors.Is(err, pattern.ErrInvalidName) || !errors.Is(err, template.ErrInvalidTemplate) {
		t.Fatalf("Parse error %v wraps neither ErrInvalidName nor ErrInvalidTemplate", err)
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse of a malformed template did not panic")
		}
	}()
	template.MustParse("user-{id}")
}

func TestNilTemplate(t *testing.T) {
	t.Parallel()
	var tp *template.Template
	if tp.String() != "" || tp.Placeholders() != nil {
		t.Errorf("nil template: String %q, Placeholders %q", tp.String(), tp.Placeholders())
	}
	if got, err := tp.Resolve(template.Values(map[string]any{"x": 1})); got != "" || err != nil {
		t.Errorf("nil template resolves to %q, %v; want the empty resource", got, err)
	}
}
