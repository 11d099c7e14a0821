// Package workload generates the policies and requests that warden's
// benchmarks and large-input tests run on. The RBAC shapes are the ones
// casbin's own benchmarks use, so figures can be compared; every workload
// is deterministic, built from a fixed seed.
package workload

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/engine"
)

// Request is one request of a workload.
type Request struct {
	Subject, Resource, Action string
}

// Workload is a policy and requests to ask it.
type Workload struct {
	Name   string
	Source *engine.Source
	// Hot is the request the single-request benchmark repeats: the one
	// casbin's benchmark asks, or for the glob workload a request deep in
	// the rule set.
	Hot      Request
	Requests []Request
}

// ACL is casbin's basic model: two rules, alice reads data1, bob writes data2.
func ACL() Workload {
	src := &engine.Source{Rules: []engine.Rule{
		allow("p.1", 1, "alice", "data1", "read"),
		allow("p.2", 1, "bob", "data2", "write"),
	}}
	return Workload{Name: "acl", Source: src, Hot: Request{"alice", "data1", "read"},
		Requests: []Request{{"alice", "data1", "read"}, {"bob", "data2", "write"}, {"alice", "data2", "write"}, {"bob", "data1", "read"}}}
}

// RBAC5 is casbin's rbac_policy.csv: four rules and one role assignment.
func RBAC5() Workload {
	src := &engine.Source{
		Groups: []engine.Group{{Name: "data2_admin", Section: "roles", Role: true, Members: []engine.Member{{Name: "alice"}}}},
		Rules: []engine.Rule{
			allow("p.1", 1, "alice", "data1", "read"),
			allow("p.2", 1, "bob", "data2", "write"),
			allow("p.3", 1, "data2_admin", "data2", "read"),
			allow("p.4", 1, "data2_admin", "data2", "write"),
		},
	}
	return Workload{Name: "rbac5", Source: src, Hot: Request{"alice", "data2", "read"},
		Requests: []Request{{"alice", "data2", "read"}, {"alice", "data1", "read"}, {"bob", "data2", "write"}, {"bob", "data1", "read"}}}
}

// RBAC is casbin's BenchmarkRBACModelSmall/Medium/Large shape: roles
// "group<i>" each allowed to read "data<i/10>", and users "user<i>" in role
// "group<i/10>". casbin counts users+roles as its rules: (1000, 100) is
// small with 1,100, (10000, 1000) medium, (100000, 10000) large. Sizes
// too small for that shape are raised: at least one user, and a role for
// every ten users.
func RBAC(name string, users, roles int) Workload {
	users = max(users, 1)
	roles = max(roles, (users+9)/10)
	src := &engine.Source{}
	members := make([][]engine.Member, roles)
	for u := range users {
		r := u / 10
		members[r] = append(members[r], engine.Member{Name: "user" + strconv.Itoa(u)})
	}
	for r := range roles {
		src.Groups = append(src.Groups, engine.Group{Name: "group" + strconv.Itoa(r), Section: "roles", Role: true, Members: members[r]})
		src.Rules = append(src.Rules, allow("p."+strconv.Itoa(r+1), 1, "group"+strconv.Itoa(r), "data"+strconv.Itoa(r/10), "read"))
	}
	// casbin asks user50001 for data1500 in its large benchmark, which no
	// rule grants; the hot request here is the same shape, scaled.
	hot := Request{"user" + strconv.Itoa(users/2+1), "data" + strconv.Itoa(roles*3/20), "read"}
	rng := rand.New(rand.NewPCG(1, 2))
	var reqs []Request
	for range 10000 {
		u := rng.IntN(users)
		d := u / 100
		if rng.IntN(2) == 0 {
			d = rng.IntN(roles/10 + 1)
		}
		act := "read"
		if rng.IntN(4) == 0 {
			act = "write"
		}
		reqs = append(reqs, Request{"user" + strconv.Itoa(u), "data" + strconv.Itoa(d), act})
	}
	return Workload{Name: name, Source: src, Hot: hot, Requests: reqs}
}

