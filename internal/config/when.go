package config

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// condition reads a rule block's `when` (SPEC 12.1). Errors in the
// expression are found when it compiles; Locate lets them point into the
// string as written, escapes and multi-line strings included.
func (r *reader) condition(id string, v *value) *engine.Condition {
	if v.kind != unstable.String {
		r.errorf(v.off, "%s.when must be a string holding a CEL expression, such as 'context.mfa', found %s", id, describe(v))
		return nil
	}
	offsets := stringOffsets(r.data[v.off:min(max(v.end, v.off), len(r.data))], v.off, v.str)
	c := &engine.Condition{Text: v.str, Pos: r.pos(v.off)}
	if offsets != nil {
		c.Pos = r.pos(offsets[0])
		c.Locate = func(off int) diag.Pos {
			return r.pos(offsets[min(max(off, 0), len(offsets)-1)])
		}
	}
	return c
}

// stringOffsets maps each byte of a TOML string's decoded text to the
// offset in the file it came from (one more entry for the end), or nil
// when the raw token cannot be followed.
func stringOffsets(raw []byte, base int, text string) []int {
	var out []int
	switch {
	case len(raw) >= 6 && string(raw[:3]) == "'''":
		start := 3
		if strings.HasPrefix(string(raw[3:]), "\r\n") {
			start += 2
		} else if len(raw) > 3 && raw[3] == '\n' {
			start++
		}
		for i := range len(text) {
			out = append(out, base+start+i)
		}
		out = append(out, base+start+len(text))
	case len(raw) >= 2 && raw[0] == '\'':
		for i := range len(text) + 1 {
			out = append(out, base+1+i)
		}
	case len(raw) >= 6 && string(raw[:3]) == `"""`:
		start := 3
		if strings.HasPrefix(string(raw[3:]), "\r\n") {
			start += 2
		} else if len(raw) > 3 && raw[3] == '\n' {
			start++
		}
		out = basicOffsets(raw[start:len(raw)-3], base+start, true)
	case len(raw) >= 2 && raw[0] == '"':
		out = basicOffsets(raw[1:len(raw)-1], base+1, false)
	default:
		return nil
	}
	if len(out) != len(text)+1 {
		return nil
	}
	return out
}

// basicOffsets follows the escapes of a basic string's content.
func basicOffsets(raw []byte, base int, multiline bool) []int {
	var out []int
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			out = append(out, base+i)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return nil
		}
		n := 0 // decoded bytes
		width := 2
		switch c := raw[i+1]; c {
		case 'b', 't', 'n', 'f', 'r', '"', '\\', 'e':
			n = 1
		case 'x', 'u', 'U':
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+2+digits > len(raw) {
				return nil
			}
			code, err := strconv.ParseUint(string(raw[i+2:i+2+digits]), 16, 32)
			if err != nil {
				return nil
			}
			n, width = utf8.RuneLen(rune(code)), 2+digits
			if n < 0 {
				return nil
			}
		default:
			if !multiline {
				return nil
			}
			// A line-ending backslash: it and the white space after it,
			// newlines included, vanish.
			j := i + 1
			for j < len(raw) && strings.IndexByte(" \t\r\n", raw[j]) >= 0 {
				j++
			}
			i = j
			continue
		}
		for range n {
			out = append(out, base+i)
		}
		i += width
	}
	return append(out, base+len(raw))
}

// contextTable reads [context], name = 'type' (SPEC 12.1). The types are
// checked when the policy compiles, at the positions recorded here.
func (r *reader) contextTable(sec *field) {
	if sec.val.kind != unstable.Table {
		r.errorf(sec.val.off, "context must be a table of name = 'type' ([context]), found %s", describe(sec.val))
		return
	}
	r.src.ContextSet = true
	for _, f := range sec.val.fields {
		if f.val.kind != unstable.String {
			r.errorf(f.val.off, "%s must be a type name such as 'bool' or 'ip', found %s", joinKey(sec.key, f.key), describe(f.val))
			continue
		}
		r.src.Context = append(r.src.Context, engine.ContextAttribute{Name: f.key, Type: f.val.str, Pos: r.pos(f.val.off)})
	}
}

// costLimit reads [rule_policy] condition_cost_limit.
func (r *reader) costLimit(path string, v *value) {
	n, err := strconv.ParseInt(strings.ReplaceAll(v.str, "_", ""), 0, 64)
	if v.kind != unstable.Integer || err != nil || n <= 0 {
		r.errorf(v.off, "%s must be a positive integer (CEL cost units per evaluation), found %s", path, describe(v))
		return
	}
	r.src.CostLimit = uint64(n)
	r.src.CostLimitPos = r.pos(v.off)
}
