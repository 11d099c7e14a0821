package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/warden-authz/warden"
)

// The conditioned workload compares attribute-based rules: warden's
// `when` conditions (SPEC 12), casbin's ABAC (conditions in the policy,
// evaluated by eval() in the matcher) and cedar-go's `when` clauses. It is
// written by hand in each language, since no generic translation carries
// conditions; the engines must agree on every request of its sample
// before any is timed (TestConditionsEquivalence).
//
// 1,000 users sit in 10 teams. A team reads its payroll only with MFA,
// from 10.0.0.0/8, in office hours (08:00 to 18:00); anyone edits their
// own drafts (drafts:AUTHOR:ID); deleting is denied without MFA, and
// otherwise allowed to a team on its payroll. Every request carries mfa
// and ip, so the engines' different handling of missing attributes does
// not enter. Casbin and cedar have no clock: they get the hour in the
// request, computed outside the timing; warden reads now.getHours().

// CondRequest is a request of the conditioned workload.
type CondRequest struct {
	Subject, Resource, Action string
	MFA                       bool
	IP                        string
	Now                       time.Time
}

const condTeams, condUsers = 10, 1000

func condTeam(user int) string { return fmt.Sprintf("team%d", user*condTeams/condUsers) }

// CondPolicy is the workload's warden policy.
func CondPolicy() string {
	var b strings.Builder
	b.WriteString("[context]\nmfa = 'bool'\nip = 'ip'\n\n[groups]\n")
	for t := range condTeams {
		var members []string
		for u := t * condUsers / condTeams; u < (t+1)*condUsers/condTeams; u++ {
			members = append(members, fmt.Sprintf("'u%d'", u))
		}
		fmt.Fprintf(&b, "team%d = [%s]\n", t, strings.Join(members, ", "))
	}
	b.WriteString("\n[rules.payroll]\nwhen = 'context.mfa && context.ip.in_cidr(\"10.0.0.0/8\") && now.getHours() >= 8 && now.getHours() < 18'\nallow = [\n")
	for t := range condTeams {
		fmt.Fprintf(&b, "  ['team%d', 'payroll:team%d:*', 'read'],\n", t, t)
	}
	b.WriteString("]\n\n[rules.drafts]\nwhen = \"resource.split(':')[1] == subject\"\nallow = [['*', 'drafts:*', 'edit']]\n")
	b.WriteString("\n[rules.guard]\nwhen = '!context.mfa'\ndeny = [['*', '*', 'delete']]\n\n[rules.delete]\nallow = [\n")
	for t := range condTeams {
		fmt.Fprintf(&b, "  ['team%d', 'payroll:team%d:*', 'delete'],\n", t, t)
	}
	b.WriteString("]\n")
	return b.String()
}

// CondSample draws n requests, a fixed seed: payroll of the subject's team
// and of others, drafts of the subject and of others, other resources,
// with MFA or not, from inside 10.0.0.0/8 or not, at every hour.
func CondSample(n int) []CondRequest {
	r := rand.New(rand.NewPCG(15, 12))
	out := make([]CondRequest, n)
	for i := range out {
		u := r.IntN(condUsers)
		q := CondRequest{Subject: fmt.Sprintf("u%d", u), MFA: r.IntN(4) > 0}
		switch k := r.IntN(10); {
		case k < 5:
			team := condTeam(u)
			if r.IntN(3) == 0 {
				team = fmt.Sprintf("team%d", r.IntN(condTeams))
			}
			q.Resource = fmt.Sprintf("payroll:%s:%d", team, r.IntN(100))
			q.Action = []string{"read", "read", "delete", "edit"}[r.IntN(4)]
		case k < 9:
			owner := u
			if r.IntN(2) == 0 {
				owner = r.IntN(condUsers)
			}
			q.Resource = fmt.Sprintf("drafts:u%d:%d", owner, r.IntN(100))
			q.Action = []string{"edit", "edit", "delete", "read"}[r.IntN(4)]
		default:
			q.Resource = fmt.Sprintf("wiki:%d", r.IntN(100))
			q.Action = []string{"read", "edit", "delete"}[r.IntN(3)]
		}
		if r.IntN(4) > 0 {
			q.IP = fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254))
		} else {
			q.IP = fmt.Sprintf("192.168.%d.%d", r.IntN(256), 1+r.IntN(254))
		}
		q.Now = time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(24*60)) * time.Minute)
		out[i] = q
	}
	return out
}

