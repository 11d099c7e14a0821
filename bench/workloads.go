// Package bench compares warden with casbin, cedar-go and OPA on identical
// workloads. It is a module of its own, so warden itself never depends on
// the engines it is measured against.
//
// Every workload is one warden policy (an engine.Source built from a fixed
// seed) translated into each engine's own language: a casbin model and
// policy CSV, a cedar policy set with its entities, and a data document
// for the one fixed Rego policy OPA evaluates (opa.go). Before anything is
// timed, the engines must agree on every request of the workload's sample;
// a benchmark of engines that disagree would prove nothing.
package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// SampleSize is how many requests each workload's equivalence sample holds.
const SampleSize = 10000

// Workload is a policy, the request the hot benchmarks repeat, and a sample
// of requests the engines must agree on (and the mixed benchmarks cycle).
type Workload struct {
	Name   string
	Source *engine.Source
	Hot    workload.Request
	// Requests is the equivalence sample: SampleSize requests, hits and
	// misses, with Hot among them.
	Requests []workload.Request
	// Slow marks workloads on which casbin or cedar-go take milliseconds a
	// decision, so benchmarks check a shorter prefix of the sample before
	// timing (the full sample is checked by TestEquivalence).
	Slow bool
}

// Names lists every workload, smallest first; Get builds one by name.
var Names = []string{
	"acl", "rbac5", "rbac-small", "rbac-medium", "rbac-large",
	"deny-override", "glob-1000", "glob-100000", "toffi",
}

// Get builds the named workload. Large ones take a second or two.
func Get(name string) (Workload, error) {
	var w workload.Workload
	slow := false
	switch name {
	case "acl":
		w = workload.ACL()
	case "rbac5":
		w = workload.RBAC5()
	case "rbac-small":
		w = workload.RBAC(name, 1000, 100)
	case "rbac-medium":
		w = workload.RBAC(name, 10000, 1000)
	case "rbac-large":
		w, slow = workload.RBAC(name, 100000, 10000), true
	case "deny-override":
		w = DenyOverride()
	case "glob-1000":
		w = workload.Glob(10)
	case "glob-100000":
		w, slow = workload.Glob(1000), true
	case "toffi":
		w = Toffi()
	default:
		return Workload{}, fmt.Errorf("bench: unknown workload %q", name)
	}
	reqs := w.Requests
	if len(reqs) < SampleSize {
		reqs = sample(w.Source, SampleSize)
	}
	reqs = append([]workload.Request{w.Hot}, reqs[:SampleSize-1]...)
	return Workload{Name: name, Source: w.Source, Hot: w.Hot, Requests: reqs, Slow: slow}, nil
}

