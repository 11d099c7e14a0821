// Package testfile owns warden's policy test files: their format, read by
// Parse with every problem at file:line:col, and running them, which
// decides each case with the compiled engine and tracks which rule items
// some case decided (RunFiles). Two front ends share it: `warden test`
// (internal/cli) prints a suite, and the public package policytest runs
// the same files as subtests under go test. Keeping format and runner
// here, not in either front end, means both read a file the same way and
// report the same failures; keeping them internal leaves the public
// surface at policytest.Run alone.
package testfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

// A test file names a policy and lists requests with their expected
// decisions (docs/analysis.md):
//
//	policy = "policy.toml"          # relative to the test file
//
//	[[cases]]
//	name = "a desk writes its own category"   # optional
//	subject = "alice"
//	resource = "articles:animals:42"          # "" for no particular resource
//	action = "articles:update"
//	allowed = true
//	rule = "rules.desks allow[1]"             # optional: "rules.desks" or with its item
//	effect = "allow"                          # optional: allow, deny or none
//	reason = "desk_animals"                   # optional: a substring of the reason
//	context = { mfa = true, ip = "10.1.2.3" }  # optional: the request's context (SPEC 12)
//	now = 2026-03-04T10:00:00Z                # optional: the time conditions read as now

// MaxBytes bounds a test file, as a policy file is bounded by what
// the TOML parser supports: a test file is read whole.
const MaxBytes = 16 << 20

// File is a parsed test file. Running it does not change it, so one File
// may run concurrently against several policies. The zero File has no
// policy and no cases: it runs nothing, and Parse never returns one
// without errors.
type File struct {
	Path string
	// Policy is the policy path as written; PolicyPos is where.
	Policy    string
	PolicyPos diag.Pos
	Cases     []Case
}

// Case is one expected decision. It is a plain value, read-only to the
// runner. The zero Case expects a request with no subject and no action,
// which is invalid: running it is an error, never a pass.
type Case struct {
	Name                      string
	Pos                       diag.Pos // the [[cases]] header
	Subject, Resource, Action string
	Allowed                   bool
	// Rule, when set, is the deciding rule's id; Item and ItemEffect, when
	// Item > 0, name the item too ("rules.desks allow[1]").
	Rule       string
	RulePos    diag.Pos
	Item       int
	ItemEffect engine.Effect
	// Effect, when EffectSet, is the expected effect (none: no rule
	// matched).
	Effect    engine.Effect
	EffectSet bool
	Reason    string
	ReasonSet bool
	// Context is the request's context, and Now the time its conditions
	// read as now; the zero Now means the clock's (SPEC 12).
	Context map[string]any
	Now     time.Time
}

// Label names a case in reports: its name, or its request.
func (c *Case) Label() string {
	if c == nil {
		return "(no case)"
	}
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("%s %s %s", c.Subject, c.Action, displayResource(c.Resource))
}

func displayResource(r string) string {
	if r == "" {
		return `""`
	}
	return r
}

var (
	testTopKeys  = []string{"policy", "cases"}
	testCaseKeys = []string{"name", "subject", "resource", "action", "allowed", "rule", "effect", "reason", "context", "now"}
	// ruleItem is "rules.desks allow[1]", as explanations print items.
	ruleItem = regexp.MustCompile(`^(\S+) (allow|deny)\[([1-9][0-9]{0,8})\]$`)
)

// Parse reads a test file. filename is used in positions. It
// reports every problem it finds, each with file:line:col; with any
// problem the file must not be run.
func Parse(filename string, data []byte) (tf *File, errs diag.List) {
	data = data[:len(data):len(data)]
	// A BOM is blanked below, in place of its three bytes, so offsets and
	// lines are the same in the original data.
	t := &testReader{data: data, loc: diag.Locator{File: filename, Data: data}, tf: &File{Path: filename}}
	if len(data) > MaxBytes || uint64(len(data)) > math.MaxUint32 {
		t.errorf(0, "test file is %d bytes, over the limit of %d", len(data), MaxBytes)
		return t.tf, t.errs
	}
	if bytes.HasPrefix(t.data, []byte("\xef\xbb\xbf")) {
		t.data = append([]byte("   "), t.data[3:]...)
		t.data = t.data[:len(t.data):len(t.data)]
	}
	func() {
		// go-toml is fed hostile input here: a panic in it becomes a
		// diagnostic rather than ending the test run.
		defer func() {
			if p := recover(); p != nil {
				t.errorf(0, "invalid TOML: the TOML parser failed: %v", p)
			}
		}()
		t.read()
	}()
	t.errs.Sort()
	return t.tf, t.errs
}