// CondEngine decides conditioned requests: Decider prepares the requests
// in the engine's own form once, outside any timing.
type CondEngine struct {
	Name    string
	Decider func(reqs []CondRequest) (func(i int) (bool, error), error)
}

// CondEngines lists the engines of the conditioned workload, warden first.
var CondEngines = []CondEngine{
	{Name: "warden", Decider: wardenCond},
	{Name: "casbin", Decider: casbinCond},
	{Name: "cedar", Decider: cedarCond},
}

func wardenCond(reqs []CondRequest) (func(int) (bool, error), error) {
	p, err := warden.Parse("conditions.toml", []byte(CondPolicy()))
	if err != nil {
		return nil, err
	}
	rs := make([]warden.Request, len(reqs))
	for i, q := range reqs {
		rs[i] = warden.Request{Subject: q.Subject, Resource: q.Resource, Action: q.Action,
			Context: map[string]any{"mfa": q.MFA, "ip": q.IP}, Now: q.Now}
	}
	return func(i int) (bool, error) {
		d, err := p.Decide(rs[i])
		if len(d.ConditionErrors) > 0 {
			return false, fmt.Errorf("warden: condition errors %+v", d.ConditionErrors)
		}
		return d.Allowed && err == nil, err
	}, nil
}

// casbinCondModel is casbin's ABAC: each policy line carries its condition,
// which the matcher evaluates with eval().
const casbinCondModel = `
[request_definition]
r = sub, obj, act, mfa, ip, hour

[policy_definition]
p = sub, obj, act, cond, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = (p.sub == "*" || g(r.sub, p.sub)) && keyMatch(r.obj, p.obj) && r.act == p.act && eval(p.cond)
`

func casbinCond(reqs []CondRequest) (func(int) (bool, error), error) {
	m, err := model.NewModelFromString(casbinCondModel)
	if err != nil {
		return nil, err
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, err
	}
	e.AddFunction("owner", func(args ...any) (any, error) {
		s, _ := args[0].(string)
		parts := strings.Split(s, ":")
		if len(parts) < 2 {
			return "", nil
		}
		return parts[1], nil
	})
	var policies, groups [][]string
	for t := range condTeams {
		team := fmt.Sprintf("team%d", t)
		policies = append(policies,
			[]string{team, "payroll:" + team + ":*", "read", `r.mfa && ipMatch(r.ip, "10.0.0.0/8") && r.hour >= 8 && r.hour < 18`, "allow"},
			[]string{team, "payroll:" + team + ":*", "delete", "true", "allow"})
	}
	policies = append(policies,
		[]string{"*", "drafts:*", "edit", "owner(r.obj) == r.sub", "allow"},
		[]string{"*", "*", "delete", "!r.mfa", "deny"})
	for u := range condUsers {
		groups = append(groups, []string{fmt.Sprintf("u%d", u), condTeam(u)})
	}
	if _, err := e.AddPolicies(policies); err != nil {
		return nil, err
	}
	if _, err := e.AddGroupingPolicies(groups); err != nil {
		return nil, err
	}
	rs := make([][]any, len(reqs))
	for i, q := range reqs {
		rs[i] = []any{q.Subject, q.Resource, q.Action, q.MFA, q.IP, q.Now.Hour()}
	}
	return func(i int) (bool, error) { return e.Enforce(rs[i]...) }, nil
}

