package diag

import "sort"

// Locator turns byte offsets in a file into positions. Parsers that read
// a whole file and know offsets (go-toml's unstable parser does) share it,
// so every front end reports line and column the same way.
type Locator struct {
	File  string
	Data  []byte
	lines []int // offsets where lines start, made on first use
}

// Pos is the position of byte offset off, clamped to the data. A nil
// *Locator knows no file: its positions are unknown (the zero Pos).
func (l *Locator) Pos(off int) Pos {
	if l == nil {
		return Pos{}
	}
	if l.lines == nil {
		l.lines = []int{0}
		for i, c := range l.Data {
			if c == '\n' {
				l.lines = append(l.lines, i+1)
			}
		}
	}
	off = min(max(off, 0), len(l.Data))
	line := sort.Search(len(l.lines), func(i int) bool { return l.lines[i] > off })
	return Pos{File: l.File, Line: line, Col: off - l.lines[line-1] + 1}
}
