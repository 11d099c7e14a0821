package sqlfilter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/internal/sqlfilter"
)

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

// dialect is a store that keeps text upper-cased and times in whole
// seconds, with a prefix taken up to the first '*'.
var dialect = sqlfilter.Dialect{
	Text: strings.ToUpper,
	Prefix: func(src string) (string, bool) {
		i := strings.IndexAny(src, "*,")
		if i < 0 {
			return strings.ToUpper(src), true
		}
		return strings.ToUpper(src[:i]), false
	},
	Successor: func(p string) (string, bool) {
		if p == "" || p[len(p)-1] == 0xff {
			return "", false
		}
		return p[:len(p)-1] + string(p[len(p)-1]+1), true
	},
	MinTime: t0, MaxTime: t1,
	Time: func(t time.Time, until bool) (string, any, bool) {
		op := ">="
		if until {
			op = "<"
		}
		return "t " + op + " ?", t.Unix(), t.Truncate(time.Second).Equal(t)
	},
}

func TestBuild(t *testing.T) {
	t.Parallel()
	yes := true
	mid := t0.Add(time.Hour)
	for _, tc := range []struct {
		name          string
		q             audit.Query
		noCursor      bool
		clause        string
		args          []any
		exact, ranged bool
		none          bool
	}{
		{name: "everything", exact: true},
		{name: "exact filters", q: audit.Query{Subject: "al", Status: audit.StatusDenied, Allowed: &yes, After: "id9", Action: "read"},
			clause: " WHERE subject = ? AND status = ? AND allowed = ? AND id > ? AND action = ?", args: []any{"AL", "DENIED", true, "id9", "READ"}, exact: true},
		{name: "cursor left to the store", q: audit.Query{After: "id9"}, noCursor: true, exact: true},
		{name: "resource prefix", q: audit.Query{Resource: "doc:*"}, clause: " WHERE resource >= ? AND resource < ?", args: []any{"DOC:", "DOC;"}, ranged: true},
		{name: "action prefix is not a resource range", q: audit.Query{Action: "doc:*"}, clause: " WHERE action >= ? AND action < ?", args: []any{"DOC:", "DOC;"}},
		{name: "no prefix", q: audit.Query{Resource: "*:x"}},
		{name: "star", q: audit.Query{Resource: "*"}, exact: true},
		{name: "times", q: audit.Query{Since: mid, Until: mid.Add(time.Nanosecond)}, clause: " WHERE t >= ? AND t < ?", args: []any{mid.Unix(), mid.Unix()}},
		{name: "times outside the store's range", q: audit.Query{Since: t0.Add(-time.Hour), Until: t1.Add(time.Hour)}, exact: true},
		{name: "since after every storable time", q: audit.Query{Since: t1.Add(time.Second)}, none: true},
		{name: "until before every storable time", q: audit.Query{Until: t0}, none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := dialect
			d.NoCursor = tc.noCursor
			w, ok := sqlfilter.Build(tc.q, d)
			if ok == tc.none {
				t.Fatalf("ok = %t", ok)
			}
			if tc.none {
				return
			}
			if w.Clause() != tc.clause || !cmp.Equal(w.Args, tc.args) || w.Exact != tc.exact || w.ResourceRange != tc.ranged {
				t.Errorf("got %q %v exact %t ranged %t\nwant %q %v exact %t ranged %t", w.Clause(), w.Args, w.Exact, w.ResourceRange, tc.clause, tc.args, tc.exact, tc.ranged)
			}
		})
	}
}

func TestCloneAndNumbered(t *testing.T) {
	t.Parallel()
	w, _ := sqlfilter.Build(audit.Query{Subject: "a"}, dialect)
	c := w.Clone()
	c.And("id > ?", "x")
	if w.Clause() != " WHERE subject = ?" || len(w.Args) != 1 {
		t.Errorf("Clone shares with the original: %q %v", w.Clause(), w.Args)
	}
	if got := sqlfilter.Numbered("SELECT" + c.Clause() + " LIMIT ?"); got != "SELECT WHERE subject = $1 AND id > $2 LIMIT $3" {
		t.Errorf("Numbered: %q", got)
	}
	var zero sqlfilter.Where
	if zero.Clause() != "" || zero.Args != nil || zero.Exact {
		t.Errorf("zero Where: %q %v", zero.Clause(), zero.Args)
	}
}
