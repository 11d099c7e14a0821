package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	stringadapter "github.com/casbin/casbin/v2/persist/string-adapter"
	"github.com/cedar-policy/cedar-go"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/workload"
)

// Engine is one authorization engine under comparison.
type Engine struct {
	Name string
	// Load parses and compiles a workload's documents in the engine's own
	// language; it is what the load benchmarks time.
	Load func(d *Docs) (Instance, error)
}

// Instance is a loaded policy. Decider turns requests into the engine's
// own request values once, outside any timing, and returns a function
// that decides the i-th of them. With concurrent set, the function may be
// called from several goroutines at once.
type Instance interface {
	Decider(reqs []workload.Request, concurrent bool) func(i int) (bool, error)
}

// Engines lists the engines, warden first: it is the reference the others
// are compared against.
var Engines = []Engine{
	{Name: "warden", Load: loadWarden},
	{Name: "casbin", Load: loadCasbin},
	{Name: "cedar", Load: loadCedar},
	{Name: "opa", Load: loadOPA},
}

type wardenInstance struct{ p *warden.Policy }

func loadWarden(d *Docs) (Instance, error) {
	p, err := warden.Parse("bench.toml", d.Warden)
	if err != nil {
		return nil, err
	}
	return wardenInstance{p}, nil
}

// Decider: warden.Policy is immutable and safe for concurrent use, so
// both modes share one function.
func (w wardenInstance) Decider(reqs []workload.Request, _ bool) func(int) (bool, error) {
	rs := make([]warden.Request, len(reqs))
	for i, r := range reqs {
		rs[i] = warden.Request{Subject: r.Subject, Resource: r.Resource, Action: r.Action}
	}
	return func(i int) (bool, error) {
		d, err := w.p.Decide(rs[i])
		return d.Allowed && err == nil, err
	}
}

type casbinInstance struct {
	e    *casbin.SyncedEnforcer
	glob bool
}

// loadCasbin builds a SyncedEnforcer, casbin's enforcer for concurrent
// use; single-threaded decisions go to the plain Enforcer inside it, so
// they pay for no lock.
func loadCasbin(d *Docs) (Instance, error) {
	m, err := model.NewModelFromString(d.CasbinModel)
	if err != nil {
		return nil, fmt.Errorf("casbin model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, stringadapter.NewAdapter(d.CasbinPolicy))
	if err != nil {
		return nil, fmt.Errorf("casbin policy: %w", err)
	}
	return casbinInstance{e, d.CasbinGlob}, nil
}

func (c casbinInstance) Decider(reqs []workload.Request, concurrent bool) func(int) (bool, error) {
	rs := make([][]any, len(reqs))
	for i, r := range reqs {
		res, act := r.Resource, r.Action
		if c.glob {
			res, act = CasbinName(res), CasbinName(act)
		}
		rs[i] = []any{r.Subject, res, act}
	}
	if concurrent {
		return func(i int) (bool, error) { return c.e.Enforce(rs[i]...) }
	}
	plain := c.e.Enforcer
	return func(i int) (bool, error) { return plain.Enforce(rs[i]...) }
}

type cedarInstance struct {
	ps       *cedar.PolicySet
	entities cedar.EntityMap
}

func loadCedar(d *Docs) (Instance, error) {
	ps, err := cedar.NewPolicySetFromBytes("bench.cedar", d.CedarPolicies)
	if err != nil {
		return nil, fmt.Errorf("cedar policies: %w", err)
	}
	var entities cedar.EntityMap
	if err := json.Unmarshal(d.CedarEntities, &entities); err != nil {
		return nil, fmt.Errorf("cedar entities: %w", err)
	}
	return cedarInstance{ps, entities}, nil
}

// errCedarEval reports a policy that failed to evaluate: cedar skips such
// a policy, which would hide a translation mistake, so it is an error here.
var errCedarEval = errors.New("cedar: policy evaluation error")

// Decider: a request's principal is a User, or a Role when the subject
// names one (a warden subject may be a role itself). The resource and
// action go in the request as entity ids, which literal rules compare in
// their scope, and as strings in the context, which pattern rules match
// with `like`.
func (c cedarInstance) Decider(reqs []workload.Request, _ bool) func(int) (bool, error) {
	rs := make([]cedar.Request, len(reqs))
	for i, r := range reqs {
		ptype := cedar.EntityType("User")
		if _, ok := c.entities[cedar.NewEntityUID("Role", cedar.String(r.Subject))]; ok {
			ptype = "Role"
		}
		rs[i] = cedar.Request{
			Principal: cedar.NewEntityUID(ptype, cedar.String(r.Subject)),
			Action:    cedar.NewEntityUID("Action", cedar.String(r.Action)),
			Resource:  cedar.NewEntityUID("Resource", cedar.String(r.Resource)),
			Context: cedar.NewRecord(cedar.RecordMap{
				"resource": cedar.String(r.Resource),
				"action":   cedar.String(r.Action),
			}),
		}
	}
	return func(i int) (bool, error) {
		d, diag := c.ps.IsAuthorized(c.entities, rs[i])
		if len(diag.Errors) > 0 {
			msgs := make([]string, len(diag.Errors))
			for j, e := range diag.Errors {
				msgs[j] = e.String()
			}
			return false, fmt.Errorf("%w: %s", errCedarEval, strings.Join(msgs, "; "))
		}
		return d == cedar.Allow, nil
	}
}
