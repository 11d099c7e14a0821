package config_test

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pelletier/go-toml/v2"
	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// tomlEdgeCases are the corners of TOML's rules on defining keys and tables,
// which config enforces itself (go-toml's decoder does so in quadratic time).
var tomlEdgeCases = []string{
	"a = 1\na = 2",
	"a = 1\n'a' = 2",
	"[a]\n[a]",
	"[a.b]\n[a]",
	"[a]\n[a.b]\n[a]",
	"[a.b.c]\n[a]\nb.d = 1",
	"a.b.c = 1\n[a.b.d]",
	"a.b.c = 1\n[a.b]",
	"a.b.c = 1\n[[a.b.e]]",
	"[a]\nb.c = 1\n[a.b.d]\nx = 1",
	"a = {b = 1}\n[a.c]",
	"a = {b = 1}\n[a]",
	"[a.b]\n[a]\nb.c = 1",
	"[[a.b]]\n[a]\nb.c = 1",
	"[[a]]\nb.c = 1\n[[a]]\nb.c = 2",
	"[[a.b]]\n[[a]]",
	"[a]\n[[a.b]]\n[a.b.c]\n[[a.b]]\n[a.b.c]",
	"a.b.c = 1\n[a]",
	"[x]\ny.z = 1\n[x.y.w]\n[x.y]",
	"[x]\ny.z = 1\n[x.y.w]\nq = 1\n[x.y.w.v]",
	"[a.b.c]\n[a]\nb.c.d = 1",
	"a = {b.c = 1}",
	"a = {b.c = 1, b = {}}",
	"a = {b.c = 1, b.d = 2}",
	"a = {x = 1}\na.y = 2",
	"a = {x = 1, x.y = 2}",
	"[a]\nb.c = 1\nb.c.d = 2",
	"[[a]]\n[a.b]\nc = 1\n[a.b]",
	"[a.b]\n[[a]]",
	"[[a]]\n[a]",
	"a = []\n[[a]]",
	"a = [{}]\n[[a]]",
	"a = [{}]\n[a.b]",
	"[a]\nb = 1\n[a.b.c]",
	"[a.b.c]\n[a.b]\n[a]\n[a.b]",
	"[[a]]\nb.c = 1\n[a.b.d]",
	"[[a]]\n[a.b.c]\n[[a.b]]",
	"a.b = 1\n[a.c]",
	"[[a]]\n[[a.b]]\n[a.b.c]\n[[a]]\n[a.b]",
}

func hasTOMLError(diags diag.List) bool {
	for _, d := range diags {
		if strings.HasPrefix(d.Message, "invalid TOML") {
			return true
		}
	}
	return false
}

func TestTOMLRulesAgreeWithGoTOML(t *testing.T) {
	t.Parallel()
	for _, doc := range tomlEdgeCases {
		t.Run(doc, func(t *testing.T) {
			t.Parallel()
			_, diags := config.Parse(file, []byte(doc))
			var m map[string]any
			err := toml.Unmarshal([]byte(doc), &m)
			if got := hasTOMLError(diags); got != (err != nil) {
				t.Errorf("config reports a TOML error: %v; go-toml: %v\n%v", got, err, diags)
			}
		})
	}
}

// Random documents built from the constructs that define tables, in a
// namespace small enough that they collide often.
func TestTOMLRulesAgreeWithGoTOMLRandom(t *testing.T) {
	t.Parallel()
	key := func(t *rapid.T, label string) string {
		parts := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "'a'"}), 1, 3).Draw(t, label)
		return strings.Join(parts, ".")
	}
	rapid.Check(t, func(t *rapid.T) {
		var doc strings.Builder
		for i := range rapid.IntRange(1, 6).Draw(t, "lines") {
			k := key(t, fmt.Sprint("key", i))
			switch rapid.IntRange(0, 5).Draw(t, fmt.Sprint("form", i)) {
			case 0:
				fmt.Fprintf(&doc, "[%s]\n", k)
			case 1:
				fmt.Fprintf(&doc, "[[%s]]\n", k)
			case 2:
				fmt.Fprintf(&doc, "%s = 1\n", k)
			case 3:
				fmt.Fprintf(&doc, "%s = {%s = 1}\n", k, key(t, fmt.Sprint("inner", i)))
			case 4:
				fmt.Fprintf(&doc, "%s = [{%s = 1}]\n", k, key(t, fmt.Sprint("inner", i)))
			case 5:
				fmt.Fprintf(&doc, "%s = []\n", k)
			}
		}
		_, diags := config.Parse(file, []byte(doc.String()))
		var m map[string]any
		err := toml.Unmarshal([]byte(doc.String()), &m)
		if got := hasTOMLError(diags); got != (err != nil) {
			t.Fatalf("%s\nconfig reports a TOML error: %v; go-toml: %v\n%v", doc.String(), got, err, diags)
		}
	})
}