type testReader struct {
	data []byte
	loc  diag.Locator
	tf   *File
	errs diag.List
	// seen records the keys of the current table, for duplicates.
	seen map[string]int
	cur  *caseDraft
	// policySet records that the top-level policy key was read.
	policySet bool
	// policyKeys records a top-level key or table of a policy file
	// ([groups], [rules.r1]): with no policy key and no case, the file
	// is a policy given in the place of its tests.
	policyKeys bool
}

type caseDraft struct {
	c   Case
	off int
	has map[string]bool
}

func (t *testReader) pos(off int) diag.Pos { return t.loc.Pos(off) }

func (t *testReader) errorf(off int, format string, args ...any) {
	t.errs.Add(t.pos(off), format, args...)
}

func (t *testReader) read() {
	var p unstable.Parser
	p.Reset(t.data)
	t.seen = map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			t.keyValue(e)
		case unstable.ArrayTable:
			t.finishCase()
			name, off := t.key(e)
			if name != "cases" {
				t.errorf(off, "unknown table [[%s]]%s; each case is a [[cases]] table", name, didYouMean(name, []string{"cases"}))
				t.cur = &caseDraft{has: map[string]bool{}} // read it, report nothing more about it
				t.cur.off = -1
				t.seen = map[string]int{}
				continue
			}
			t.cur = &caseDraft{off: t.headerStart(off), has: map[string]bool{}}
			t.cur.c.Pos = t.pos(t.cur.off)
			t.seen = map[string]int{}
		case unstable.Table:
			t.finishCase()
			name, off := t.key(e)
			t.notePolicyKey(name)
			t.errorf(off, "unknown table [%s]; each case is a [[cases]] table (two brackets), and policy is a key at the top of the file", name)
			t.cur = &caseDraft{off: -1, has: map[string]bool{}}
			t.seen = map[string]int{}
		}
	}
	if err := p.Error(); err != nil {
		off := 0
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			off = len(t.data) - cap(perr.Highlight)
		}
		t.errorf(off, "invalid TOML: %s", err.Error())
		return
	}
	t.finishCase()
	if !t.policySet && len(t.tf.Cases) == 0 && t.policyKeys {
		// One line says what happened, rather than one per table.
		t.errs = nil
		t.errorf(0, "this is a policy file, not a policy test file: a test file names the policy it tests (policy = 'policy.toml') and lists [[cases]] (docs/analysis.md)")
		return
	}
	if !t.policySet {
		t.errorf(0, "missing policy = \"FILE\": the policy file the cases test, relative to this file")
	}
	if len(t.tf.Cases) == 0 && len(t.errs) == 0 {
		t.errorf(0, "no cases: add at least one [[cases]] table with subject, resource, action and allowed")
	}
}

// key returns a header's or key/value's key as written (dotted parts
// joined) and the offset of its first part.
func (t *testReader) key(n *unstable.Node) (string, int) {
	var parts []string
	off := -1
	for it := n.Key(); it.Next(); {
		k := it.Node()
		if off < 0 {
			off = int(k.Raw.Offset)
		}
		parts = append(parts, string(k.Data))
	}
	return strings.Join(parts, "."), max(off, 0)
}

func (t *testReader) headerStart(off int) int {
	for off > 0 && t.data[off-1] != '\n' && (t.data[off-1] == '[' || t.data[off-1] == ' ' || t.data[off-1] == '\t') {
		off--
	}
	return off
}

// keyValue reads one key = value line, at the top of the file or in the
// case being read.
// notePolicyKey records a top-level key or table of a policy file.
func (t *testReader) notePolicyKey(name string) {
	first, _, _ := strings.Cut(name, ".")
	t.policyKeys = t.policyKeys || config.IsTopKey(first)
}

