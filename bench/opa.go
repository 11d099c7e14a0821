package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown/cache"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// OPAPolicy is the one Rego module every workload is decided by. A
// workload's groups and rules are data (see opaData), as OPA users model
// RBAC: the policy stays small and fixed, and the rules are looked up by
// key rather than written as Rego per rule.
//
// Deny-overrides with a default deny: allowed iff some allow rule matches
// and no deny rule does. A rule matches when its subject is the request's
// subject, a group the subject is in, or "*"; group membership is
// transitive through graph.reachable over data.member_of, which maps every
// subject and group to the groups that list it directly (every group is a
// key, with [] when it is in none, because graph.reachable drops a node
// that is not a key; a subject that is in no group is added by itself).
// Rules whose resource and action are both literal are an exact lookup;
// the others are a list, indexed by the literal first segment of their
// resource ("*" when it is not literal, which no name's segment can be),
// matched with glob.match and ':' as the delimiter. allowed and denied are
// written out rather than as one function of the effect, and each pattern
// is one glob.match rather than a function with a clause per kind of
// pattern: on toffi and glob-1000 that halved OPA's time a decision.
const OPAPolicy = `package warden

default allow := false

allow if {
	allowed
	not denied
}

principals contains input.subject

principals contains "*"

principals contains p if some p in graph.reachable(data.member_of, {input.subject})

keys := [split(input.resource, ":")[0], "*"]

allowed if {
	some p in principals
	data.rules.allow[p].exact[input.resource][input.action]
}

allowed if {
	some p in principals
	some r in data.rules.allow[p].patterns[keys[_]]
	glob.match(r.resource, [":"], input.resource)
	glob.match(r.action, [":"], input.action)
}

denied if {
	some p in principals
	data.rules.deny[p].exact[input.resource][input.action]
}

denied if {
	some p in principals
	some r in data.rules.deny[p].patterns[keys[_]]
	glob.match(r.resource, [":"], input.resource)
	glob.match(r.action, [":"], input.action)
}
`

// opaQuery is what every decision evaluates.
const opaQuery = "data.warden.allow"

// opaPatternRule is one alternative of a rule that has a pattern in its
// resource or action, both written as glob.match patterns (see opaGlobs):
// one glob.match a pattern keeps the policy to one builtin call each, a
// literal compiles to a string comparison, and compiled patterns are
// cached.
type opaPatternRule struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

// opaSubjectRules are one subject's rules of one effect.
type opaSubjectRules struct {
	// Exact holds rules with a literal resource and action:
	// resource → action → true.
	Exact map[string]map[string]bool `json:"exact,omitempty"`
	// Patterns holds the others by the literal first segment of their
	// resource, or "*" (which no name's segment can be).
	Patterns map[string][]opaPatternRule `json:"patterns,omitempty"`
}

type opaDocument struct {
	MemberOf map[string][]string                    `json:"member_of"`
	Rules    map[string]map[string]*opaSubjectRules `json:"rules"`
}

// opaGlobs writes a warden pattern as the glob.match patterns (':' the
// delimiter) whose union it is, one per combination of alternatives. In
// glob.match, '*' is any run of characters other than ':' (possibly empty,
// as in warden), '?' one such character and '**' any run at all; no other
// character checkPattern allows is syntax there, so a literal is itself.
// The match-all is "**": every name, and the empty resource, as in warden.
// A '*' segment stays '*': on a valid name, whose segments are never
// empty, it is exactly one segment, as warden's middle '*' and every
// alternative are (SPEC 2: "users:a,*" matches "users:x", not
// "users:x:y"). Only a last segment that is '*' alone means one or more
// segments; it becomes "?**", a character that is not ':' and then
// anything, which on a valid name is one or more segments. A run of '*'
// (which glob.match reads as '**') is refused by checkPattern.
func opaGlobs(p string) ([]string, error) {
	if err := checkPattern(p); err != nil {
		return nil, err
	}
	if p == "*" {
		return []string{"**"}, nil
	}
	segs := strings.Split(p, ":")
	out := []string{""}
	for i, seg := range segs {
		alts := strings.Split(seg, ",")
		if i == len(segs)-1 && seg == "*" {
			alts = []string{"?**"}
		}
		next := make([]string, 0, len(out)*len(alts))
		for _, prefix := range out {
			for _, alt := range alts {
				if i > 0 {
					alt = prefix + ":" + alt
				}
				next = append(next, alt)
			}
		}
		out = next
	}
	return out, nil
}

// opaIndexKey is the key a pattern rule is listed under: the first
// segment of its resource glob when that is literal, else "*", which no
// segment of a name can be.
func opaIndexKey(glob string) string {
	first, _, _ := strings.Cut(glob, ":")
	if strings.ContainsAny(first, "*?") {
		return "*"
	}
	return first
}