// sample draws n requests for a small workload from the names its policy
// uses plus names it does not know, so that misses are asked as well as hits.
// Only literal names are drawn: patterns are never requests.
func sample(src *engine.Source, n int) []workload.Request {
	subjects := []string{"nobody"}
	resources := []string{"data9"}
	actions := []string{"delete"}
	seen := map[string]bool{}
	add := func(list *[]string, s string) {
		if !seen[s] && engineLiteral(s) {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	for _, g := range src.Groups {
		add(&subjects, g.Name)
		for _, m := range g.Members {
			add(&subjects, m.Name)
		}
	}
	for _, r := range src.Rules {
		add(&subjects, r.Subject)
		add(&resources, r.Resource)
		add(&actions, r.Action)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	reqs := make([]workload.Request, n)
	for i := range reqs {
		reqs[i] = workload.Request{
			Subject:  subjects[rng.IntN(len(subjects))],
			Resource: resources[rng.IntN(len(resources))],
			Action:   actions[rng.IntN(len(actions))],
		}
	}
	return reqs
}

// DenyOverride is RBAC with exceptions: 1,000 users in 100 roles, each role
// allowed to read and write one data set, and denies that override the
// roles: every 7th user may not write its data set, every 13th role may not
// read its own, and every 50th user may do nothing on data0.
func DenyOverride() workload.Workload {
	const users, roles = 1000, 100
	src := &engine.Source{}
	members := make([][]engine.Member, roles)
	for u := range users {
		members[u/10] = append(members[u/10], engine.Member{Name: "user" + strconv.Itoa(u)})
	}
	for r := range roles {
		g := "group" + strconv.Itoa(r)
		data := "data" + strconv.Itoa(r/10)
		src.Groups = append(src.Groups, engine.Group{Name: g, Section: "roles", Role: true, Members: members[r]})
		src.Rules = append(src.Rules, rule(len(src.Rules), engine.EffectAllow, g, data, "read,write"))
		if r%13 == 0 {
			src.Rules = append(src.Rules, rule(len(src.Rules), engine.EffectDeny, g, data, "read"))
		}
	}
	for u := 0; u < users; u += 7 {
		src.Rules = append(src.Rules, rule(len(src.Rules), engine.EffectDeny, "user"+strconv.Itoa(u), "data"+strconv.Itoa(u/100), "write"))
	}
	for u := 0; u < users; u += 50 {
		src.Rules = append(src.Rules, rule(len(src.Rules), engine.EffectDeny, "user"+strconv.Itoa(u), "data0", "read,write,delete"))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var reqs []workload.Request
	for range SampleSize {
		u := rng.IntN(users)
		d := u / 100
		if rng.IntN(3) == 0 {
			d = rng.IntN(roles/10 + 1)
		}
		act := []string{"read", "write", "delete"}[rng.IntN(3)]
		reqs = append(reqs, workload.Request{Subject: "user" + strconv.Itoa(u), Resource: "data" + strconv.Itoa(d), Action: act})
	}
	// user14 is in group1, which writes data0; user14 is a 7th user, so its
	// own deny overrides the role's allow.
	return workload.Workload{Name: "deny-override", Source: src, Hot: workload.Request{Subject: "user14", Resource: "data0", Action: "write"}, Requests: reqs}
}

// Toffi is shaped like an application guarded the way toffi guards one:
// scopes (actions) and indexes (resources) in nested namespaces.
// 100 categories of articles; 2,000 users, each an editor of one category
// and a reader of all; users 0-99 and 1000-1099 also moderate theirs; rules
// such as ["article:meta:set*", "articles:animals:*"], comment scopes on
// "articles:c7:*:comments", a public area every subject reads, and denies
// on locked articles and for suspended users. Every trailing '*' follows
// literal segments only, because cedar's `like` cannot say "exactly one
// segment, then one or more" (see translate.go).
func Toffi() workload.Workload {
	const users, cats = 2000, 100
	// Category 0 is "animals", as in toffi's examples; the others are
	// numbered.
	cat := func(i int) string {
		if i == 0 {
			return "animals"
		}
		return "c" + strconv.Itoa(i)
	}
	src := &engine.Source{}
	editors := make([][]engine.Member, cats)
	mods := make([][]engine.Member, cats)
	var readers []engine.Member
	for u := range users {
		m := engine.Member{Name: "user" + strconv.Itoa(u)}
		editors[u%cats] = append(editors[u%cats], m)
		if u/cats%10 == 0 {
			mods[u%cats] = append(mods[u%cats], m)
		}
		readers = append(readers, m)
	}
	src.Groups = append(src.Groups, engine.Group{Name: "reader", Section: "roles", Role: true, Members: readers})
	for c := range cats {
		src.Groups = append(src.Groups,
			engine.Group{Name: "editor_" + cat(c), Section: "roles", Role: true, Members: editors[c]},
			engine.Group{Name: "moderator_" + cat(c), Section: "roles", Role: true, Members: mods[c]})
	}
	add := func(eff engine.Effect, s, a, r string) {
		src.Rules = append(src.Rules, rule(len(src.Rules), eff, s, r, a))
	}
	add(engine.EffectAllow, "reader", "article:read,list", "articles:*")
	add(engine.EffectAllow, "reader", "article:meta:get*", "articles:*")
	add(engine.EffectAllow, "*", "article:read", "articles:public:*")
	for c := range cats {
		ed, mod, base := "editor_"+cat(c), "moderator_"+cat(c), "articles:"+cat(c)
		add(engine.EffectAllow, ed, "article:create,update", base+":*")
		add(engine.EffectAllow, ed, "article:meta:set*", base+":*")
		add(engine.EffectAllow, ed, "comment:create", base+":*:comments")
		add(engine.EffectAllow, mod, "article:*", base+":*")
		add(engine.EffectAllow, mod, "comment:delete,hide", base+":*")
		if c%4 == 0 {
			add(engine.EffectDeny, "*", "article:update,delete", base+":locked:*")
			add(engine.EffectDeny, "*", "article:meta:*", base+":locked:*")
		}
	}
	for u := 0; u < users; u += 97 {
		add(engine.EffectDeny, "user"+strconv.Itoa(u), "*", "articles:*")
	}
	actions := []string{"article:read", "article:list", "article:create", "article:update", "article:delete",
		"article:meta:setTitle", "article:meta:setTags", "article:meta:getTitle", "article:publish",
		"comment:create", "comment:delete", "comment:hide", "comment:edit"}
	rng := rand.New(rand.NewPCG(9, 10))
	var reqs []workload.Request
	for range SampleSize {
		u := rng.IntN(users)
		c := u % cats
		if rng.IntN(3) == 0 {
			c = rng.IntN(cats)
		}
		id := strconv.Itoa(rng.IntN(1000))
		var res string
		switch rng.IntN(6) {
		case 0:
			res = "articles:public:" + id
		case 1:
			res = "articles:" + cat(c) + ":locked:" + id
		case 2:
			res = "articles:" + cat(c) + ":" + id + ":comments"
		case 3:
			res = "articles:" + cat(c) + ":" + id + ":comments:" + strconv.Itoa(rng.IntN(50))
		default:
			res = "articles:" + cat(c) + ":" + id
		}
		reqs = append(reqs, workload.Request{Subject: "user" + strconv.Itoa(u), Resource: res, Action: actions[rng.IntN(len(actions))]})
	}
	hot := workload.Request{Subject: "user1234", Resource: "articles:c34:42", Action: "article:meta:setTitle"}
	return workload.Workload{Name: "toffi", Source: src, Hot: hot, Requests: reqs}
}

func rule(n int, eff engine.Effect, s, r, a string) engine.Rule {
	return engine.Rule{ID: "rules.r" + strconv.Itoa(n+1), Item: 1, Effect: eff, Subject: s, Resource: r, Action: a}
}
