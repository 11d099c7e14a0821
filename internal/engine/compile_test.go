package engine_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

func at(line int) diag.Pos { return diag.Pos{File: "p.toml", Line: line, Col: 1} }

func rule(id string, eff engine.Effect, s, r, a string) engine.Rule {
	return engine.Rule{ID: id, Item: 1, Effect: eff, Subject: s, Resource: r, Action: a,
		Pos: at(9), SubjectPos: at(10), ResourcePos: at(11), ActionPos: at(12)}
}

// TestCompileRejects: every semantic problem is reported at its position,
// and a source with any problem compiles to nothing (SPEC 6.2).
func TestCompileRejects(t *testing.T) {
	t.Parallel()
	allow := engine.EffectAllow
	tests := []struct {
		name string
		src  engine.Source
		pos  int
		msg  string
	}{
		{"group and role share a name", engine.Source{Groups: []engine.Group{
			{Name: "admin", Section: "groups", Pos: at(1)},
			{Name: "admin", Section: "roles", Role: true, Pos: at(2)},
		}}, 2, `"admin" is declared both as a group (at p.toml:1:1) and as a role`},
		{"group declared twice", engine.Source{Groups: []engine.Group{
			{Name: "g", Section: "groups", Pos: at(1)}, {Name: "g", Section: "groups", Pos: at(3)},
		}}, 3, "declared twice"},
		{"group lists a role", engine.Source{Groups: []engine.Group{
			{Name: "g", Section: "groups", Pos: at(1), Members: []engine.Member{{Name: "admin", Pos: at(4)}}},
			{Name: "admin", Section: "roles", Role: true, Pos: at(2)},
		}}, 4, `group "g" lists role "admin"`},
		{"pattern in a user group", engine.Source{Groups: []engine.Group{
			{Name: "g", Section: "groups", Pos: at(1), Members: []engine.Member{{Name: "*@example.com", Pos: at(5)}}},
		}}, 5, "is a pattern"},
		{"bad group name", engine.Source{Groups: []engine.Group{{Name: "a b", Section: "groups", Pos: at(6)}}}, 6, "space"},
		{"pattern as a group name", engine.Source{Resources: []engine.Group{{Name: "res*", Section: "resources", Pos: at(6)}}}, 6, "pattern character"},
		{"empty member", engine.Source{Groups: []engine.Group{{Name: "g", Section: "groups", Pos: at(1), Members: []engine.Member{{Name: "", Pos: at(7)}}}}}, 7, "empty"},
		{"bad member pattern", engine.Source{Resources: []engine.Group{{Name: "r", Section: "resources", Pos: at(1), Members: []engine.Member{{Name: "a:,b:*", Pos: at(8)}}}}}, 8, "empty alternative"},
		{"bad subject pattern", engine.Source{Rules: []engine.Rule{rule("rules.1", allow, "a::b", "r", "x")}}, 10, "subject pattern"},
		{"bad resource pattern", engine.Source{Rules: []engine.Rule{rule("rules.1", allow, "a", "{r}", "x")}}, 11, "resource pattern"},
		{"bad action pattern", engine.Source{Rules: []engine.Rule{rule("rules.1", allow, "a", "r", "x,")}}, 12, "action pattern"},
		{"empty action", engine.Source{Rules: []engine.Rule{rule("rules.1", allow, "a", "r", "")}}, 12, "empty pattern"},
		{"over-long pattern", engine.Source{Rules: []engine.Rule{rule("rules.1", allow, strings.Repeat("a", 1025), "r", "x")}}, 10, "over the limit"},
		{"missing effect", engine.Source{Rules: []engine.Rule{rule("rules.1", engine.EffectNone, "a", "r", "x")}}, 9, "effect must be allow or deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, errs := engine.Compile(&tt.src)
			if p != nil {
				t.Fatal("a source with problems compiled")
			}
			if len(errs) == 0 {
				t.Fatal("no diagnostics")
			}
			d := errs[0]
			if d.Line != tt.pos || !strings.Contains(d.Message, tt.msg) {
				t.Errorf("got %v; want line %d with %q", errs, tt.pos, tt.msg)
			}
		})
	}
}

