package pattern_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/warden-authz/warden/internal/pattern"
)

type conformance struct {
	Match struct {
		Matches      [][2]string `json:"matches"`
		DoesNotMatch [][2]string `json:"does_not_match"`
	} `json:"match"`
}

func loadConformance(t testing.TB) conformance {
	t.Helper()
	data, err := os.ReadFile("../../testdata/conformance/toffi.json")
	if err != nil {
		t.Fatalf("reading conformance file: %v", err)
	}
	var c conformance
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("decoding conformance file: %v", err)
	}
	if len(c.Match.Matches) == 0 || len(c.Match.DoesNotMatch) == 0 {
		t.Fatalf("conformance file has no match cases: %+v", c.Match)
	}
	return c
}

func TestConformanceMatch(t *testing.T) {
	t.Parallel()
	c := loadConformance(t)
	run := func(pairs [][2]string, want bool) {
		for _, pair := range pairs {
			name, src := pair[0], pair[1]
			t.Run(src+"~"+name, func(t *testing.T) {
				t.Parallel()
				if err := pattern.CheckName(name); err != nil {
					t.Fatalf("conformance name %q is not a valid name: %v", name, err)
				}
				p, err := pattern.Parse(src)
				if err != nil {
					t.Fatalf("Parse(%q): %v", src, err)
				}
				if got := p.Match(name); got != want {
					t.Errorf("Parse(%q).Match(%q) = %v, want %v", src, name, got, want)
				}
				if got := refMatch(src, name); got != want {
					t.Errorf("reference matcher disagrees with the conformance file on %q ~ %q: %v", src, name, got)
				}
				var ix pattern.Index
				slot := ix.Add(p)
				got := ix.Append(nil, name)
				if want && (len(got) != 1 || got[0] != slot) || !want && len(got) != 0 {
					t.Errorf("Index{%q}.Append(%q) = %v, want match=%v", src, name, got, want)
				}
			})
		}
	}
	run(c.Match.Matches, true)
	run(c.Match.DoesNotMatch, false)
}