// opaData writes src's groups and rules as the JSON document OPAPolicy
// reads. It refuses what it cannot write exactly: glob subjects, pattern
// members, and patterns checkPattern refuses.
func opaData(src *engine.Source) ([]byte, error) {
	doc := opaDocument{
		MemberOf: map[string][]string{},
		Rules:    map[string]map[string]*opaSubjectRules{"allow": {}, "deny": {}},
	}
	for _, g := range src.Groups {
		if doc.MemberOf[g.Name] == nil {
			doc.MemberOf[g.Name] = []string{}
		}
		for _, m := range g.Members {
			if err := checkPattern(m.Name); err != nil || !isLiteral(m.Name) {
				return nil, fmt.Errorf("group %s: member %q is not translated", g.Name, m.Name)
			}
			doc.MemberOf[m.Name] = append(doc.MemberOf[m.Name], g.Name)
		}
	}
	for _, r := range src.Rules {
		for _, p := range []string{r.Subject, r.Resource, r.Action} {
			if err := checkPattern(p); err != nil {
				return nil, fmt.Errorf("%s: %w", r.ID, err)
			}
		}
		if !isLiteral(r.Subject) && r.Subject != "*" {
			return nil, fmt.Errorf("%s: subject pattern %q is not translated", r.ID, r.Subject)
		}
		effect := "allow"
		if r.Effect == engine.EffectDeny {
			effect = "deny"
		}
		sr := doc.Rules[effect][r.Subject]
		if sr == nil {
			sr = &opaSubjectRules{}
			doc.Rules[effect][r.Subject] = sr
		}
		resources, err := opaGlobs(r.Resource)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.ID, err)
		}
		actions, err := opaGlobs(r.Action)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.ID, err)
		}
		for _, res := range resources {
			for _, act := range actions {
				if !strings.ContainsAny(res+act, "*?") {
					if sr.Exact == nil {
						sr.Exact = map[string]map[string]bool{}
					}
					if sr.Exact[res] == nil {
						sr.Exact[res] = map[string]bool{}
					}
					sr.Exact[res][act] = true
					continue
				}
				if sr.Patterns == nil {
					sr.Patterns = map[string][]opaPatternRule{}
				}
				key := opaIndexKey(res)
				sr.Patterns[key] = append(sr.Patterns[key], opaPatternRule{Resource: res, Action: act})
			}
		}
	}
	return json.Marshal(doc)
}

type opaInstance struct{ q rego.PreparedEvalQuery }

// loadOPA parses the data document into AST values and hands them to an
// in-memory store that reads them as they are (inmem.NewFromASTObject), so
// that no decision converts the (for rbac-large, 110,000 entry) document
// again, and prepares the query against OPAPolicy. The document is parsed
// here rather than by inmem's reader constructor, which panics on bad
// JSON; here bad JSON is an error.
//
// The query gets an inter-query value cache with OPA's default
// configuration, as the OPA server and SDK set one up: glob.match keeps
// its compiled patterns there, without a bound. Without it, glob.match
// falls back to a process-wide cache of 100 patterns, which decisions
// that use more distinct patterns than that would keep evicting.
func loadOPA(d *Docs) (Instance, error) {
	v, err := ast.ValueFromReader(bytes.NewReader(d.OPAData))
	if err != nil {
		return nil, fmt.Errorf("opa: data: %w", err)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("opa: data: a %s, not an object", ast.ValueName(v))
	}
	store := inmem.NewFromASTObject(obj)
	conf, err := cache.ParseCachingConfig(nil)
	if err != nil {
		return nil, fmt.Errorf("opa: caching config: %w", err)
	}
	ctx := context.Background()
	q, err := rego.New(
		rego.Query(opaQuery),
		rego.Module("warden.rego", d.OPAPolicy),
		rego.Store(store),
		rego.InterQueryBuiltinValueCache(cache.NewInterQueryValueCache(ctx, conf)),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("opa: prepare: %w", err)
	}
	return opaInstance{q}, nil
}

// errOPAResult reports a result that is not one boolean: with a default
// for allow there is always exactly one, so anything else is a broken
// policy, and it denies.
var errOPAResult = errors.New("opa: data.warden.allow is not one boolean")

// Decider: requests become parsed input values once, outside any timing.
// A PreparedEvalQuery opens a read transaction of its own per evaluation,
// so one serves concurrent callers.
func (o opaInstance) Decider(reqs []workload.Request, _ bool) func(int) (bool, error) {
	inputs := make([]ast.Value, len(reqs))
	for i, r := range reqs {
		inputs[i] = ast.NewObject(
			ast.Item(ast.StringTerm("subject"), ast.StringTerm(r.Subject)),
			ast.Item(ast.StringTerm("resource"), ast.StringTerm(r.Resource)),
			ast.Item(ast.StringTerm("action"), ast.StringTerm(r.Action)),
		)
	}
	ctx := context.Background()
	return func(i int) (bool, error) {
		rs, err := o.q.Eval(ctx, rego.EvalParsedInput(inputs[i]))
		if err != nil {
			return false, err
		}
		if len(rs) != 1 || len(rs[0].Expressions) != 1 {
			return false, fmt.Errorf("%w: %d results", errOPAResult, len(rs))
		}
		ok, isBool := rs[0].Expressions[0].Value.(bool)
		if !isBool {
			return false, fmt.Errorf("%w: %v", errOPAResult, rs[0].Expressions[0].Value)
		}
		return ok, nil
	}
}