// TestCompileReportsAll: every problem is reported in one run, in position
// order, not only the first.
func TestCompileReportsAll(t *testing.T) {
	t.Parallel()
	src := engine.Source{
		Groups: []engine.Group{{Name: "g g", Section: "groups", Pos: at(1)}},
		Rules: []engine.Rule{
			rule("rules.1", engine.EffectAllow, "a*b:", "r", "x"),
			rule("rules.2", engine.EffectDeny, "a", "r,", ",x"),
		},
	}
	_, errs := engine.Compile(&src)
	if len(errs) != 4 {
		t.Fatalf("%d diagnostics, want 4: %v", len(errs), errs)
	}
}

// TestZeroAndNilPolicy: nothing uncompiled ever allows.
func TestZeroAndNilPolicy(t *testing.T) {
	t.Parallel()
	var p *engine.Policy
	d, err := p.Decide(&engine.Query{Subject: "alice", Resource: "doc", Action: "read"})
	if d.Allowed || !errors.Is(err, engine.ErrNoPolicy) {
		t.Errorf("nil policy: %+v, %v", d, err)
	}
	if _, err := p.Explain(&engine.Query{Subject: "alice", Resource: "doc", Action: "read"}); !errors.Is(err, engine.ErrNoPolicy) {
		t.Errorf("nil policy Explain: %v", err)
	}
	empty, errs := engine.Compile(&engine.Source{})
	if errs != nil {
		t.Fatal(errs)
	}
	if d, err := empty.Decide(&engine.Query{Subject: "alice", Resource: "doc", Action: "read"}); d.Allowed || err != nil || d.Effect != engine.EffectNone {
		t.Errorf("empty policy: %+v, %v", d, err)
	}
	if d := (engine.Decision{}); d.Allowed {
		t.Error("zero Decision allows")
	}
}

// TestInvalidRequests: a request that breaks SPEC 1 is an error, not a deny,
// and the decision that comes with it denies (SPEC 1.3).
func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	p, errs := engine.Compile(&engine.Source{Rules: []engine.Rule{rule("rules.1", engine.EffectAllow, "*", "*", "*")}})
	if errs != nil {
		t.Fatal(errs)
	}
	long := strings.Repeat("a", 1025)
	deep := strings.Repeat("a:", 64) + "a"
	tests := []struct{ s, r, a, field string }{
		{"", "r", "x", "subject"},
		{"u", "r", "", "action"},
		{"*", "r", "x", "subject"},
		{"u*", "r", "x", "subject"},
		{"u", "*", "x", "resource"},
		{"u", "a,b", "x", "resource"},
		{"u", "r", "read,write", "action"},
		{"u", "r:", "x", "resource"},
		{"u", ":r", "x", "resource"},
		{"u", "r", "{x}", "action"},
		{"a b", "r", "x", "subject"},
		{"u\n", "r", "x", "subject"},
		{"u", "r\x00", "x", "resource"},
		{long, "r", "x", "subject"},
		{"u", deep, "x", "resource"},
		{"u", "r", "\xff", "action"},
	}
	for _, tt := range tests {
		d, err := p.Decide(&engine.Query{Subject: tt.s, Resource: tt.r, Action: tt.a})
		if !errors.Is(err, engine.ErrInvalidRequest) || d.Allowed {
			t.Errorf("Decide(%q, %q, %q) = %+v, %v; want a denying ErrInvalidRequest", tt.s, tt.r, tt.a, d, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Decide(%q, %q, %q) error %q does not name the %s", tt.s, tt.r, tt.a, err, tt.field)
		}
		if _, err := p.Explain(&engine.Query{Subject: tt.s, Resource: tt.r, Action: tt.a}); !errors.Is(err, engine.ErrInvalidRequest) {
			t.Errorf("Explain(%q, %q, %q) = %v", tt.s, tt.r, tt.a, err)
		}
	}
	// The limits themselves are fine (SPEC 1.2).
	if _, err := p.Decide(&engine.Query{Subject: strings.Repeat("a", 1024), Resource: strings.Repeat("a:", 63) + "a", Action: "x"}); err != nil {
		t.Errorf("names at the limits rejected: %v", err)
	}
}

