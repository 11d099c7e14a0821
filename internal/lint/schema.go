package lint

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// lschema is a declared schema with its segments ("{name}" for a
// placeholder).
type lschema struct {
	src  *engine.Schema
	segs []string
}

func isPlaceholder(seg string) bool { return seg[0] == '{' }

// schemas reports schemas that collapse and resource patterns that fit no
// schema.
func (l *linter) schemas() {
	var list []lschema
	for i := range l.src.Schemas {
		s := &l.src.Schemas[i]
		segs, err := engine.ParseSchema(s.Template)
		if err != nil {
			continue // the compiler reports it
		}
		list = append(list, lschema{src: s, segs: segs})
	}
	if len(list) == 0 {
		return
	}
	l.collapse(list)
	l.fitting(list)
}

// collapse reports two schemas of different depths that one pattern
// matches names of both: toffi's users:{group}:{id} and
// users:{group}:{sub-group}:{id}, where users:group:* means both the users
// of a group and those of all its sub-groups. That happens when the
// shorter schema's segments but its last are compatible, one by one, with
// the longer's (equal literals, or a placeholder on either side): the
// pattern of those segments followed by '*' matches both. Only prefixes
// with a literal segment count; otherwise '*' alone would make every pair
// collapse. Schemas are compared within the bucket of their first literal
// segment, and with those that start with a placeholder.
func (l *linter) collapse(list []lschema) {
	byFirst := make(map[string][]int)
	var open []int
	for i, s := range list {
		if isPlaceholder(s.segs[0]) {
			open = append(open, i)
		} else {
			byFirst[s.segs[0]] = append(byFirst[s.segs[0]], i)
		}
	}
	for j, b := range list {
		var cands []int
		if isPlaceholder(b.segs[0]) {
			cands = make([]int, 0, j)
			for i := range j {
				cands = append(cands, i)
			}
		} else {
			cands = append(append(cands, byFirst[b.segs[0]]...), open...)
		}
		for _, i := range cands {
			if i >= j {
				continue
			}
			if example, ok := collapses(list[i].segs, b.segs); ok {
				a := list[i]
				l.add(Warning, CodeSchemaCollapse, b.src.Pos,
					"give each schema a literal segment of its own, as in users:by_group:{group}:{id}",
					"schemas %s (%q) and %s (%q) collapse: the pattern %q matches names of both, at depths %d and %d",
					a.src.Name, a.src.Template, b.src.Name, b.src.Template, example, len(a.segs), len(b.segs))
			}
		}
	}
}

// collapses reports whether x and y collapse, with a pattern that shows it.
func collapses(x, y []string) (string, bool) {
	if len(x) == len(y) {
		return "", false
	}
	if len(x) > len(y) {
		x, y = y, x
	}
	n := len(x) - 1
	if n == 0 {
		return "", false
	}
	example := make([]string, 0, n+1)
	literal := false
	for i := range n {
		a, b := x[i], y[i]
		switch {
		case !isPlaceholder(a) && !isPlaceholder(b) && a != b:
			return "", false
		case !isPlaceholder(a):
			example = append(example, a)
			literal = true
		case !isPlaceholder(b):
			example = append(example, b)
			literal = true
		default:
			// A sample value: the placeholder's name is a valid segment.
			example = append(example, strings.Trim(a, "{}"))
		}
	}
	if !literal {
		return "", false
	}
	return strings.Join(append(example, "*"), ":"), true
}

// fitting reports rule resource patterns, and resource group members, that
// match no name of any schema. A rule resource that names a resource group
// is judged by the group's members instead. Under strict_schemas such a
// rule can never match an accepted request, which makes it an error.
func (l *linter) fitting(list []lschema) {
	sev := Warning
	why := "no resource of a declared shape can match it"
	if l.src.StrictSchemas {
		sev = Error
		why = "with strict_schemas every request for such a resource is rejected, so it can never match"
	}
	memo := make(map[string]bool)
	fits := func(text string) bool {
		ok, seen := memo[text]
		if !seen {
			ok = true
			if p := newPat(text); p != nil && !p.all {
				ok = false
				for _, s := range list {
					if intersects(p, s.segs) {
						ok = true
						break
					}
				}
			}
			memo[text] = ok
		}
		return ok
	}
	report := func(text string, pos diag.Pos, where string) {
		l.add(sev, CodeNoSchema, pos,
			"declare its shape under [schemas], or correct the pattern",
			"resource %q %s fits no declared schema; %s", text, where, why)
	}
	res := l.kinds[engine.Resources]
	for i := range l.rules {
		r := &l.rules[i]
		if p := r.pats[1]; p.lit {
			if _, group := res.graph.Group(p.name); group {
				continue
			}
		}
		if !fits(r.src.Resource) {
			report(r.src.Resource, r.src.ResourcePos, "in "+itemName(r.src))
		}
	}
	for _, g := range res.groups {
		for _, m := range g.Members {
			if _, group := res.graph.Group(m.Name); group {
				continue
			}
			if !fits(m.Name) {
				report(m.Name, m.Pos, fmt.Sprintf("in resource group %q", g.Name))
			}
		}
	}
}

// intersects reports whether pattern p matches some name of the schema.
func intersects(p *lpat, schema []string) bool {
	if p.all {
		return true
	}
	if p.lit {
		segs := strings.Split(p.name, ":")
		if len(segs) != len(schema) {
			return false
		}
		for i, s := range schema {
			if !isPlaceholder(s) && s != segs[i] {
				return false
			}
		}
		return true
	}
	n := len(p.segs)
	if p.segs[n-1].kind == segRest {
		if len(schema) < n {
			return false
		}
		n--
	} else if len(schema) != n {
		return false
	}
	for i := range n {
		s, ps := schema[i], &p.segs[i]
		if isPlaceholder(s) || ps.kind != segChoices {
			continue
		}
		if !ps.one.Match(s) {
			return false
		}
	}
	return true
}
