package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2/util"
	"github.com/cedar-policy/cedar-go"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/pattern"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"*", []string{"*"}},
		{"read,write", []string{"read", "write"}},
		{"ns7:doc3,file3:*", []string{"ns7:doc3:*", "ns7:file3:*"}},
		{"a,b:c,d", []string{"a:c", "a:d", "b:c", "b:d"}},
		{"get*,list*", []string{"get*", "list*"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := expand(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPatternTranslations(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, glob, cedar string }{
		{"*", "**", ""},
		{"data1", "data1", `context.resource == "data1"`},
		{"ns7:doc0:*", "ns7/doc0/*/**", `context.resource like "ns7:doc0:*"`},
		{"ns7:doc1*", "ns7/doc1*", `(context.resource like "ns7:doc1*" && !(context.resource like "*:*:*"))`},
		{"ns7:*:item2", "ns7/*/item2", `(context.resource like "ns7:*:item2" && !(context.resource like "*:*:*:*"))`},
		{"set*", "set*", `(context.resource like "set*" && !(context.resource like "*:*"))`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := toDoublestar(tt.in); got != tt.glob {
				t.Errorf("toDoublestar(%q) = %q, want %q", tt.in, got, tt.glob)
			}
			got, err := cedarLike("context.resource", tt.in)
			if err != nil || got != tt.cedar {
				t.Errorf("cedarLike(%q) = %q, %v; want %q", tt.in, got, err, tt.cedar)
			}
		})
	}
}

// TestTranslateRefuses: what cannot be written exactly for every engine
// is refused, naming the rule or group, never translated approximately.
func TestTranslateRefuses(t *testing.T) {
	t.Parallel()
	base := func() *engine.Source {
		return &engine.Source{Rules: []engine.Rule{{ID: "rules.r1", Item: 1, Effect: engine.EffectAllow, Subject: "alice", Resource: "data1", Action: "read"}}}
	}
	tests := []struct {
		name   string
		change func(*engine.Source)
		want   string
	}{
		{"first-match", func(s *engine.Source) { s.Strategy = engine.FirstMatch }, "deny-overrides"},
		{"mismatch allow", func(s *engine.Source) { s.NoMatch = engine.EffectAllow }, "default deny"},
		{"resource groups", func(s *engine.Source) { s.Resources = []engine.Group{{Name: "docs"}} }, "groups"},
		{"glob subject", func(s *engine.Source) { s.Rules[0].Subject = "user*" }, "subject pattern"},
		{"quote in name", func(s *engine.Source) { s.Rules[0].Resource = `da"ta` }, "rules.r1"},
		{"backslash", func(s *engine.Source) { s.Rules[0].Action = `re\ad` }, "rules.r1"},
		{"doublestar syntax", func(s *engine.Source) { s.Rules[0].Resource = "data[1]" }, "rules.r1"},
		{"braces", func(s *engine.Source) { s.Rules[0].Resource = "{a,b}" }, "rules.r1"},
		{"question mark", func(s *engine.Source) { s.Rules[0].Resource = "data?" }, "rules.r1"},
		{"space", func(s *engine.Source) { s.Rules[0].Subject = "al ice" }, "rules.r1"},
		{"empty segment", func(s *engine.Source) { s.Rules[0].Resource = "a::b" }, "rules.r1"},
		{"empty alternative", func(s *engine.Source) { s.Rules[0].Action = "read," }, "rules.r1"},
		{"empty pattern", func(s *engine.Source) { s.Rules[0].Resource = "" }, "rules.r1"},
		{"trailing star after glob", func(s *engine.Source) { s.Rules[0].Resource = "a:*:b:*" }, "trailing"},
		{"trailing star after prefix glob", func(s *engine.Source) { s.Rules[0].Resource = "a*:*" }, "trailing"},
		{"pattern member", func(s *engine.Source) {
			s.Groups = []engine.Group{{Name: "g", Members: []engine.Member{{Name: "user*"}}}}
		}, "member"},
		{"run of stars", func(s *engine.Source) { s.Rules[0].Action = "re**" }, "run of"},
		{"star alternative at the end", func(s *engine.Source) { s.Rules[0].Resource = "users:a,*" }, "last-segment alternative"},
		{"unicode", func(s *engine.Source) { s.Rules[0].Resource = "dätä" }, "rules.r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := base()
			tt.change(src)
			_, err := Translate(Workload{Name: "w", Source: src})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bench: w:") {
				t.Errorf("Translate = %v, want an error naming the workload and %q", err, tt.want)
			}
		})
	}
}