func (t *testReader) keyValue(e *unstable.Node) {
	name, off := t.key(e)
	if t.cur == nil {
		t.notePolicyKey(name)
	}
	v := e.Value()
	voff := off
	if v.Kind != unstable.Array && v.Kind != unstable.InlineTable {
		voff = int(v.Raw.Offset)
	}
	if first, dup := t.seen[name]; dup {
		t.errorf(off, "invalid TOML: %s is already defined at %s", name, t.pos(first))
		return
	}
	t.seen[name] = off
	switch {
	case t.cur == nil:
		t.topKey(name, v, off, voff)
	case t.cur.off >= 0: // not inside an unknown table, already reported
		t.cur.has[name] = true
		t.caseKey(&t.cur.c, name, v, off, voff)
	}
}

// topKey reads a key written before the first case: policy.
func (t *testReader) topKey(name string, v *unstable.Node, off, voff int) {
	switch name {
	case "policy":
		if s, ok := t.str(name, v, voff); ok {
			if s == "" {
				t.errorf(voff, "policy is empty; expected the path of a policy file, relative to this file")
				return
			}
			t.tf.Policy, t.tf.PolicyPos, t.policySet = s, t.pos(voff), true
		}
	case "cases":
		t.errorf(off, "cases must be written as [[cases]] tables, one per case, not as a key")
	default:
		t.errorf(off, "unknown key %q%s; expected one of %s", name, didYouMean(name, testTopKeys), quoteList(testTopKeys))
	}
}

// caseKey reads one key of a case into c.
func (t *testReader) caseKey(c *Case, name string, v *unstable.Node, off, voff int) {
	switch name {
	case "name":
		c.Name, _ = t.str(name, v, voff)
	case "subject", "action", "resource":
		t.requestName(c, name, v, voff)
	case "allowed":
		if v.Kind != unstable.Bool {
			t.errorf(voff, "allowed must be true or false, found %s", describeNode(v))
			return
		}
		c.Allowed = string(v.Data) == "true"
	case "rule":
		if s, ok := t.str(name, v, voff); ok {
			t.rule(c, s, voff)
		}
	case "effect":
		if s, ok := t.str(name, v, voff); ok {
			t.effect(c, s, voff)
		}
	case "reason":
		if s, ok := t.str(name, v, voff); ok {
			c.Reason, c.ReasonSet = s, true
		}
	case "context":
		if v.Kind != unstable.InlineTable {
			t.errorf(voff, "context must be an inline table of attributes, such as { mfa = true }, found %s", describeNode(v))
			return
		}
		c.Context = t.table(v)
	case "now":
		switch v.Kind {
		case unstable.DateTime, unstable.String:
			now, err := time.Parse(time.RFC3339Nano, string(v.Data))
			if err != nil {
				t.errorf(voff, "now must be a time with its offset, such as 2026-03-04T10:00:00Z, found %q", v.Data)
				return
			}
			c.Now = now
		default:
			t.errorf(voff, "now must be a time with its offset, such as 2026-03-04T10:00:00Z, found %s", describeNode(v))
		}
	case "policy":
		t.errorf(off, "policy belongs at the top of the file, before the first [[cases]]")
	default:
		t.errorf(off, "unknown key %q in a case%s; expected one of %s", name, didYouMean(name, testCaseKeys), quoteList(testCaseKeys))
	}
}

// requestName reads the subject, resource or action of a case's request:
// one name, never a pattern; the resource may be "" (SPEC 1.4).
func (t *testReader) requestName(c *Case, name string, v *unstable.Node, voff int) {
	s, ok := t.str(name, v, voff)
	if !ok {
		return
	}
	if name == "resource" && s == "" {
		c.Resource = s
		return
	}
	if err := pattern.CheckName(s); err != nil {
		if name == "resource" {
			t.errorf(voff, "resource: %s; a case's request names one resource (\"\" for none), never a pattern", unwrap(err))
		} else {
			t.errorf(voff, "%s: %s; a case's request names one subject and one action, never a pattern", name, unwrap(err))
		}
		return
	}
	switch name {
	case "subject":
		c.Subject = s
	case "action":
		c.Action = s
	default:
		c.Resource = s
	}
}

