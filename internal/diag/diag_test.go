package diag_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/diag"
)

func TestLocator(t *testing.T) {
	t.Parallel()
	l := diag.Locator{File: "p.toml", Data: []byte("ab\ncd\n\nx")}
	for _, tc := range []struct {
		off       int
		line, col int
	}{
		{-5, 1, 1}, // clamped
		{0, 1, 1},
		{2, 1, 3}, // the newline itself
		{3, 2, 1},
		{6, 3, 1},
		{7, 4, 1},
		{8, 4, 2},   // end of data
		{100, 4, 2}, // clamped
	} {
		if p := l.Pos(tc.off); p.File != "p.toml" || p.Line != tc.line || p.Col != tc.col {
			t.Errorf("Pos(%d) = %+v, want line %d col %d", tc.off, p, tc.line, tc.col)
		}
	}
	if p := (&diag.Locator{}).Pos(3); p.Line != 1 || p.Col != 1 {
		t.Errorf("empty data: Pos(3) = %+v, want 1:1", p)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	candidates := []string{"strategy", "mismatch_decision", "first-match", "FIRST_MATCH"}
	for _, tc := range []struct{ got, want string }{
		{"stratgy", "strategy"},
		{"STRATEGY", "strategy"},
		{"mismatched", "mismatch_decision"}, // a long shared start
		{"first_match", "FIRST_MATCH"},      // case folded, then exact distance breaks the tie
		{"zzz", ""},
		{string(make([]byte, 65)), ""}, // too long to be worth the work
	} {
		if got := diag.Suggest(tc.got, candidates); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.got, got, tc.want)
		}
	}
}

// TestZeroValues: a nil *Locator gives unknown positions, the zero Pos
// and Diagnostic print, and an empty List is no error.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	var loc *diag.Locator
	if p := loc.Pos(5); p != (diag.Pos{}) {
		t.Errorf("nil *Locator: Pos = %v", p)
	}
	if p := (&diag.Locator{}).Pos(5); p != (diag.Pos{Line: 1, Col: 1}) {
		t.Errorf("zero Locator: Pos = %+v", p)
	}
	if s := (diag.Diagnostic{}).Error(); s != "<policy>: " {
		t.Errorf("zero Diagnostic: %q", s)
	}
	var l diag.List
	l.Sort()
	if l.Err() != nil || l.Error() != "" {
		t.Errorf("zero List: %v %q", l.Err(), l.Error())
	}
	l.Add(diag.Pos{}, "x")
	if l.Err() == nil {
		t.Error("a List with a diagnostic is no error")
	}
	if s := diag.Suggest("", nil); s != "" {
		t.Errorf("Suggest with no candidates: %q", s)
	}
}
