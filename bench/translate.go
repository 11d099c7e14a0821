package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// Docs is one workload written in each engine's own language: what each
// engine loads, so that load times include parsing as they would in use.
type Docs struct {
	// Warden is the policy file (TOML).
	Warden []byte
	// CasbinModel is the model conf and CasbinPolicy the policy CSV, with
	// "p" rules and "g" role assignments. CasbinGlob says the model matches
	// resources and actions with globMatch, so requests spell ':' as '/'.
	CasbinModel, CasbinPolicy string
	CasbinGlob                bool
	// CedarPolicies is the policy set and CedarEntities the entities
	// (users and roles with their parents) as JSON.
	CedarPolicies, CedarEntities []byte
	// OPAPolicy is the Rego module (the same for every workload) and
	// OPAData the groups and rules as the JSON data document it reads.
	OPAPolicy string
	OPAData   []byte
}

// The casbin models. The literal ones are casbin's own basic and RBAC
// models, as its benchmarks use them; the effect becomes deny-overrides
// when a workload has denies. The glob model matches resources and
// actions with globMatch (doublestar, '/' as the separator) and lets the
// subject "*" stand for everyone, as a warden rule's "*" does.
const (
	casbinRequest   = "[request_definition]\nr = sub, obj, act\n\n"
	casbinRoles     = "[role_definition]\ng = _, _\n\n"
	casbinAllow     = "[policy_effect]\ne = some(where (p.eft == allow))\n\n"
	casbinDenyOver  = "[policy_effect]\ne = some(where (p.eft == allow)) && !some(where (p.eft == deny))\n\n"
	casbinACLMatch  = "[matchers]\nm = r.sub == p.sub && r.obj == p.obj && r.act == p.act\n"
	casbinRBACMatch = "[matchers]\nm = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act\n"
	casbinGlobMatch = "[matchers]\nm = (p.sub == \"*\" || g(r.sub, p.sub)) && globMatch(r.obj, p.obj) && globMatch(r.act, p.act)\n"
)

// Translate writes w's policy for every engine. It refuses what it cannot
// translate exactly (another strategy than deny-overrides, a mismatch
// decision of allow, resource or action groups, glob subjects, characters
// the engines' pattern languages would read as syntax, or a trailing '*'
// after a glob), rather than benchmark a policy that means something else.
func Translate(w Workload) (*Docs, error) {
	src := w.Source
	if src.Strategy != engine.DenyOverrides || src.NoMatch == engine.EffectAllow {
		return nil, fmt.Errorf("bench: %s: only deny-overrides with a default deny can be written for every engine", w.Name)
	}
	if len(src.Resources) > 0 || len(src.Actions) > 0 {
		return nil, fmt.Errorf("bench: %s: resource and action groups are not translated", w.Name)
	}
	groups := map[string]bool{}
	for _, g := range src.Groups {
		groups[g.Name] = true
	}
	d := &Docs{Warden: []byte(workload.TOML(src))}
	var err error
	if d.CasbinModel, d.CasbinPolicy, d.CasbinGlob, err = casbinDocs(src); err != nil {
		return nil, fmt.Errorf("bench: %s: casbin: %w", w.Name, err)
	}
	if d.CedarPolicies, d.CedarEntities, err = cedarDocs(src, groups); err != nil {
		return nil, fmt.Errorf("bench: %s: cedar: %w", w.Name, err)
	}
	d.OPAPolicy = OPAPolicy
	if d.OPAData, err = opaData(src); err != nil {
		return nil, fmt.Errorf("bench: %s: opa: %w", w.Name, err)
	}
	return d, nil
}

// checkPattern refuses characters that are syntax in doublestar or in
// cedar's string literals and `like` patterns, and empty segments.
func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	for _, c := range p {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':' || c == '*' || c == ','
		if !ok {
			return fmt.Errorf("pattern %q: character %q is not translated", p, c)
		}
	}
	for _, seg := range strings.Split(p, ":") {
		if seg == "" || strings.HasPrefix(seg, ",") || strings.HasSuffix(seg, ",") || strings.Contains(seg, ",,") {
			return fmt.Errorf("pattern %q: empty segment or alternative", p)
		}
		// doublestar reads "**" as its own syntax even inside a segment;
		// a run of '*' means what one '*' does in warden, so write one.
		if strings.Contains(seg, "**") {
			return fmt.Errorf("pattern %q: a run of '*' is not translated; write one '*'", p)
		}
	}
	return nil
}