// cedarCondPolicies: a team's payroll and drafts' owners are entity
// attributes, as Cedar models them; the resource name is also in the
// context for `like`, as the generic translation does.
func cedarCondPolicies() string {
	var b strings.Builder
	for t := range condTeams {
		fmt.Fprintf(&b, `permit(principal in Team::"team%d", action == Action::"read", resource)
when { context.resource like "payroll:team%d:*" && context.mfa && context.ip.isInRange(ip("10.0.0.0/8")) && context.hour >= 8 && context.hour < 18 };
permit(principal in Team::"team%d", action == Action::"delete", resource)
when { context.resource like "payroll:team%d:*" };
`, t, t, t, t)
	}
	b.WriteString(`permit(principal, action == Action::"edit", resource is Draft) when { resource.owner == principal };
forbid(principal, action == Action::"delete", resource) when { !context.mfa };
`)
	return b.String()
}

func cedarCond(reqs []CondRequest) (func(int) (bool, error), error) {
	ps, err := cedar.NewPolicySetFromBytes("conditions.cedar", []byte(cedarCondPolicies()))
	if err != nil {
		return nil, err
	}
	entities := cedar.EntityMap{}
	for u := range condUsers {
		uid := cedar.NewEntityUID("User", cedar.String(fmt.Sprintf("u%d", u)))
		entities[uid] = cedar.Entity{UID: uid, Parents: cedar.NewEntityUIDSet(cedar.NewEntityUID("Team", cedar.String(condTeam(u))))}
	}
	rs := make([]cedar.Request, len(reqs))
	for i, q := range reqs {
		rtype := cedar.EntityType("Resource")
		if owner, ok := strings.CutPrefix(q.Resource, "drafts:"); ok {
			rtype = "Draft"
			uid := cedar.NewEntityUID(rtype, cedar.String(q.Resource))
			author, _, _ := strings.Cut(owner, ":")
			entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
				"owner": cedar.NewEntityUID("User", cedar.String(author)),
			})}
		}
		addr, err := types.ParseIPAddr(q.IP)
		if err != nil {
			return nil, err
		}
		rs[i] = cedar.Request{
			Principal: cedar.NewEntityUID("User", cedar.String(q.Subject)),
			Action:    cedar.NewEntityUID("Action", cedar.String(q.Action)),
			Resource:  cedar.NewEntityUID(rtype, cedar.String(q.Resource)),
			Context: cedar.NewRecord(cedar.RecordMap{
				"resource": cedar.String(q.Resource),
				"mfa":      cedar.Boolean(q.MFA),
				"ip":       addr,
				"hour":     cedar.Long(q.Now.Hour()),
			}),
		}
	}
	return func(i int) (bool, error) {
		d, diag := ps.IsAuthorized(entities, rs[i])
		if len(diag.Errors) > 0 {
			return false, fmt.Errorf("%w: %v", errCedarEval, diag.Errors)
		}
		return d == cedar.Allow, nil
	}, nil
}

// condDecide asks every request of reqs.
func condDecide(e CondEngine, reqs []CondRequest) ([]bool, error) {
	decide, err := e.Decider(reqs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	out := make([]bool, len(reqs))
	for i := range reqs {
		if out[i], err = decide(i); err != nil {
			return nil, fmt.Errorf("%s: request %d %+v: %w", e.Name, i, reqs[i], err)
		}
	}
	return out, nil
}

// CondAgree checks that every engine decides the sample as warden does.
func CondAgree(reqs []CondRequest) error {
	want, err := condDecide(CondEngines[0], reqs)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range CondEngines[1:] {
		got, err := condDecide(e, reqs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				errs = append(errs, fmt.Errorf("%s disagrees with warden on request %d %+v: %v, warden %v", e.Name, i, reqs[i], got[i], want[i]))
				break
			}
		}
	}
	return errors.Join(errs...)
}