var ruleID = regexp.MustCompile(`^rules\.[A-Za-z0-9_-]+$`)

func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add([]byte(v.Policy))
	}
	for _, m := range malformed {
		f.Add([]byte(m.policy))
	}
	for _, doc := range tomlEdgeCases {
		f.Add([]byte(doc))
	}
	for _, when := range []string{
		`'context.mfa && context.nope'`, `"\"x\" == 'x' && context.nope"`, `"'\u00e9' == 'é' && nope"`,
		"'''\ncontext.mfa &&\n  context.nope'''", "\"\"\"\ncontext.mfa && \\\n  context.nope\"\"\"", `"\U0001F600" == x`, `''`,
	} {
		f.Add([]byte("[context]\nmfa = 'bool'\n\n[rules.r]\nwhen = " + when + "\nallow = [['a', 'b', 'c']]\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		t.Parallel()
		src, diags := config.Parse(file, data)
		src2, diags2 := config.Parse(file, data)
		if d := cmp.Diff(src, src2); d != "" {
			t.Fatalf("Parse is not deterministic (-first +second):\n%s", d)
		}
		if d := cmp.Diff(diags, diags2); d != "" {
			t.Fatalf("Parse is not deterministic (-first +second):\n%s", d)
		}
		if src == nil {
			t.Fatal("nil Source")
		}
		for _, d := range diags {
			if d.File != file || d.Line < 1 || d.Column < 1 || d.Message == "" {
				t.Errorf("diagnostic without a position or message: %#v", d)
			}
			if strings.Contains(d.Message, "parser failed") {
				t.Errorf("panic turned into a diagnostic: %v", d)
			}
		}

		// go-toml's decoder is the reference for what is valid TOML. It
		// also rejects values config never converts (integers out of range,
		// impossible dates), which config reports as values of the wrong
		// type instead; and config forgives a byte order mark.
		var m map[string]any
		err := toml.Unmarshal(data, &m)
		if err == nil && hasTOMLError(diags) {
			t.Fatalf("config rejects valid TOML:\n%v", diags)
		}
		if err != nil && len(diags) == 0 && !bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			t.Fatalf("config accepts invalid TOML (go-toml: %v)", err)
		}
		if len(diags) > 0 || err != nil {
			return
		}
		checkAgainstMap(t, data, src, m)
		// A condition's errors point into its string: every one has a
		// position within the file.
		if slices.ContainsFunc(src.Rules, func(r engine.Rule) bool { return r.When != nil }) {
			_, errs := engine.Compile(src)
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, d := range errs {
				if d.Line < 1 || d.Line > lines || d.Column < 1 {
					t.Fatalf("compile error outside the file: %v", d)
				}
			}
		}
	})
}