// checkExpand refuses what expand would change the meaning of, for the
// engines that take a pattern's alternatives as separate patterns (casbin,
// cedar): an alternative "*" fills exactly one segment, but expanded into a
// last segment of its own it reads as a trailing '*', one or more
// segments, so "users:a,*" would grow to match "users:x:y".
func checkExpand(p string) error {
	segs := strings.Split(p, ":")
	last := segs[len(segs)-1]
	if len(segs) > 1 && strings.Contains(last, ",") && slices.Contains(strings.Split(last, ","), "*") {
		return fmt.Errorf("pattern %q: a last-segment alternative '*' is not translated", p)
	}
	return nil
}

// expand turns a pattern with alternatives into the patterns without them
// whose union it is: "a:b,c:*" is "a:b:*" and "a:c:*". Rules with the same
// effect combine by "any matches" under deny-overrides in every engine, so
// one rule per alternative means the same as the rule.
func expand(p string) []string {
	out := []string{""}
	for i, seg := range strings.Split(p, ":") {
		var next []string
		for _, prefix := range out {
			for _, alt := range strings.Split(seg, ",") {
				if i > 0 {
					next = append(next, prefix+":"+alt)
				} else {
					next = append(next, alt)
				}
			}
		}
		out = next
	}
	return out
}

// isLiteral reports whether p names exactly one name.
func isLiteral(p string) bool { return !strings.ContainsAny(p, "*,") }

// engineLiteral is isLiteral for names drawn into a sample.
func engineLiteral(s string) bool { return s != "" && isLiteral(s) }

// toDoublestar writes an alternative-free warden pattern for casbin's
// globMatch, which is doublestar with '/' as the separator: '*' stays a
// run of characters within one segment, a trailing '*' (one or more
// segments) becomes "*/**", and the match-all becomes "**".
func toDoublestar(p string) string {
	if p == "*" {
		return "**"
	}
	segs := strings.Split(p, ":")
	if segs[len(segs)-1] == "*" {
		segs = append(segs, "**")
	}
	return strings.Join(segs, "/")
}

// CasbinName spells a request name for the glob model.
func CasbinName(s string) string { return strings.ReplaceAll(s, ":", "/") }

func casbinDocs(src *engine.Source) (model, policy string, glob bool, err error) {
	deny := false
	for _, r := range src.Rules {
		for _, p := range []string{r.Subject, r.Resource, r.Action} {
			if err := errors.Join(checkPattern(p), checkExpand(p)); err != nil {
				return "", "", false, fmt.Errorf("%s: %w", r.ID, err)
			}
		}
		if !isLiteral(r.Subject) && r.Subject != "*" {
			return "", "", false, fmt.Errorf("%s: subject pattern %q is not translated", r.ID, r.Subject)
		}
		for _, p := range []string{r.Subject, r.Resource, r.Action} {
			for _, e := range expand(p) {
				if !isLiteral(e) {
					glob = true
				}
			}
		}
		deny = deny || r.Effect == engine.EffectDeny
	}
	var m strings.Builder
	m.WriteString(casbinRequest)
	if deny {
		m.WriteString("[policy_definition]\np = sub, obj, act, eft\n\n")
	} else {
		m.WriteString("[policy_definition]\np = sub, obj, act\n\n")
	}
	if len(src.Groups) > 0 || glob {
		m.WriteString(casbinRoles)
	}
	if deny {
		m.WriteString(casbinDenyOver)
	} else {
		m.WriteString(casbinAllow)
	}
	switch {
	case glob:
		m.WriteString(casbinGlobMatch)
	case len(src.Groups) > 0:
		m.WriteString(casbinRBACMatch)
	default:
		m.WriteString(casbinACLMatch)
	}
	var b strings.Builder
	for _, r := range src.Rules {
		for _, res := range expand(r.Resource) {
			for _, act := range expand(r.Action) {
				if glob {
					res, act = toDoublestar(res), toDoublestar(act)
				}
				fmt.Fprintf(&b, "p, %s, %s, %s", r.Subject, res, act)
				if deny {
					b.WriteString(", " + r.Effect.String())
				}
				b.WriteByte('\n')
			}
		}
	}
	for _, g := range src.Groups {
		for _, mem := range g.Members {
			if err := checkPattern(mem.Name); err != nil || !isLiteral(mem.Name) {
				return "", "", false, fmt.Errorf("group %s: member %q is not translated", g.Name, mem.Name)
			}
			fmt.Fprintf(&b, "g, %s, %s\n", mem.Name, g.Name)
		}
	}
	return m.String(), b.String(), glob, nil
}