// TestEmptyResource: only rules whose resource pattern is '*' apply to the
// empty resource (SPEC 1.4), even with a group that matches everything.
func TestEmptyResource(t *testing.T) {
	t.Parallel()
	src := engine.Source{
		Resources: []engine.Group{{Name: "all", Section: "resources", Members: []engine.Member{{Name: "*"}}}},
		Rules: []engine.Rule{
			rule("rules.1", engine.EffectAllow, "u", "all", "x"),
			rule("rules.2", engine.EffectAllow, "u", "a:*", "x"),
			rule("rules.3", engine.EffectAllow, "v", "*", "x"),
		},
	}
	p, errs := engine.Compile(&src)
	if errs != nil {
		t.Fatal(errs)
	}
	if d, _ := p.Decide(&engine.Query{Subject: "u", Resource: "", Action: "x"}); d.Allowed {
		t.Errorf("u on the empty resource allowed by %s", d.Rule)
	}
	if d, _ := p.Decide(&engine.Query{Subject: "v", Resource: "", Action: "x"}); !d.Allowed {
		t.Errorf("v on the empty resource: %+v", d)
	}
	if d, _ := p.Decide(&engine.Query{Subject: "u", Resource: "b", Action: "x"}); !d.Allowed || d.Rule != "rules.1" {
		t.Errorf("u on b: %+v", d)
	}
}

// TestCycles: every member of a cycle reaches every other (SPEC 3.2), and a
// long chain compiles without exhausting the stack.
func TestCycles(t *testing.T) {
	t.Parallel()
	src := engine.Source{Groups: []engine.Group{
		{Name: "g1", Section: "groups", Members: []engine.Member{{Name: "user1"}}},
		{Name: "g4", Section: "groups", Members: []engine.Member{{Name: "g5"}, {Name: "g1"}}},
		{Name: "g5", Section: "groups", Members: []engine.Member{{Name: "g4"}}},
		{Name: "self", Section: "groups", Members: []engine.Member{{Name: "self"}, {Name: "user2"}}},
	}}
	for _, g := range []string{"g1", "g4", "g5"} {
		src.Rules = append(src.Rules, rule("rules."+g, engine.EffectAllow, g, "*", g))
	}
	src.Rules = append(src.Rules, rule("rules.self", engine.EffectAllow, "self", "*", "s"))
	p, errs := engine.Compile(&src)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, a := range []string{"g1", "g4", "g5"} {
		if d, _ := p.Decide(&engine.Query{Subject: "user1", Resource: "r", Action: a}); !d.Allowed {
			t.Errorf("user1 is not in %s", a)
		}
	}
	if d, _ := p.Decide(&engine.Query{Subject: "g5", Resource: "r", Action: "g4"}); !d.Allowed {
		t.Error("g5 does not reach g4")
	}
	if d, _ := p.Decide(&engine.Query{Subject: "user2", Resource: "r", Action: "s"}); !d.Allowed {
		t.Error("a self-listing group lost its member")
	}

	const n = 50000
	chain := engine.Source{}
	for i := range n {
		g := engine.Group{Name: "c" + strconv.Itoa(i), Section: "groups", Members: []engine.Member{{Name: "c" + strconv.Itoa(i+1)}}}
		if i == n-1 {
			g.Members = []engine.Member{{Name: "c0"}, {Name: "bottom"}} // close the loop
		}
		chain.Groups = append(chain.Groups, g)
	}
	chain.Rules = []engine.Rule{rule("rules.1", engine.EffectAllow, "c0", "*", "*")}
	p, errs = engine.Compile(&chain)
	if errs != nil {
		t.Fatal(errs)
	}
	if d, _ := p.Decide(&engine.Query{Subject: "bottom", Resource: "r", Action: "x"}); !d.Allowed {
		t.Error("a member at the bottom of a 50,000-group cycle does not reach the top")
	}
}

