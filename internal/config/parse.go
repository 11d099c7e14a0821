package config

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

var (
	bom        = []byte("\xef\xbb\xbf")
	topKeys    = []string{"groups", "roles", "resources", "actions", "rules", "rule_policy", "schemas", "strict_schemas", "context"}
	ruleKeys   = []string{"allow", "deny", "dynamic", "when"}
	policyKeys = []string{"strategy", "mismatch_decision", "condition_cost_limit"}
	decisions  = []string{"allow", "deny"}
	// strategies lists StrategyNames in a stable order for messages: by
	// strategy, warden's name before AccessControl's alias.
	strategies = func() []string {
		names := make([]string, 0, len(engine.StrategyNames))
		for name := range engine.StrategyNames {
			names = append(names, name)
		}
		slices.SortFunc(names, func(a, b string) int {
			sa, sb := engine.StrategyNames[a], engine.StrategyNames[b]
			if sa != sb {
				return int(sa) - int(sb)
			}
			if ca, cb := a == sa.String(), b == sb.String(); ca != cb {
				if ca {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		return names
	}()
)

// IsTopKey reports whether name is one of the top-level keys of a policy
// file ([groups], [rules.r1], ...), so other readers of TOML files can
// tell a policy given in the place of another file.
func IsTopKey(name string) bool { return slices.Contains(topKeys, name) }

// Parse reads a warden TOML policy. filename is used only in positions.
// It returns everything it could read plus every problem it found. When the
// list is non-empty the caller must not load the policy; the partial Source is
// returned only so the caller can compile it and report further (semantic)
// problems in the same run (`warden validate` reports every error, not only the first).
func Parse(filename string, data []byte) (*engine.Source, diag.List) {
	if bytes.HasPrefix(data, bom) {
		// Some editors start UTF-8 files with a byte order mark, which TOML
		// does not allow. Blanks in its place keep every offset unchanged.
		data = append([]byte("   "), data[len(bom):]...)
	}
	// Capacity equal to length lets a parser highlight's capacity give its
	// offset (see readTree).
	data = data[:len(data):len(data)]
	r := &reader{data: data, loc: diag.Locator{File: filename, Data: data}, src: &engine.Source{}}
	if uint64(len(data)) > math.MaxUint32 {
		// go-toml records offsets as uint32.
		r.errorf(0, "policy file is %d bytes; at most %d are supported", len(data), uint64(math.MaxUint32))
		return r.src, r.diags
	}
	// A syntax error stops the TOML parser, and nothing after it can be
	// trusted, so the diagnostic says that no other check ran. Anything
	// else TOML forbids (a key or table defined twice) leaves a tree
	// holding each first definition, the later one detached from it, so
	// the keys of that tree are still checked and every other problem is
	// reported in the same run.
	if root := r.readTOML(); root != nil {
		r.document(root)
	}
	r.diags.Sort()
	return r.src, r.diags
}

type reader struct {
	data  []byte
	loc   diag.Locator
	src   *engine.Source
	diags diag.List
}

// readTOML returns the document as a tree, or nil after reporting why the
// file is not valid TOML.
func (r *reader) readTOML() (root *value) {
	// go-toml is third-party code fed with hostile input: a panic in it
	// becomes a diagnostic rather than taking the process down.
	defer func() {
		if p := recover(); p != nil {
			root = nil
			r.errorf(0, "invalid TOML: the TOML parser failed: %v (%s)", p, notChecked)
		}
	}()
	return r.readTree()
}

func (r *reader) pos(off int) diag.Pos { return r.loc.Pos(off) }

func (r *reader) errorf(off int, format string, args ...any) {
	r.diags.Add(r.loc.Pos(off), format, args...)
}

func (r *reader) document(root *value) {
	for _, f := range root.fields {
		switch f.key {
		case "groups":
			r.src.Groups = r.groups(r.src.Groups, f, false)
		case "roles":
			r.src.Groups = r.groups(r.src.Groups, f, true)
		case "resources":
			r.src.Resources = r.groups(r.src.Resources, f, false)
		case "actions":
			r.src.Actions = r.groups(r.src.Actions, f, false)
		case "rules":
			r.rules(f)
		case "rule_policy":
			r.rulePolicy(f)
		case "schemas":
			r.schemas(f)
		case "context":
			r.contextTable(f)
		case "strict_schemas":
			if f.val.kind != unstable.Bool {
				r.errorf(f.val.off, "strict_schemas must be true or false, found %s", describe(f.val))
				continue
			}
			r.src.StrictSchemas = f.val.str == "true"
		default:
			r.unknownKey(f, f.key, topKeys)
		}
	}
}

// groups reads one of the sections of name = [members].
func (r *reader) groups(dst []engine.Group, sec *field, role bool) []engine.Group {
	if sec.val.kind != unstable.Table {
		r.errorf(sec.val.off, "%s must be a table of name = [members] ([%s]), found %s", sec.key, sec.key, describe(sec.val))
		return dst
	}
	for _, f := range sec.val.fields {
		path := joinKey(sec.key, f.key)
		if f.val.kind != unstable.Array {
			r.errorf(f.val.off, "%s must be an array of member names, found %s", path, describe(f.val))
			continue
		}
		g := engine.Group{Name: f.key, Pos: r.pos(f.off), Section: sec.key, Role: role}
		for i, m := range f.val.elems {
			if m.kind != unstable.String {
				r.errorf(m.off, "member %d of %s must be a string (a name), found %s", i+1, path, describe(m))
				continue
			}
			g.Members = append(g.Members, engine.Member{Name: m.str, Pos: r.pos(m.off)})
		}
		dst = append(dst, g)
	}
	return dst
}

// schemas reads [schemas], name = 'template'. The templates are checked
// when the policy is compiled (engine.ParseSchema), at the positions
// recorded here, so a Source built in Go gets the same checks.
func (r *reader) schemas(sec *field) {
	if sec.val.kind != unstable.Table {
		r.errorf(sec.val.off, "schemas must be a table of name = 'template' ([schemas]), found %s", describe(sec.val))
		return
	}
	for _, f := range sec.val.fields {
		if f.val.kind != unstable.String {
			r.errorf(f.val.off, "%s must be a string template such as 'users:by_group:{group}:{id}', found %s", joinKey(sec.key, f.key), describe(f.val))
			continue
		}
		r.src.Schemas = append(r.src.Schemas, engine.Schema{Name: f.key, Template: f.val.str, Pos: r.pos(f.val.off)})
	}
}

func (r *reader) rules(f *field) {
	switch v := f.val; {
	case v.kind == unstable.Array:
		for i, rule := range v.elems {
			id := "rules." + strconv.Itoa(i+1)
			if rule.kind != unstable.Table {
				r.errorf(rule.off, "rule %s must be a table with allow and/or deny (as in [[rules]]), found %s", id, describe(rule))
				continue
			}
			r.rule(id, rule)
		}
	case v.kind == unstable.Table:
		for _, rf := range v.fields {
			id := joinKey("rules", rf.key)
			if !isBareKey(rf.key) {
				r.errorf(rf.off, "rule name %q must contain only letters, digits, '_' and '-', so that its id is unambiguous", rf.key)
			}
			if rf.val.kind != unstable.Table {
				hint := ""
				if slices.Contains(ruleKeys, rf.key) {
					hint = "; a rule without a name is written [[rules]], with two brackets"
				}
				r.errorf(rf.val.off, "%s must be a rule table ([%s]) with allow and/or deny, found %s%s", id, id, describe(rf.val), hint)
				continue
			}
			r.rule(id, rf.val)
		}
	default:
		r.errorf(v.off, "rules must be an array of rules ([[rules]]) or a table of named rules ([rules.NAME]), found %s", describe(v))
	}
}

func (r *reader) rule(id string, v *value) {
	found, dynamic := false, false
	var dynamicPos diag.Pos
	var when *engine.Condition
	first := len(r.src.Rules)
	for _, f := range v.fields {
		var effect engine.Effect
		switch f.key {
		case "allow":
			effect = engine.EffectAllow
		case "deny":
			effect = engine.EffectDeny
		case "dynamic":
			if f.val.kind != unstable.Bool {
				r.errorf(f.val.off, "%s must be true or false, found %s", joinKey(id, f.key), describe(f.val))
				continue
			}
			dynamic, dynamicPos = f.val.str == "true", r.pos(f.off)
			continue
		case "when":
			when = r.condition(id, f.val)
			continue
		default:
			r.unknownKey(f, joinKey(id, f.key), ruleKeys)
			continue
		}
		found = true
		r.items(id, effect, f)
	}
	// The condition holds for every item of the block, wherever when
	// was written in it, and for its grants (SPEC 12.1).
	for i := first; i < len(r.src.Rules); i++ {
		r.src.Rules[i].When = when
	}
	if dynamic {
		// Grants written at runtime come after the block's own items
		// (SPEC 10.2): they go before whatever rule the file has next.
		r.src.Dynamic = append(r.src.Dynamic, engine.DynamicBlock{ID: id, Pos: dynamicPos, End: len(r.src.Rules), When: when})
		return
	}
	if !found {
		r.errorf(v.off, "rule %s has neither allow nor deny; expected at least one list of [subject, resource, action] triples, or dynamic = true for a block of grants written at runtime", id)
	}
}

var tripleParts = [3]string{"subject", "resource", "action"}

func (r *reader) items(id string, effect engine.Effect, f *field) {
	path := joinKey(id, f.key)
	list := f.val
	if list.kind != unstable.Array {
		r.errorf(list.off, "%s must be an array of [subject, resource, action] triples, found %s", path, describe(list))
		return
	}
	if len(list.elems) == 3 && !slices.ContainsFunc(list.elems, func(e *value) bool { return e.kind != unstable.String }) {
		r.errorf(list.off, "%s must be an array of [subject, resource, action] triples, found a single triple; wrap it in another array: %s = [[...]]", path, f.key)
		return
	}
	for i, item := range list.elems {
		what := fmt.Sprintf("item %d of %s", i+1, path)
		if item.kind != unstable.Array {
			r.errorf(item.off, "%s must be a [subject, resource, action] triple, found %s", what, describe(item))
			continue
		}
		if n := len(item.elems); n != 3 {
			r.errorf(item.off, "%s must have 3 strings [subject, resource, action], found %d %s", what, n, plural(n, "item"))
			continue
		}
		ok := true
		for j, e := range item.elems {
			switch {
			case e.kind != unstable.String:
				r.errorf(e.off, "the %s of %s must be a string, found %s", tripleParts[j], what, describe(e))
				ok = false
			case e.str == "":
				r.errorf(e.off, "the %s of %s is empty; expected a name or pattern (\"*\" matches any)", tripleParts[j], what)
				ok = false
			}
		}
		if !ok {
			continue
		}
		s, res, a := item.elems[0], item.elems[1], item.elems[2]
		r.src.Rules = append(r.src.Rules, engine.Rule{
			ID:          id,
			Item:        i + 1,
			Effect:      effect,
			Subject:     s.str,
			Resource:    res.str,
			Action:      a.str,
			Pos:         r.pos(item.off),
			SubjectPos:  r.pos(s.off),
			ResourcePos: r.pos(res.off),
			ActionPos:   r.pos(a.off),
		})
	}
}

func (r *reader) rulePolicy(sec *field) {
	if sec.val.kind != unstable.Table {
		r.errorf(sec.val.off, "rule_policy must be a table ([rule_policy]), found %s", describe(sec.val))
		return
	}
	for _, f := range sec.val.fields {
		path := joinKey(sec.key, f.key)
		v := f.val
		switch f.key {
		case "strategy":
			if v.kind != unstable.String {
				r.errorf(v.off, "%s must be a string, one of %s; found %s", path, quoteList(strategies), describe(v))
				continue
			}
			s, ok := engine.StrategyNames[v.str]
			if !ok {
				r.errorf(v.off, "unknown strategy %q%s; expected one of %s", v.str, didYouMean(v.str, strategies), quoteList(strategies))
				continue
			}
			r.src.Strategy = s
		case "mismatch_decision":
			if v.kind != unstable.String {
				r.errorf(v.off, "%s must be the string \"allow\" or \"deny\", found %s", path, describe(v))
				continue
			}
			switch v.str {
			case "allow":
				r.src.NoMatch = engine.EffectAllow
			case "deny":
				r.src.NoMatch = engine.EffectDeny
			default:
				r.errorf(v.off, "%s must be \"allow\" or \"deny\", found %q%s", path, v.str, didYouMean(v.str, decisions))
				continue
			}
			r.src.NoMatchSet = true
			r.src.NoMatchPos = r.pos(v.off)
		case "condition_cost_limit":
			r.costLimit(path, v)
		default:
			r.unknownKey(f, path, policyKeys)
		}
	}
}

func (r *reader) unknownKey(f *field, path string, valid []string) {
	r.errorf(f.off, "unknown key %q%s; expected one of %s", path, didYouMean(f.key, valid), quoteList(valid))
}

func didYouMean(got string, candidates []string) string {
	if s := diag.Suggest(got, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// joinKey appends a key to a dotted path, quoting it as TOML would when it
// is not a bare key, so the path can be pasted back into the file.
func joinKey(path, key string) string {
	if path == "" {
		return quoteKey(key)
	}
	return path + "." + quoteKey(key)
}

func quoteKey(key string) string {
	if isBareKey(key) {
		return key
	}
	return strconv.Quote(key)
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// describe names a value's type for messages.
func describe(v *value) string {
	switch v.kind {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "a boolean"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date or time"
	case unstable.Array:
		return "an array"
	case unstable.Table:
		return "a table"
	}
	return "a " + v.kind.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
