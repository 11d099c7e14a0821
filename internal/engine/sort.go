package engine

import (
	"slices"

	"github.com/warden-authz/warden/internal/pattern"
)

// sortPatterns orders patterns from least to most specific; equal patterns
// keep source-text order so the ranking is deterministic.
func sortPatterns(pats []pattern.Pattern) {
	slices.SortStableFunc(pats, func(a, b pattern.Pattern) int {
		if c := pattern.Compare(a, b); c != 0 {
			return c
		}
		switch {
		case a.String() < b.String():
			return -1
		case a.String() > b.String():
			return 1
		}
		return 0
	})
}