// TestConcurrentUse: one compiled policy serves many goroutines at once
// with the same answers (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	p, errs := engine.Compile(fullRBAC())
	if errs != nil {
		t.Fatal(errs)
	}
	want, _ := p.Explain(&engine.Query{Subject: "user1", Resource: "part_b", Action: "GET"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				d, err := p.Decide(&engine.Query{Subject: "user1", Resource: "part_b", Action: "GET"})
				if err != nil || d.Rule != want.Decision.Rule {
					t.Errorf("Decide = %+v, %v", d, err)
					return
				}
				e, err := p.Explain(&engine.Query{Subject: "user1", Resource: "part_b", Action: "GET"})
				if err != nil || !cmp.Equal(e, want) {
					t.Errorf("Explain differs: %s", cmp.Diff(want, e))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDeterministic: the same source compiles to the same version and
// explains the same way every time (SPEC 5.5), and the version follows
// content.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := engine.Compile(fullRBAC())
	b, _ := engine.Compile(fullRBAC())
	if a.Version() != b.Version() || !strings.HasPrefix(a.Version(), "sha256:") {
		t.Errorf("versions %q and %q", a.Version(), b.Version())
	}
	ea, _ := a.Explain(&engine.Query{Subject: "user2", Resource: "part_a", Action: "GET"})
	eb, _ := b.Explain(&engine.Query{Subject: "user2", Resource: "part_a", Action: "GET"})
	if diff := cmp.Diff(ea, eb); diff != "" {
		t.Errorf("explanations differ: %s", diff)
	}
	changed := fullRBAC()
	changed.Rules[0].Action = "PUT"
	c, _ := engine.Compile(changed)
	if c.Version() == a.Version() {
		t.Error("a changed rule kept the version")
	}
	moved := fullRBAC()
	for i := range moved.Rules {
		moved.Rules[i].Pos.Line += 10
	}
	m, _ := engine.Compile(moved)
	if m.Version() != a.Version() {
		t.Error("moving rules in the file changed the version")
	}
}

// fullRBAC is the Full Featured RBAC example of AccessControl's README under
// deny-overrides.
func fullRBAC() *engine.Source {
	m := func(names ...string) []engine.Member {
		var out []engine.Member
		for _, n := range names {
			out = append(out, engine.Member{Name: n})
		}
		return out
	}
	r := func(id string, item int, eff engine.Effect, s, res, a string) engine.Rule {
		return engine.Rule{ID: id, Item: item, Effect: eff, Subject: s, Resource: res, Action: a}
	}
	return &engine.Source{
		Groups: []engine.Group{
			{Name: "g1", Section: "groups", Members: m("user1", "user2")},
			{Name: "g2", Section: "groups", Members: m("user2", "user3")},
			{Name: "g3", Section: "groups", Members: m("g1", "user5")},
			{Name: "g4", Section: "groups", Members: m("g5", "g1")},
			{Name: "g5", Section: "groups", Members: m("g4")},
			{Name: "admin", Section: "roles", Role: true, Members: m("g4", "user3")},
			{Name: "reader", Section: "roles", Role: true, Members: m("g2", "user5")},
		},
		Resources: []engine.Group{
			{Name: "res1", Section: "resources", Members: m("part_a", "part_b")},
			{Name: "res2", Section: "resources", Members: m("part_a", "part_c")},
		},
		Rules: []engine.Rule{
			r("rules.r1", 1, engine.EffectAllow, "reader", "res1", "GET"),
			r("rules.r1", 2, engine.EffectAllow, "admin", "res1", "*"),
			r("rules.r2", 1, engine.EffectDeny, "reader", "res1", "GET"),
			r("rules.r2", 2, engine.EffectDeny, "reader", "res2", "PUT"),
			r("rules.r2", 3, engine.EffectDeny, "reader", "res2", "POST"),
		},
	}
}

// TestTooDeep: a long chain of nested groups, which would need memory
// quadratic in its length, is a configuration error at a group's position,
// not an out-of-memory crash.
func TestTooDeep(t *testing.T) {
	t.Parallel()
	src := engine.Source{}
	for i := range 30000 {
		m := "g" + strconv.Itoa(i-1)
		if i == 0 {
			m = "u"
		}
		src.Groups = append(src.Groups, engine.Group{Name: "g" + strconv.Itoa(i), Section: "groups", Pos: at(i + 1), Members: []engine.Member{{Name: m}}})
	}
	p, errs := engine.Compile(&src)
	if p != nil || len(errs) != 1 {
		t.Fatalf("compiled a 30,000-deep chain: %v", errs)
	}
	if !strings.Contains(errs[0].Message, "nested too deeply") || errs[0].Line == 0 {
		t.Errorf("got %v", errs)
	}
}