// rule reads the rule expected to decide: an id, or an item.
func (t *testReader) rule(c *Case, s string, voff int) {
	c.RulePos = t.pos(voff)
	if m := ruleItem.FindStringSubmatch(s); m != nil {
		c.Rule = m[1]
		c.Item, _ = strconv.Atoi(m[3])
		c.ItemEffect = engine.EffectAllow
		if m[2] == "deny" {
			c.ItemEffect = engine.EffectDeny
		}
		return
	}
	if s == "" || strings.ContainsAny(s, " \t[]") {
		t.errorf(voff, "rule %q: expected a rule id such as \"rules.r1\", or an item such as \"rules.r1 allow[2]\"", s)
		return
	}
	c.Rule = s
}

// effect reads the expected effect: allow, deny, or none for no match.
func (t *testReader) effect(c *Case, s string, voff int) {
	switch s {
	case "allow":
		c.Effect = engine.EffectAllow
	case "deny":
		c.Effect = engine.EffectDeny
	case "none":
		c.Effect = engine.EffectNone
	default:
		t.errorf(voff, "effect must be \"allow\", \"deny\" or \"none\" (no rule matched), found %q%s", s, didYouMean(s, []string{"allow", "deny", "none"}))
		return
	}
	c.EffectSet = true
}

func (t *testReader) str(name string, v *unstable.Node, off int) (string, bool) {
	if v.Kind != unstable.String {
		t.errorf(off, "%s must be a string, found %s", name, describeNode(v))
		return "", false
	}
	return string(v.Data), true
}

// table reads an inline table as a request's context: each value as the
// wire would give it (strings, booleans, integers as json.Number, floats,
// arrays), and a TOML time as a time.Time. Whether the values fit the
// policy's [context] is the policy's to say, when the case runs.
func (t *testReader) table(v *unstable.Node) map[string]any {
	out := map[string]any{}
	for it := v.Children(); it.Next(); {
		kv := it.Node()
		if kv.Kind != unstable.KeyValue {
			continue
		}
		name, _ := t.key(kv)
		out[name] = t.contextValue(kv.Value())
	}
	return out
}

func (t *testReader) contextValue(v *unstable.Node) any {
	switch v.Kind {
	case unstable.String:
		return string(v.Data)
	case unstable.Bool:
		return string(v.Data) == "true"
	case unstable.Integer:
		n, err := strconv.ParseInt(strings.ReplaceAll(string(v.Data), "_", ""), 0, 64)
		if err != nil {
			return json.Number(v.Data) // out of range: the policy says so
		}
		return json.Number(strconv.FormatInt(n, 10))
	case unstable.Float:
		f, err := strconv.ParseFloat(strings.ReplaceAll(string(v.Data), "_", ""), 64)
		if err != nil {
			return string(v.Data)
		}
		return f
	case unstable.DateTime:
		if ts, err := time.Parse(time.RFC3339Nano, string(v.Data)); err == nil {
			return ts
		}
	case unstable.Array:
		var out []any
		for it := v.Children(); it.Next(); {
			out = append(out, t.contextValue(it.Node()))
		}
		return out
	case unstable.InlineTable:
		return t.table(v)
	}
	return string(v.Data) // a local date or time: the policy refuses it
}

// finishCase checks the case being read has what every case needs.
func (t *testReader) finishCase() {
	c := t.cur
	t.cur = nil
	if c == nil || c.off < 0 {
		return
	}
	var missing []string
	for _, k := range []string{"subject", "resource", "action", "allowed"} {
		if !c.has[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.errorf(c.off, "case %q is missing %s; every case needs subject, resource (\"\" for none), action and allowed",
			c.c.Label(), strings.Join(missing, ", "))
		return
	}
	t.tf.Cases = append(t.tf.Cases, c.c)
}

func unwrap(err error) string {
	return strings.TrimPrefix(err.Error(), pattern.ErrInvalidName.Error()+": ")
}

func describeNode(v *unstable.Node) string {
	switch v.Kind {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "a boolean"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date or time"
	}
	return "a " + v.Kind.String()
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// didYouMean suggests the closest candidate for a misspelt key or value,
// as the policy file's errors do (diag.Suggest).
func didYouMean(got string, candidates []string) string {
	best := diag.Suggest(got, candidates)
	if best == "" || best == got {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
