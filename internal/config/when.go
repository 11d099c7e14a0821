package config

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/warden-authz/warden/internal/engine"
)

// condition reads a rule block's `when` (SPEC 12.1). Errors in the
// expression are found when it compiles; the string as written (Raw) lets
// them point into it, escapes and multi-line strings included.
func (r *reader) condition(id string, v *value) *engine.Condition {
	if v.kind != unstable.String {
		r.errorf(v.off, "%s.when must be a string holding a CEL expression, such as 'context.mfa', found %s", id, describe(v))
		return nil
	}
	raw := string(r.data[v.off:min(max(v.end, v.off), len(r.data))])
	return &engine.Condition{Text: v.str, Pos: r.pos(v.off), Raw: raw}
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