func TestGetUnknownWorkload(t *testing.T) {
	t.Parallel()
	if _, err := Get("rbac-huge"); err == nil || !strings.Contains(err.Error(), "rbac-huge") {
		t.Errorf("Get(rbac-huge) = %v, want an error naming it", err)
	}
}

// cedarMatches decides one pattern against one name with cedar-go, through
// the same clause the policies use.
func cedarMatches(t *testing.T, p, name string) bool {
	t.Helper()
	scope, cond, err := cedarMatch("resource", "Resource", p)
	if err != nil {
		t.Fatalf("cedarMatch(%q): %v", p, err)
	}
	text := fmt.Sprintf("permit (principal, action, %s)", scope)
	if cond != "" {
		text += " when { " + cond + " }"
	}
	ps, err := cedar.NewPolicySetFromBytes("fuzz.cedar", []byte(text+";"))
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	d, diag := ps.IsAuthorized(cedar.EntityMap{}, cedar.Request{
		Principal: cedar.NewEntityUID("User", "u"),
		Action:    cedar.NewEntityUID("Action", "a"),
		Resource:  cedar.NewEntityUID("Resource", cedar.String(name)),
		Context:   cedar.NewRecord(cedar.RecordMap{"resource": cedar.String(name)}),
	})
	if len(diag.Errors) > 0 {
		t.Fatalf("%s: %v", text, diag.Errors)
	}
	return d == cedar.Allow
}

func casbinMatches(t *testing.T, p, name string) bool {
	t.Helper()
	for _, alt := range expand(p) {
		ok, err := util.GlobMatch(CasbinName(name), toDoublestar(alt))
		if err != nil {
			t.Fatalf("globMatch(%q, %q): %v", name, toDoublestar(alt), err)
		}
		if ok {
			return true
		}
	}
	return false
}

// FuzzPatternEquivalence: for every pattern the translation accepts and
// every valid name, warden's matcher, casbin's globMatch on the translated
// pattern and cedar's `like` clauses agree; OPA's glob.match, through the
// whole data document and policy, agrees on every pattern opaData accepts,
// including those the cedar translation refuses.
func FuzzPatternEquivalence(f *testing.F) {
	seeds := [][2]string{
		{"ns7:doc0:*", "ns7:doc0:a:b"}, {"ns7:doc0:*", "ns7:doc0"}, {"ns7:doc1*", "ns7:doc10"},
		{"ns7:doc1*", "ns7:doc1:x"}, {"ns7:*:item2", "ns7:a:b:item2"}, {"ns7:*:item2", "ns7:a:item2"},
		{"ns7:doc3,file3:*", "ns7:file3:x"}, {"get*,list*", "listAll"}, {"*", "a:b"},
		{"article:meta:set*", "article:meta:setTitle"}, {"a*b", "ab"}, {"*x", "a:x"},
		{"a:*:b:*", "a:x:b:c"}, {"a*:*", "ab:c"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, name string) {
		if checkPattern(p) != nil || checkPattern(name) != nil || !isLiteral(name) || pattern.CheckName(name) != nil {
			return
		}
		wp, err := pattern.Parse(p)
		if err != nil {
			return
		}
		want := wp.Match(name)
		if got := opaMatches(t, p, name); got != want {
			t.Errorf("opa glob.match: pattern %q, name %q: %t, warden %t", p, name, got, want)
		}
		for _, alt := range expand(p) {
			if _, err := cedarLike("context.resource", alt); err != nil {
				return // refused by Translate, so never benchmarked
			}
		}
		if got := casbinMatches(t, p, name); got != want {
			t.Errorf("casbin globMatch: pattern %q, name %q: %t, warden %t", p, name, got, want)
		}
		if got := cedarMatches(t, p, name); got != want {
			t.Errorf("cedar like: pattern %q, name %q: %t, warden %t", p, name, got, want)
		}
	})
}