// cedarLike writes the condition under which field (context.resource or
// context.action) matches an alternative-free warden pattern, or "" for
// the match-all. Cedar's `like` '*' crosses ':', so a pattern of n
// segments also requires that the name has no more than n segments; given
// that, each of the pattern's ':' meets one of the name's and the
// segments line up. A trailing '*' is "one or more segments", which `like`
// says exactly only after literal segments ("a:b:*"); after a glob it
// would need per-segment matching, so it is refused.
func cedarLike(field, p string) (string, error) {
	if p == "*" {
		return "", nil
	}
	if isLiteral(p) {
		return fmt.Sprintf("%s == %q", field, p), nil
	}
	segs := strings.Split(p, ":")
	if n := len(segs); segs[n-1] == "*" {
		prefix := strings.Join(segs[:n-1], ":")
		if !isLiteral(prefix) {
			return "", fmt.Errorf("pattern %q: a trailing '*' after a glob cannot be written with like", p)
		}
		return fmt.Sprintf("%s like %q", field, p), nil
	}
	return fmt.Sprintf("(%s like %q && !(%s like %q))", field, p, field, strings.Repeat("*:", len(segs))+"*"), nil
}

// cedarMatch writes the scope clause and the condition for one of a rule's
// resource or action patterns. Literal names go in the scope, as a cedar
// author would write them (`resource == Resource::"data1"`, `action in
// [...]`); patterns become a condition on the request's context.
func cedarMatch(kind, typ, p string) (scope, cond string, err error) {
	alts := expand(p)
	if slices.Contains(alts, "*") {
		return kind, "", nil
	}
	literal := true
	for _, a := range alts {
		literal = literal && isLiteral(a)
	}
	switch {
	case literal && len(alts) == 1:
		return fmt.Sprintf("%s == %s::%q", kind, typ, alts[0]), "", nil
	case literal && kind == "action":
		var uids []string
		for _, a := range alts {
			uids = append(uids, fmt.Sprintf("%s::%q", typ, a))
		}
		return "action in [" + strings.Join(uids, ", ") + "]", "", nil
	}
	var ors []string
	for _, a := range alts {
		c, err := cedarLike("context."+kind, a)
		if err != nil {
			return "", "", err
		}
		ors = append(ors, c)
	}
	if len(ors) == 1 {
		return kind, ors[0], nil
	}
	return kind, "(" + strings.Join(ors, " || ") + ")", nil
}

type cedarUID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type cedarEntity struct {
	UID     cedarUID       `json:"uid"`
	Parents []cedarUID     `json:"parents"`
	Attrs   map[string]any `json:"attrs"`
}

func cedarDocs(src *engine.Source, groups map[string]bool) (policies, entities []byte, err error) {
	var b strings.Builder
	for _, r := range src.Rules {
		effect := "permit"
		if r.Effect == engine.EffectDeny {
			effect = "forbid"
		}
		var principal string
		switch {
		case r.Subject == "*":
			principal = "principal"
		case !isLiteral(r.Subject):
			return nil, nil, fmt.Errorf("%s: subject pattern %q is not translated", r.ID, r.Subject)
		case groups[r.Subject]:
			principal = fmt.Sprintf("principal in Role::%q", r.Subject)
		default:
			principal = fmt.Sprintf("principal == User::%q", r.Subject)
		}
		for _, p := range []string{r.Subject, r.Resource, r.Action} {
			if err := errors.Join(checkPattern(p), checkExpand(p)); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.ID, err)
			}
		}
		action, acond, err := cedarMatch("action", "Action", r.Action)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.ID, err)
		}
		resource, rcond, err := cedarMatch("resource", "Resource", r.Resource)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.ID, err)
		}
		fmt.Fprintf(&b, "%s (%s, %s, %s)", effect, principal, action, resource)
		var conds []string
		for _, c := range []string{acond, rcond} {
			if c != "" {
				conds = append(conds, c)
			}
		}
		if len(conds) > 0 {
			b.WriteString(" when { " + strings.Join(conds, " && ") + " }")
		}
		b.WriteString(";\n")
	}
	// Users and roles with their parents: a member that is itself a group
	// is a Role whose parent is the group.
	var order []cedarUID
	byUID := map[cedarUID]*cedarEntity{}
	entity := func(u cedarUID) *cedarEntity {
		e := byUID[u]
		if e == nil {
			e = &cedarEntity{UID: u, Parents: []cedarUID{}, Attrs: map[string]any{}}
			byUID[u] = e
			order = append(order, u)
		}
		return e
	}
	for _, g := range src.Groups {
		entity(cedarUID{"Role", g.Name})
		for _, m := range g.Members {
			if err := checkPattern(m.Name); err != nil || !isLiteral(m.Name) {
				return nil, nil, fmt.Errorf("group %s: member %q is not translated", g.Name, m.Name)
			}
			typ := "User"
			if groups[m.Name] {
				typ = "Role"
			}
			e := entity(cedarUID{typ, m.Name})
			e.Parents = append(e.Parents, cedarUID{"Role", g.Name})
		}
	}
	list := make([]*cedarEntity, 0, len(order))
	for _, u := range order {
		list = append(list, byUID[u])
	}
	entities, err = json.Marshal(list)
	return []byte(b.String()), entities, err
}
