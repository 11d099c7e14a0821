package bench

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/workload"
)

func TestOPAGlobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"*", []string{"**"}},
		{"data1", []string{"data1"}},
		{"ns7:doc0:*", []string{"ns7:doc0:?**"}},
		{"ns7:doc1*", []string{"ns7:doc1*"}},
		{"ns7:*:item2", []string{"ns7:*:item2"}},
		{"a:*:b:*", []string{"a:*:b:?**"}},
		{"a*:*", []string{"a*:?**"}},
		{"*:*", []string{"*:?**"}},
		{"read,write", []string{"read", "write"}},
		{"ns7:doc3,file3:*", []string{"ns7:doc3:?**", "ns7:file3:?**"}},
		// An alternative fills one segment even when it is '*' and last.
		{"users:a,*", []string{"users:a", "users:*"}},
		{"get*,list*", []string{"get*", "list*"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got, err := opaGlobs(tt.in); err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("opaGlobs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// opaMatches decides one pattern against one name with OPA, through the
// whole path a workload takes: a one-rule source, its data document, the
// policy, and a decision.
func opaMatches(t *testing.T, p, name string) bool {
	t.Helper()
	src := &engine.Source{Rules: []engine.Rule{{ID: "rules.r1", Item: 1, Effect: engine.EffectAllow, Subject: "u", Resource: p, Action: "a"}}}
	data, err := opaData(src)
	if err != nil {
		t.Fatalf("opaData(%q): %v", p, err)
	}
	inst, err := loadOPA(&Docs{OPAPolicy: OPAPolicy, OPAData: data})
	if err != nil {
		t.Fatalf("loadOPA(%q): %v", p, err)
	}
	got, err := Decide(inst, []workload.Request{{Subject: "u", Resource: name, Action: "a"}}, 1)
	if err != nil {
		t.Fatalf("pattern %q, name %q: %v", p, name, err)
	}
	return got[0]
}

// TestOPAMatchesWarden compares OPA's decision with warden's matcher on
// the edges of the pattern language, including the ones the cedar
// translation refuses (a trailing '*' after a glob).
func TestOPAMatchesWarden(t *testing.T) {
	t.Parallel()
	tests := [][2]string{
		{"*", "a"}, {"*", "a:b:c"},
		{"data1", "data1"}, {"data1", "data10"}, {"data1", "data1:x"},
		{"ns7:doc0:*", "ns7:doc0"}, {"ns7:doc0:*", "ns7:doc0:a"}, {"ns7:doc0:*", "ns7:doc0:a:b"},
		{"ns7:doc1*", "ns7:doc1"}, {"ns7:doc1*", "ns7:doc10"}, {"ns7:doc1*", "ns7:doc1:x"},
		{"ns7:*:item2", "ns7:a:item2"}, {"ns7:*:item2", "ns7:a:b:item2"}, {"ns7:*:item2", "ns7:item2"},
		{"a:*:b:*", "a:x:b:c"}, {"a:*:b:*", "a:x:b"}, {"a:*:b:*", "a:x:y:b:c"},
		{"a*:*", "ab:c:d"}, {"a*:*", "a:c"}, {"a*:*", "ab"}, {"a*:*", "b:c"},
		{"users:a,*", "users:x"}, {"users:a,*", "users:x:y"}, {"users:a,*", "users:a"},
		{"get*,list*", "listAll"}, {"get*,list*", "put"}, {"a*b", "ab"}, {"a*b", "a:b"},
		{"*x", "a:x"}, {"*x", "ax"}, {"a-b.c_d:*", "a-b.c_d:e"}, {"a.b", "aXb"},
	}
	for _, tt := range tests {
		t.Run(tt[0]+" "+tt[1], func(t *testing.T) {
			t.Parallel()
			want := pattern.MustParse(tt[0]).Match(tt[1])
			if got := opaMatches(t, tt[0], tt[1]); got != want {
				t.Errorf("pattern %q, name %q: opa %t, warden %t", tt[0], tt[1], got, want)
			}
		})
	}
}

// TestOPARefuses: what the data document cannot say exactly, including
// every character glob.match reads as syntax, is refused with the rule or
// group named.
func TestOPARefuses(t *testing.T) {
	t.Parallel()
	base := func() *engine.Source {
		return &engine.Source{Rules: []engine.Rule{{ID: "rules.r1", Item: 1, Effect: engine.EffectAllow, Subject: "alice", Resource: "data1", Action: "read"}}}
	}
	tests := []struct {
		name   string
		change func(*engine.Source)
		want   string
	}{
		{"glob subject", func(s *engine.Source) { s.Rules[0].Subject = "user*" }, "subject pattern"},
		{"alternative subject", func(s *engine.Source) { s.Rules[0].Subject = "alice,bob" }, "subject pattern"},
		{"braces", func(s *engine.Source) { s.Rules[0].Resource = "{a,b}" }, "rules.r1"},
		{"question mark", func(s *engine.Source) { s.Rules[0].Resource = "data?" }, "rules.r1"},
		{"character class", func(s *engine.Source) { s.Rules[0].Resource = "data[1]" }, "rules.r1"},
		{"negation", func(s *engine.Source) { s.Rules[0].Action = "[!r]ead" }, "rules.r1"},
		{"backslash", func(s *engine.Source) { s.Rules[0].Action = `re\ad` }, "rules.r1"},
		{"quote", func(s *engine.Source) { s.Rules[0].Resource = `da"ta` }, "rules.r1"},
		{"run of stars", func(s *engine.Source) { s.Rules[0].Action = "re**" }, "run of"},
		{"empty segment", func(s *engine.Source) { s.Rules[0].Resource = "a::b" }, "rules.r1"},
		{"empty alternative", func(s *engine.Source) { s.Rules[0].Action = "read," }, "rules.r1"},
		{"empty pattern", func(s *engine.Source) { s.Rules[0].Resource = "" }, "rules.r1"},
		{"space", func(s *engine.Source) { s.Rules[0].Subject = "al ice" }, "rules.r1"},
		{"unicode", func(s *engine.Source) { s.Rules[0].Resource = "dätä" }, "rules.r1"},
		{"pattern member", func(s *engine.Source) {
			s.Groups = []engine.Group{{Name: "g", Members: []engine.Member{{Name: "user*"}}}}
		}, "group g"},
		{"empty member", func(s *engine.Source) {
			s.Groups = []engine.Group{{Name: "g", Members: []engine.Member{{Name: ""}}}}
		}, "group g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := base()
			tt.change(src)
			if _, err := opaData(src); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("opaData = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestOPAData checks the document's shape: transitive membership is left
// to graph.reachable, so every group must be a key even when it is in no
// group, and rules split into exact lookups and indexed patterns.
func TestOPAData(t *testing.T) {
	t.Parallel()
	src := &engine.Source{
		Groups: []engine.Group{
			{Name: "staff", Members: []engine.Member{{Name: "alice"}, {Name: "admins"}}},
			{Name: "admins", Members: []engine.Member{{Name: "bob"}}},
		},
		Rules: []engine.Rule{
			{ID: "rules.r1", Item: 1, Effect: engine.EffectAllow, Subject: "staff", Resource: "data1", Action: "read,write"},
			{ID: "rules.r2", Item: 1, Effect: engine.EffectDeny, Subject: "*", Resource: "ns:*", Action: "*"},
		},
	}
	raw, err := opaData(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc opaDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	wantMembers := map[string][]string{"staff": {}, "admins": {"staff"}, "alice": {"staff"}, "bob": {"admins"}}
	for k, want := range wantMembers {
		if got, ok := doc.MemberOf[k]; !ok || !slices.Equal(got, want) {
			t.Errorf("member_of[%q] = %q (present %t), want %q", k, got, ok, want)
		}
	}
	if len(doc.MemberOf) != len(wantMembers) {
		t.Errorf("member_of has %d keys, want %d", len(doc.MemberOf), len(wantMembers))
	}
	if ex := doc.Rules["allow"]["staff"].Exact["data1"]; !ex["read"] || !ex["write"] || len(ex) != 2 {
		t.Errorf("allow staff exact data1 = %v, want read and write", ex)
	}
	pats := doc.Rules["deny"]["*"].Patterns["ns"]
	if len(pats) != 1 || pats[0] != (opaPatternRule{Resource: "ns:?**", Action: "**"}) {
		t.Errorf("deny * patterns[ns] = %+v, want one rule ns:?** / **", pats)
	}
	// bob is in staff through admins: allowed, though no rule names him.
	inst, err := loadOPA(&Docs{OPAPolicy: OPAPolicy, OPAData: raw})
	if err != nil {
		t.Fatal(err)
	}
	reqs := []workload.Request{
		{Subject: "bob", Resource: "data1", Action: "write"},
		{Subject: "carol", Resource: "data1", Action: "write"},
		{Subject: "admins", Resource: "data1", Action: "read"},
		{Subject: "alice", Resource: "data1", Action: "delete"},
	}
	got, err := Decide(inst, reqs, len(reqs))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("decisions %v, want %v", got, want)
	}
}

// TestOPAConcurrent: one prepared query serves concurrent callers (run
// with -race), and they decide as one caller does.
func TestOPAConcurrent(t *testing.T) {
	t.Parallel()
	w, _, inst := setup(t, "deny-override", "opa")
	const n = 400
	want, err := Decide(inst, w.Requests, n)
	if err != nil {
		t.Fatal(err)
	}
	decide := inst.Decider(w.Requests[:n], true)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				ok, err := decide(i)
				if err != nil {
					errs <- err
					return
				}
				if ok != want[i] {
					t.Errorf("request %d %+v: concurrent %t, sequential %t", i, w.Requests[i], ok, want[i])
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestOPALoadRefuses: a data document or policy OPA cannot take is an
// error from Load, never a panic or an engine that allows.
func TestOPALoadRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy, data, want string
	}{
		{"bad json", OPAPolicy, `{"member_of":`, "opa: data"},
		{"empty data", OPAPolicy, ``, "opa: data"},
		{"array data", OPAPolicy, `[]`, "not an object"},
		{"string data", OPAPolicy, `"rules"`, "not an object"},
		{"broken policy", "package warden\nallow if {", `{}`, "opa: prepare"},
		{"policy without a package", "allow := true", `{}`, "opa: prepare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := loadOPA(&Docs{OPAPolicy: tt.policy, OPAData: []byte(tt.data)}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadOPA = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestOPAResultNotBoolean: a policy whose allow is not one boolean fails
// closed with an error rather than being read as a decision.
func TestOPAResultNotBoolean(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, policy string }{
		{"string", "package warden\nallow := \"yes\""},
		{"undefined", "package warden\nallow if input.never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, err := loadOPA(&Docs{OPAPolicy: tt.policy, OPAData: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			ok, err := inst.Decider([]workload.Request{{Subject: "a", Resource: "b", Action: "c"}}, false)(0)
			if ok || !errors.Is(err, errOPAResult) {
				t.Errorf("decide = %t, %v; want false and errOPAResult", ok, err)
			}
		})
	}
}