// Glob is 100 rules in each of namespaces namespaces, mixing literal,
// trailing '*', prefix globs, middle '*' and alternatives in resources and
// actions, over 100 roles, with a few denies. Fewer than one namespace
// means one.
func Glob(namespaces int) Workload {
	namespaces = max(namespaces, 1)
	rng := rand.New(rand.NewPCG(3, 4))
	src := &engine.Source{}
	const roles = 100
	for r := range roles {
		var ms []engine.Member
		for u := r * 10; u < r*10+10; u++ {
			ms = append(ms, engine.Member{Name: "user" + strconv.Itoa(u)})
		}
		src.Groups = append(src.Groups, engine.Group{Name: "role" + strconv.Itoa(r), Section: "roles", Role: true, Members: ms})
	}
	actions := []string{"read", "write", "get*,list*", "set*", "*", "delete"}
	for ns := range namespaces {
		n := "ns" + strconv.Itoa(ns)
		for j := range 100 {
			var res string
			switch j % 5 {
			case 0:
				res = fmt.Sprintf("%s:doc%d:*", n, j)
			case 1:
				res = fmt.Sprintf("%s:doc%d*", n, j)
			case 2:
				res = fmt.Sprintf("%s:*:item%d", n, j)
			case 3:
				res = fmt.Sprintf("%s:doc%d,file%d:*", n, j, j)
			default:
				res = fmt.Sprintf("%s:doc%d", n, j)
			}
			subject := "role" + strconv.Itoa(rng.IntN(roles))
			if j%17 == 0 {
				subject = "*"
			}
			r := allow(fmt.Sprintf("%s.%d", n, j), 1, subject, res, actions[rng.IntN(len(actions))])
			if j%23 == 0 {
				r.Effect = engine.EffectDeny
			}
			src.Rules = append(src.Rules, r)
		}
	}
	var reqs []Request
	for range 10000 {
		ns := rng.IntN(namespaces)
		j := rng.IntN(100)
		res := fmt.Sprintf("ns%d:doc%d:%d", ns, j, rng.IntN(50))
		if rng.IntN(3) == 0 {
			res = fmt.Sprintf("ns%d:x:item%d", ns, j)
		}
		act := []string{"read", "write", "getAll", "list", "setName", "delete", "purge"}[rng.IntN(7)]
		reqs = append(reqs, Request{"user" + strconv.Itoa(rng.IntN(roles*10)), res, act})
	}
	hot := Request{"user" + strconv.Itoa(rng.IntN(roles*10)), fmt.Sprintf("ns%d:doc%d:7", namespaces/2, 40), "read"}
	return Workload{Name: fmt.Sprintf("glob-%d", namespaces*100), Source: src, Hot: hot, Requests: reqs}
}

func allow(id string, item int, s, r, a string) engine.Rule {
	return engine.Rule{ID: id, Item: item, Effect: engine.EffectAllow, Subject: s, Resource: r, Action: a}
}

// TOML renders a workload's policy as a policy file, so the same workloads
// exercise the file front end and the CLI. Rule ids become rules.<id> with
// dots replaced, since the file derives ids from table names. A nil src
// is the empty policy.
func TOML(src *engine.Source) string {
	if src == nil {
		return ""
	}
	var b strings.Builder
	section := func(title string, groups []engine.Group, keep func(engine.Group) bool) {
		first := true
		for _, g := range groups {
			if !keep(g) {
				continue
			}
			if first {
				fmt.Fprintf(&b, "[%s]\n", title)
				first = false
			}
			fmt.Fprintf(&b, "%s = [", quote(g.Name))
			for i, m := range g.Members {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quote(m.Name))
			}
			b.WriteString("]\n")
		}
	}
	section("groups", src.Groups, func(g engine.Group) bool { return !g.Role })
	section("roles", src.Groups, func(g engine.Group) bool { return g.Role })
	section("resources", src.Resources, func(engine.Group) bool { return true })
	section("actions", src.Actions, func(engine.Group) bool { return true })
	b.WriteString("[rule_policy]\n")
	fmt.Fprintf(&b, "strategy = %s\n", quote(src.Strategy.String()))
	if src.NoMatchSet {
		fmt.Fprintf(&b, "mismatch_decision = %s\n", quote(src.NoMatch.String()))
	}
	for _, r := range src.Rules {
		fmt.Fprintf(&b, "[rules.%s]\n%s = [[%s, %s, %s]]\n", strings.ReplaceAll(strings.TrimPrefix(r.ID, "rules."), ".", "_"),
			r.Effect, quote(r.Subject), quote(r.Resource), quote(r.Action))
	}
	return b.String()
}

func quote(s string) string { return "'" + s + "'" }

// All returns every benchmark workload, smallest first. Large ones take a
// second or two to build.
func All() []Workload {
	return []Workload{
		ACL(),
		RBAC5(),
		RBAC("rbac-small", 1000, 100),
		RBAC("rbac-medium", 10000, 1000),
		RBAC("rbac-large", 100000, 10000),
		Glob(1000),
	}
}

// ReportHeap builds once more, after the timed loop, and reports how long
// that took (ms/<what>) and the live heap the result holds (heap-MB),
// measured between two full collections. Benchmarks of compiling and loading
// share it so their figures mean the same thing. Without a benchmark or a
// build function there is nothing to measure, and it does nothing.
func ReportHeap[T any](b *testing.B, what string, build func() T) {
	if b == nil || build == nil {
		return
	}
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	v := build()
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "heap-MB")
	b.ReportMetric(elapsed.Seconds()*1000, "ms/"+what)
}
