package analysis_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/pattern"
)

// TestRepresentativesDocumented pins the examples docs/analysis.md gives.
func TestRepresentativesDocumented(t *testing.T) {
	t.Parallel()
	tests := []struct {
		patterns string
		want     []string // each must be among the representatives
		exact    bool     // and nothing else
	}{
		{"articles:*", []string{"_", "articles:_"}, true},
		{"articles:* articles:animals:*", []string{"_", "articles:_", "articles:animals:_"}, true},
		{"*:*:42 articles:animals:*", []string{"_", "_:_:42", "articles:animals:_", "articles:animals:42"}, true},
		{"get*,list*", []string{"_", "get"}, true},
		{"set* *Name", []string{"_", "set", "Name", "setName"}, true},
		{"*:read,write users:*", []string{"_", "_:read", "users:_", "users:read"}, true},
	}
	for _, tt := range tests {
		var pats []pattern.Pattern
		for _, p := range strings.Fields(tt.patterns) {
			pats = append(pats, pattern.MustParse(p))
		}
		reps, err := analysis.Representatives(pats, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !slices.Contains(reps, w) {
				t.Errorf("%s: %q missing from %q", tt.patterns, w, reps)
			}
		}
		if tt.exact && len(reps) != len(tt.want) {
			t.Errorf("%s: representatives %q, want exactly %q", tt.patterns, reps, tt.want)
		}
	}
}
