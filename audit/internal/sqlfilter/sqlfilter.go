// Package sqlfilter builds the WHERE clause of an audit query for the SQL
// stores, audit/sqlite and audit/postgres. The two decide the same
// filters the same way; what differs is how a store writes a parameter,
// stores text and time, and orders strings, which a Dialect says.
//
// Only constant SQL text is ever concatenated: every value from a query is
// a bound parameter, written ? here and numbered by Numbered where the
// store wants $1, $2, ...
//
// SQL decides what it can exactly, and narrows the rest: a pattern by its
// literal prefix, a time by the store's resolution. Where.Exact says
// whether SQL decided everything; when it did not, the store must filter
// the rows with audit.Matcher, which it does anyway as a check.
package sqlfilter

import (
	"strconv"
	"strings"
	"time"

	"github.com/warden-authz/warden/audit"
)

// Dialect is what a store tells the builder. Every field is required but
// Text, whose nil means strings are stored as they are.
type Dialect struct {
	// Text maps a string to the form its column stores.
	Text func(string) string
	// Prefix returns, in stored form, a prefix every name a pattern
	// matches starts with, and whether the pattern is exactly that
	// literal name.
	Prefix func(pattern string) (prefix string, literal bool)
	// Successor returns the least stored string greater than every one
	// that starts with p, for the range [p, successor); ok is false when
	// there is none.
	Successor func(p string) (string, bool)
	// MinTime and MaxTime bound the times the store can hold.
	MinTime, MaxTime time.Time
	// Time returns the condition bounding the time column by t, a time
	// within bounds: from t on (Since), or before t when until is set,
	// with its argument, and whether it decides the bound exactly.
	Time func(t time.Time, until bool) (cond string, arg any, exact bool)
	// NoCursor leaves Query.After to the store, which pages by it
	// itself; otherwise it becomes id > After.
	NoCursor bool
}

// Where is a built WHERE clause. The zero Where has no conditions and is
// not Exact, so a store given one filters every row with audit.Matcher.
type Where struct {
	conds []string
	// Args are the parameters of the conditions, in order.
	Args []any
	// Exact is true when the conditions decide every filter of the
	// query, so the store may apply the page limit in SQL.
	Exact bool
	// ResourceRange is true when the resource pattern was narrowed to a
	// range of its literal prefix, not decided.
	ResourceRange bool
}

// And adds a condition with its parameters, one ? each.
func (w *Where) And(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.Args = append(w.Args, args...)
}

// Clause is " WHERE c1 AND c2 ...", or "" with no conditions.
func (w *Where) Clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Clone returns a copy that conditions can be added to without changing w.
func (w *Where) Clone() Where {
	c := *w
	c.conds = append([]string(nil), w.conds...)
	c.Args = append([]any(nil), w.Args...)
	return c
}

// Build turns q's filters into a WHERE clause. ok is false when no event
// the store can hold matches q: the store then answers with no events
// without asking the database. q's patterns must be valid (q.Compile
// checks them).
func Build(q audit.Query, d Dialect) (w Where, ok bool) {
	text := d.Text
	if text == nil {
		text = func(s string) string { return s }
	}
	w.Exact = true
	if q.Subject != "" {
		w.And("subject = ?", text(q.Subject))
	}
	if q.Status != "" {
		w.And("status = ?", text(string(q.Status)))
	}
	if q.Allowed != nil {
		w.And("allowed = ?", *q.Allowed)
	}
	if !q.Since.IsZero() {
		switch {
		case q.Since.After(d.MaxTime):
			return w, false // no storable time is that late
		case !q.Since.Before(d.MinTime):
			w.time(d, q.Since, false)
		} // earlier than every storable time: no bound
	}
	if !q.Until.IsZero() {
		switch {
		case !q.Until.After(d.MinTime):
			return w, false // no storable time is earlier
		case !q.Until.After(d.MaxTime):
			w.time(d, q.Until, true)
		} // later than every storable time: no bound
	}
	if q.After != "" && !d.NoCursor {
		w.And("id > ?", q.After)
	}
	for _, p := range []struct{ col, src string }{{"action", q.Action}, {"resource", q.Resource}} {
		exact, ranged := w.pattern(d, p.col, p.src)
		w.Exact = w.Exact && exact
		w.ResourceRange = w.ResourceRange || (p.col == "resource" && ranged)
	}
	return w, true
}

func (w *Where) time(d Dialect, t time.Time, until bool) {
	cond, arg, exact := d.Time(t, until)
	w.And(cond, arg)
	w.Exact = w.Exact && exact
}

// pattern narrows column col to the names pattern src can match. exact
// reports whether that decides the pattern (no pattern, "*", or a
// literal), ranged whether it narrowed the column to a range.
func (w *Where) pattern(d Dialect, col, src string) (exact, ranged bool) {
	if src == "" || src == "*" {
		return true, false
	}
	prefix, literal := d.Prefix(src)
	if literal {
		w.And(col+" = ?", prefix)
		return true, false
	}
	if prefix == "" {
		return false, false
	}
	if hi, ok := d.Successor(prefix); ok {
		w.And(col+" >= ? AND "+col+" < ?", prefix, hi)
	} else {
		w.And(col+" >= ?", prefix)
	}
	return false, true
}

// Numbered rewrites the ? parameters of sql as $1, $2, ... in order, for
// stores whose driver wants numbered parameters. sql must be constant
// text, as Build writes it: a ? inside a literal would be rewritten too.
func Numbered(sql string) string {
	if strings.IndexByte(sql, '?') < 0 {
		return sql
	}
	var b strings.Builder
	b.Grow(len(sql) + 16)
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] != '?' {
			b.WriteByte(sql[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
