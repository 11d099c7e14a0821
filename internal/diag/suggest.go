package diag

import "strings"

// Suggest returns the candidate a misspelt got most likely meant, or "" when
// none is close enough to be worth naming. Case is ignored first (FIRST_MATCH
// for first_match), then breaks ties; candidates come in preference order.
// Every front end's "did you mean" comes from here, so they agree.
func Suggest(got string, candidates []string) string {
	// Keys and values worth suggesting for are short; this bounds the work a
	// hostile megabyte-long key can cause.
	if len(got) > 64 {
		return ""
	}
	lower := strings.ToLower(got)
	best, bestFold, bestExact := "", 0, 0
	for _, c := range candidates {
		fold := distance(lower, strings.ToLower(c))
		if !similar(lower, strings.ToLower(c), fold) {
			continue
		}
		exact := distance(got, c)
		if best == "" || fold < bestFold || fold == bestFold && exact < bestExact {
			best, bestFold, bestExact = c, fold, exact
		}
	}
	return best
}

// similar reports whether a is a plausible misspelling of b: at most half of
// the longer one changed, or a shared start long enough to show intent
// (mismatched for mismatch_decision).
func similar(a, b string, d int) bool {
	if 2*d <= max(len(a), len(b)) {
		return true
	}
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n >= 5
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			next := min(row[j]+1, row[j-1]+1, prev+cost)
			prev, row[j] = row[j], next
		}
	}
	return row[len(b)]
}
