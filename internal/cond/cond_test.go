package cond_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/cond"
)

func env(t testing.TB, limit uint64) *cond.Env {
	t.Helper()
	e, err := cond.NewEnv(cond.Options{CostLimit: limit, Attributes: []cond.Attribute{
		{Name: "mfa", Type: cond.Bool}, {Name: "ip", Type: cond.IP}, {Name: "name", Type: cond.String},
		{Name: "n", Type: cond.Int}, {Name: "amount", Type: cond.Double}, {Name: "at", Type: cond.Timestamp},
		{Name: "ttl", Type: cond.Duration}, {Name: "tags", Type: cond.StringList},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	e := env(t, 0)
	for _, tc := range []struct {
		expr   string
		offset int
		msg    string
	}{
		{"context.mfaa", 7, "undefined field 'mfaa'"},
		{"context.mfa &&", 14, "Syntax error"},
		{"context.name", 0, "must be a bool"},
		{"contxt.mfa", 0, "undeclared reference to 'contxt'"},
		{"subject == 1", 8, "no matching overload"},
		{"true\n && context.nope", 16, "undefined field 'nope'"},
		{"'é' == 'é' && context.nope", 23, "undefined field 'nope'"},
		{`context.ip.in_cidr("10.0.0.0/33")`, 19, "not a CIDR range"},
		{`ip("nope").in_cidr("10.0.0.0/8")`, 3, "not an IP address"},
		{"", 0, "empty"},
		{strings.Repeat("(", 20000), 0, "over the limit"},
		{strings.Repeat("!", 5000) + "true", 0, ""},
	} {
		c, issues := e.Compile(tc.expr)
		if tc.msg == "" {
			if c == nil && len(issues) == 0 {
				t.Errorf("%.40q: no condition and no issue", tc.expr)
			}
			continue
		}
		if c != nil || len(issues) == 0 {
			t.Errorf("%.40q: compiled, want %q", tc.expr, tc.msg)
			continue
		}
		if issues[0].Offset != tc.offset || !strings.Contains(issues[0].Message, tc.msg) {
			t.Errorf("%.40q: issue %+v, want offset %d and %q", tc.expr, issues[0], tc.offset, tc.msg)
		}
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	e := env(t, 0)
	now := time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)
	full := map[string]any{
		"mfa": true, "ip": "10.1.2.3", "name": "alice", "n": json.Number("42"), "amount": json.Number("12.5"),
		"at": "2026-03-04T09:00:00Z", "ttl": "90s", "tags": []any{"a", "b"},
	}
	for _, tc := range []struct {
		expr    string
		ctx     map[string]any
		want    bool
		err     string
		missing []string
	}{
		{"context.mfa", full, true, "", nil},
		{"context.mfa", map[string]any{}, false, "context.mfa is missing", []string{"mfa"}},
		{"has(context.mfa)", map[string]any{}, false, "", nil},
		{"context.mfa || true", map[string]any{}, true, "", nil},
		{`context.ip.in_cidr("10.0.0.0/8") && now.getHours() >= 9 && now.getHours() < 17`, full, true, "", nil},
		{`context.ip.in_cidr("192.168.0.0/16")`, full, false, "", nil},
		{`context.ip == ip("10.1.2.3")`, full, true, "", nil},
		{"resource.split(':')[1] == subject", full, true, "", nil},
		{"context.n > 41 && context.amount < 13.0 && context.ttl < duration('2m')", full, true, "", nil},
		{"context.at < now && 'b' in context.tags", full, true, "", nil},
		{"context.name.upperAscii() == 'ALICE'", full, true, "", nil},
		{"'editors' in principals", full, true, "", nil},
		{"context.n / 0 == 1", full, false, "division by zero", nil},
		{"context.mfa && context.n > 0", map[string]any{"mfa": true}, false, "missing", []string{"n"}},
	} {
		c, issues := e.Compile(tc.expr)
		if len(issues) > 0 {
			t.Fatalf("%s: %v", tc.expr, issues)
		}
		v := e.NewVars()
		v.Subject, v.Resource, v.Action = "alice", "docs:alice:1", "read"
		v.Principals = []string{"alice", "editors"}
		v.Context, v.Now = tc.ctx, now
		r := c.Eval(v)
		v.Release()
		switch {
		case tc.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tc.err)):
			t.Errorf("%s: %+v, want error %q", tc.expr, r, tc.err)
		case tc.err == "" && (r.Err != nil || r.Value != tc.want):
			t.Errorf("%s: %+v, want %v", tc.expr, r, tc.want)
		case strings.Join(r.Missing, ",") != strings.Join(tc.missing, ","):
			t.Errorf("%s: missing %v, want %v", tc.expr, r.Missing, tc.missing)
		}
	}
}

func TestCheckContext(t *testing.T) {
	t.Parallel()
	e := env(t, 0)
	deep := any("x")
	for range 100000 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		err  string
	}{
		{"ok", map[string]any{"mfa": true, "n": 3, "amount": 2, "ip": netip.MustParseAddr("::1"), "at": time.Now(), "ttl": time.Second}, ""},
		{"undeclared", map[string]any{"mfaa": true}, "not declared"},
		{"wrong type", map[string]any{"mfa": "true"}, "want a bool, found a string"},
		{"NaN", map[string]any{"amount": math.NaN()}, "finite"},
		{"Inf", map[string]any{"amount": math.Inf(1)}, "finite"},
		{"huge int", map[string]any{"n": json.Number("9223372036854775808")}, "64 bits"},
		{"fraction as int", map[string]any{"n": json.Number("1.5")}, "64 bits"},
		{"float not integral", map[string]any{"n": 1.5}, "64 bits"},
		{"uint over", map[string]any{"n": uint64(math.MaxUint64)}, "64 bits"},
		{"huge double", map[string]any{"amount": json.Number("1e400")}, "finite"},
		{"timestamp year 10000", map[string]any{"at": "10000-01-01T00:00:00Z"}, "RFC 3339"},
		{"timestamp year 0", map[string]any{"at": time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside"},
		{"timestamp not RFC 3339", map[string]any{"at": "yesterday"}, "RFC 3339"},
		{"duration overflow", map[string]any{"ttl": "100000000h"}, "duration"},
		{"ip zone", map[string]any{"ip": "fe80::1%eth0"}, "zone"},
		{"ip garbage", map[string]any{"ip": "10.0.0.256"}, "IP address"},
		{"list of numbers", map[string]any{"tags": []any{"a", json.Number("1")}}, "element 1"},
		{"deep nesting", map[string]any{"tags": deep}, "element 0"},
		{"object", map[string]any{"name": map[string]any{"a": "b"}}, "found an object"},
		{"null", map[string]any{"mfa": nil}, "found null"},
		{"huge string", map[string]any{"name": strings.Repeat("x", cond.MaxValueBytes+1)}, "over the limit"},
	} {
		err := e.CheckContext(tc.ctx)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestCostLimit(t *testing.T) {
	t.Parallel()
	e := env(t, 1000)
	for _, tc := range []struct {
		expr    string
		tracked bool
		over    bool
	}{
		{"context.mfa", false, false},
		{"context.name.contains('xxxxxxxxxx')", true, true},
		{"context.tags.all(t, t.size() < 3)", true, true},
		{"[1,2,3,4,5,6,7,8,9,10].all(x, [1,2,3,4,5,6,7,8,9,10].all(y, [1,2,3,4,5,6,7,8,9,10].all(z, x+y+z > 0)))", true, true},
	} {
		c, issues := e.Compile(tc.expr)
		if len(issues) > 0 {
			t.Fatalf("%s: %v", tc.expr, issues)
		}
		if c.Tracked() != tc.tracked {
			t.Errorf("%s: tracked %v, want %v", tc.expr, c.Tracked(), tc.tracked)
		}
		v := e.NewVars()
		v.Context = map[string]any{"mfa": true, "name": strings.Repeat("a", 100000), "tags": make([]string, 5000)}
		r := c.Eval(v)
		v.Release()
		if got := errors.Is(r.Err, cond.ErrCostLimit); got != tc.over {
			t.Errorf("%s: %+v, over the limit %v, want %v", tc.expr, r, got, tc.over)
		}
	}
}

func TestConstantAndReads(t *testing.T) {
	t.Parallel()
	e := env(t, 0)
	for _, tc := range []struct {
		expr     string
		constant bool
		value    bool
		reads    string
	}{
		{"true", true, true, ""},
		{"1 > 2", true, false, ""},
		{"context.mfa || true", true, true, "mfa"},
		{"has(context.mfa) && context.n > 1", false, false, "mfa,n"},
		{"now.getHours() < 25", false, false, ""},
	} {
		c, issues := e.Compile(tc.expr)
		if len(issues) > 0 {
			t.Fatalf("%s: %v", tc.expr, issues)
		}
		v, ok := c.Constant()
		if ok != tc.constant || v != tc.value {
			t.Errorf("%s: constant %v %v, want %v %v", tc.expr, ok, v, tc.constant, tc.value)
		}
		if got := strings.Join(c.Reads(), ","); got != tc.reads {
			t.Errorf("%s: reads %q, want %q", tc.expr, got, tc.reads)
		}
	}
}
