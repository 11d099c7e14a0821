package lint_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/lint"
)

// FuzzLint lints arbitrary policy files. Lint must not panic, must give
// the same findings every run, must use only documented codes with a
// position in the file, and must be right about rules it calls dead:
// removing a shadowed, redundant, unreachable or losing conflicting rule
// item changes no decision on requests built from every name in the
// policy.
func FuzzLint(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	examples, _ := filepath.Glob("../../examples/*/*.toml")
	for _, path := range append(seeds, examples...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[roles]\nr = ['u', 'g']\n[groups]\ng = ['v']\n[[rules]]\nallow = [['r', 'a:*', 'x,y'], ['g', 'a:b', 'x']]\ndeny = [['v', 'a:b:*', '*']]\n[rule_policy]\nstrategy = 'first-match'"))
	f.Add([]byte("[actions]\nw = ['p', 'q*']\n[resources]\nd = ['a:*', 'b']\n[[rules]]\ndeny = [['*', 'd', 'w']]\nallow = [['u', 'b', 'q1'], ['u', 'a:c', 'p']]\n[rule_policy]\nstrategy = 'allow-overrides'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, errs := config.Parse("p.toml", data)
		p, cerrs := engine.Compile(src)
		if len(cerrs) > 0 {
			if got := lint.Run(src, nil, nil); got != nil {
				t.Fatalf("findings for a source that does not compile: %v", got)
			}
		}
		if len(errs)+len(cerrs) > 0 || len(src.Rules) > 200 {
			return
		}
		got := lint.Run(src, p, nil)
		if again := lint.Run(src, nil, nil); !cmp.Equal(got, again) {
			t.Fatalf("findings differ between runs:\n%v\n%v", got, again)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, fd := range got {
			if !slices.Contains(lint.Codes, fd.Code) || fd.Severity > lint.Error || fd.Message == "" || fd.Hint == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
			if fd.Pos.File != "p.toml" || fd.Pos.Line < 1 || fd.Pos.Line > lines || fd.Pos.Col < 1 {
				t.Fatalf("finding outside the file: %v", fd)
			}
		}
		checkDead(t, src, got)
	})
}

// checkDead removes each rule item lint calls dead and compares decisions.
func checkDead(t *testing.T, src *engine.Source, findings []lint.Finding) {
	orig, errs := engine.Compile(src)
	if errs != nil {
		t.Fatal(errs)
	}
	reqs := requests(src)
	for _, fd := range findings {
		var dead int
		switch fd.Code {
		case lint.CodeShadowed, lint.CodeRedundant, lint.CodeUnreachable:
			dead = slices.IndexFunc(src.Rules, func(r engine.Rule) bool { return r.Pos == fd.Pos })
		case lint.CodeConflict:
			// The loser is named in the hint: "remove rules.X effect[n] ...".
			dead = slices.IndexFunc(src.Rules, func(r engine.Rule) bool {
				return strings.HasPrefix(fd.Hint, "remove "+r.ID+" "+r.Effect.String()+"["+strconv.Itoa(r.Item)+"]")
			})
		default:
			continue
		}
		if dead < 0 {
			t.Fatalf("%v names no rule item", fd)
		}
		less := *src
		less.Rules = slices.Delete(slices.Clone(src.Rules), dead, dead+1)
		p, errs := engine.Compile(&less)
		if errs != nil {
			t.Fatal(errs)
		}
		for _, r := range reqs {
			a, errA := orig.Decide(&engine.Query{Subject: r[0], Resource: r[1], Action: r[2]})
			b, errB := p.Decide(&engine.Query{Subject: r[0], Resource: r[1], Action: r[2]})
			if (errA == nil) != (errB == nil) || a.Allowed != b.Allowed || a.Effect != b.Effect {
				t.Fatalf("%v\nbut without it %q decides %v/%v, not %v/%v", fd, r, b.Allowed, b.Effect, a.Allowed, a.Effect)
			}
		}
	}
}

// requests builds requests from every name and literal the policy holds,
// plus names that no pattern of it names, bounded in number.
func requests(src *engine.Source) [][3]string {
	var names [3][]string
	add := func(d int, n string) {
		if !strings.ContainsAny(n, "*,") && !slices.Contains(names[d], n) {
			names[d] = append(names[d], n)
		}
	}
	for d, groups := range [3][]engine.Group{src.Groups, src.Resources, src.Actions} {
		for _, g := range groups {
			add(d, g.Name)
			for _, m := range g.Members {
				add(d, m.Name)
				add(d, strings.ReplaceAll(strings.ReplaceAll(m.Name, "*", "z"), ",", ":"))
			}
		}
	}
	for _, r := range src.Rules {
		for d, text := range [3]string{r.Subject, r.Resource, r.Action} {
			add(d, text)
			add(d, strings.ReplaceAll(text, "*", "z"))
			add(d, strings.ReplaceAll(strings.ReplaceAll(text, "*", "z:z"), ",", ":"))
			if i := strings.IndexByte(text, ','); i > 0 {
				add(d, strings.ReplaceAll(text[i+1:], "*", "q"))
			}
		}
	}
	for d := range names {
		add(d, "zz:top")
	}
	names[1] = append(names[1], "")
	var out [][3]string
	for _, s := range names[0] {
		for _, r := range names[1] {
			for _, a := range names[2] {
				if len(out) == 4000 {
					return out
				}
				out = append(out, [3]string{s, r, a})
			}
		}
	}
	return out
}