// checkAgainstMap checks a Source read without problems against the same
// document as go-toml decodes it: every item and member copied verbatim,
// nothing lost, ids that name the rule, positions that point at the text.
func checkAgainstMap(t *testing.T, data []byte, src *engine.Source, m map[string]any) {
	t.Helper()
	lines := []int{0}
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	byteAt := func(p diag.Pos) byte {
		if p.Line < 1 || p.Line > len(lines) {
			t.Fatalf("position %v is outside the document", p)
		}
		off := lines[p.Line-1] + p.Col - 1
		if off >= len(data) {
			t.Fatalf("position %v is outside the document", p)
		}
		return data[off]
	}

	items := 0
	rules := m["rules"]
	switch rs := rules.(type) {
	case []any:
		for _, r := range rs {
			items += len(asSlice(r.(map[string]any)["allow"])) + len(asSlice(r.(map[string]any)["deny"]))
		}
	case map[string]any:
		for _, r := range rs {
			items += len(asSlice(r.(map[string]any)["allow"])) + len(asSlice(r.(map[string]any)["deny"]))
		}
	}
	if items != len(src.Rules) {
		t.Fatalf("go-toml finds %d rule items, config %d", items, len(src.Rules))
	}
	for _, r := range src.Rules {
		if !ruleID.MatchString(r.ID) || r.Item < 1 || (r.Effect != engine.EffectAllow && r.Effect != engine.EffectDeny) {
			t.Fatalf("bad rule identity %s", ruleString(r))
		}
		if r.Subject == "" || r.Resource == "" || r.Action == "" {
			t.Fatalf("empty string in %s", ruleString(r))
		}
		var rule map[string]any
		name := strings.TrimPrefix(r.ID, "rules.")
		switch rs := rules.(type) {
		case []any:
			var n int
			for _, c := range name {
				n = n*10 + int(c-'0')
			}
			rule = rs[n-1].(map[string]any)
		case map[string]any:
			rule = rs[name].(map[string]any)
		}
		triple := asSlice(rule[r.Effect.String()])[r.Item-1].([]any)
		if want := []any{r.Subject, r.Resource, r.Action}; !cmp.Equal(triple, want) {
			t.Fatalf("%s: go-toml reads %q", ruleString(r), triple)
		}
		if c := byteAt(r.Pos); c != '[' {
			t.Fatalf("%s: position %v points at %q, not '['", ruleString(r), r.Pos, c)
		}
		for _, p := range []diag.Pos{r.SubjectPos, r.ResourcePos, r.ActionPos} {
			if c := byteAt(p); c != '\'' && c != '"' {
				t.Fatalf("%s: position %v points at %q, not a string", ruleString(r), p, c)
			}
		}
	}

	decodedSchemas, _ := m["schemas"].(map[string]any)
	if len(decodedSchemas) != len(src.Schemas) {
		t.Fatalf("go-toml finds %d schemas, config %d", len(decodedSchemas), len(src.Schemas))
	}
	for _, sc := range src.Schemas {
		if decodedSchemas[sc.Name] != sc.Template {
			t.Fatalf("schemas.%s = %q, go-toml reads %v", sc.Name, sc.Template, decodedSchemas[sc.Name])
		}
		if c := byteAt(sc.Pos); c != '\'' && c != '"' {
			t.Fatalf("schemas.%s: position %v points at %q", sc.Name, sc.Pos, c)
		}
	}
	if strict, _ := m["strict_schemas"].(bool); strict != src.StrictSchemas {
		t.Fatalf("strict_schemas = %v, go-toml reads %v", src.StrictSchemas, m["strict_schemas"])
	}

	groups := map[string][]engine.Group{
		"groups": src.Groups, "roles": src.Groups, "resources": src.Resources, "actions": src.Actions,
	}
	for section, gs := range groups {
		decoded, _ := m[section].(map[string]any)
		n := 0
		for _, g := range gs {
			if g.Section != section {
				continue
			}
			n++
			var names []any
			for _, mb := range g.Members {
				names = append(names, mb.Name)
				if c := byteAt(mb.Pos); c != '\'' && c != '"' {
					t.Fatalf("%s.%s: member position %v points at %q", section, g.Name, mb.Pos, c)
				}
			}
			if want := asSlice(decoded[g.Name]); len(names) != len(want) || len(want) > 0 && !cmp.Equal(names, want) {
				t.Fatalf("%s.%s = %q, go-toml reads %q", section, g.Name, names, want)
			}
		}
		if n != len(decoded) {
			t.Fatalf("go-toml finds %d groups in %s, config %d", len(decoded), section, n)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
