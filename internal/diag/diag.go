// Package diag carries source positions and configuration diagnostics.
//
// Every front end (the TOML file, the Go API) records where each piece of
// policy was written, so that the compiler can report an error against the
// place the user must edit rather than against an internal index.
package diag

import (
	"fmt"
	"sort"
	"strings"

	"github.com/warden-authz/warden/types"
)

// Pos is where a piece of policy was written. Line and Col are 1-based; a
// zero Line means the position is unknown (for example a policy built in Go
// without a file), in which case only File, if any, is shown.
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders the position as file:line:col, the form editors and
// terminals turn into links.
func (p Pos) String() string {
	switch {
	case p.Line == 0 && p.File == "":
		return "<policy>"
	case p.Line == 0:
		return p.File
	case p.File == "":
		return fmt.Sprintf("<policy>:%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one problem found in a policy, at one place. It is the
// public vocabulary's type, so a list of them reaches users unconverted.
type Diagnostic = types.Diagnostic

// At returns where d was found.
func At(d Diagnostic) Pos { return Pos{File: d.File, Line: d.Line, Col: d.Column} }

// List is every problem found in one policy. A policy with a non-empty List
// is never loaded, not even partly.
type List []Diagnostic

// Add records a problem at pos.
func (l *List) Add(pos Pos, format string, args ...any) {
	*l = append(*l, Diagnostic{File: pos.File, Line: pos.Line, Column: pos.Col, Message: fmt.Sprintf(format, args...)})
}

// Sort orders the diagnostics by file, line and column so output is stable
// and reads top to bottom.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Err returns nil for an empty list and the list itself otherwise, so callers
// can `return l.Err()` without the nil-interface trap.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l List) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Error())
	}
	return b.String()
}
