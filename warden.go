// Package warden is an authorization engine: it decides whether a subject
// may perform an action on a resource, and says why.
//
// Policies come from a TOML file or are built in code; both compile into
// the same immutable, indexed engine, which any number of goroutines query
// without locks.
//
// # From a policy file
//
//	policy, err := warden.Load("policy.toml")
//	if err != nil {
//		log.Fatal(err) // every problem in the file, each with file:line:col
//	}
//	d, err := policy.Decide(warden.Request{
//		Subject:  "alice",
//		Resource: "articles:animals:42",
//		Action:   "articles:update",
//	})
//	if err != nil {
//		// the request itself was malformed (a '*' in a name, say): not a deny
//	}
//	if d.Allowed {
//		// ...
//	}
//	fmt.Println(d.Reason) // [rules.desks] "desk_animals" is allowed to do "write" on "animals"
//
// # In code, and guarding functions
//
// Actors (who is asking) carry rules and roles; Allow and Deny build rules
// from a scope (the action) and an index (the resource), both patterns:
//
//	editor, _ := warden.NewRole("editor", warden.Allow("articles:update", "articles:*"))
//	alice, _ := warden.NewActor("alice", warden.Deny("articles:update", "articles:animals:1"))
//	alice.Assign(editor)
//	alice.IsAllowed("articles:update", "articles:animals:42") // true
//
// An Auth looks actors up through your ActorProvider and puts them in the
// context; a Guard protects an operation, filling its index template from
// each call's values, so one line guards a function or a handler:
//
//	auth := warden.NewAuth(provider, &warden.Options{Audit: auditLog})
//	update, err := auth.Guard("articles:update", "articles:{category}:{id}")
//	...
//	ctx, err := auth.Authorize(ctx, userID)                // ErrUnauthorized if unknown
//	updateArticle = warden.Guarded(update, updateArticle)  // ErrAccessDenied, ErrInvalidReference
//	mux.Handle("PUT /articles/{category}/{id}", update.Handler(idFromRequest, handler))
//
// A placeholder takes exactly one whole segment, and a value that is not
// one valid segment ("1:*", "*") is refused, so a caller's value can never
// widen or redirect the index.
//
// # Names and patterns
//
// Subjects, resources and actions are names: segments joined by ':', such
// as "articles:animals:42". Rules name them by pattern: a literal segment, a
// glob such as "set*" within one segment, alternatives such as "read,write",
// '*' in the middle for exactly one segment, '*' at the end for one or more
// segments, or '*' alone for everything. A request name is always literal;
// one with '*' or ',' in it is an error, not a deny.
//
// # Decisions
//
// A rule matches when its subject pattern matches the subject or any group
// or role the subject belongs to (transitively, cycles allowed), its
// resource pattern matches the resource or a resource group it belongs to,
// and its action pattern matches the action or an action group. The
// strategy combines the matching rules: deny-overrides (the default),
// allow-overrides, first-match or most-specific (toffi's behaviour). When
// nothing matches, the mismatch decision applies, and it defaults to deny.
//
// The zero Policy, a nil *Policy or *Actor, and every error path deny.
//
// The file format is described in docs/policy-file.md and the choices the
// specification leaves open in docs/semantics.md.
package warden

import (
	"errors"
	"fmt"
	"os"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// Errors a decision can come with. Both come with a denying decision.
var (
	// ErrInvalidRequest: a request name breaks the name rules (empty
	// subject or action, '*' or ',' in a name, over 1024 bytes or 64
	// segments, spaces or control characters).
	ErrInvalidRequest = engine.ErrInvalidRequest
	// ErrNoPolicy: the Policy is the zero value or nil.
	ErrNoPolicy = engine.ErrNoPolicy
	// ErrUnauthorized: there is no actor to decide for (SPEC 7.3).
	ErrUnauthorized = errors.New("warden: unauthorized: no actor")
)

// Request asks whether Subject may perform Action on Resource. An empty
// Resource means "no particular resource": only rules whose resource
// pattern is '*' apply to it. Context is carried for audit and future
// conditions; the rules do not read it yet.
type Request struct {
	Subject  string         `json:"subject"`
	Resource string         `json:"resource"`
	Action   string         `json:"action"`
	Context  map[string]any `json:"context,omitempty"`
}

// Effect is what a rule does, or what decided a request.
type Effect uint8

const (
	// EffectNone: no rule matched, and the mismatch decision applied.
	EffectNone Effect = iota
	EffectAllow
	EffectDeny
)

func (e Effect) String() string { return engine.Effect(e).String() }

// MarshalText renders the effect as "allow", "deny" or "none".
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText accepts "allow", "deny" and "none".
func (e *Effect) UnmarshalText(b []byte) error {
	switch string(b) {
	case "allow":
		*e = EffectAllow
	case "deny":
		*e = EffectDeny
	case "none":
		*e = EffectNone
	default:
		return fmt.Errorf("warden: unknown effect %q (want allow, deny or none)", b)
	}
	return nil
}

// Decision is the answer to a Request. The zero Decision denies.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Effect  Effect `json:"effect"`
	// Rule and Item name the deciding rule item: Item counts from 1 within
	// the rule's list of Effect, so ("rules.r1", EffectAllow, 2) is the
	// second item of rules.r1's allow list. Both are empty when no rule
	// matched.
	Rule   string `json:"rule,omitempty"`
	Item   int    `json:"item,omitempty"`
	Reason string `json:"reason"`
	// SubjectPath and ResourcePath are the membership chains that made the
	// deciding rule match, such as ["user1", "g1", "g4", "admin"] and
	// ["part_b", "res1"]. Decide leaves them empty, because finding them
	// costs allocations; Explain fills them.
	SubjectPath   []string `json:"subject_path,omitempty"`
	ResourcePath  []string `json:"resource_path,omitempty"`
	PolicyVersion string   `json:"policy_version"`
}

// Match is one rule item that matched a request.
type Match struct {
	Rule   string `json:"rule"`
	Item   int    `json:"item"`
	Effect Effect `json:"effect"`
	// Subject, Resource and Action are the rule item's patterns.
	Subject  string `json:"subject"`
	Resource string `json:"resource"`
	Action   string `json:"action"`
	// Position is where the item was written, as file:line:col.
	Position     string   `json:"position,omitempty"`
	Reason       string   `json:"reason"`
	Decided      bool     `json:"decided"`
	SubjectPath  []string `json:"subject_path"`
	ResourcePath []string `json:"resource_path"`
	ActionPath   []string `json:"action_path"`
}

// Explanation is a decision with every rule item that matched, in document
// order, and a sentence on how the strategy chose.
type Explanation struct {
	Decision Decision `json:"decision"`
	Strategy string   `json:"strategy"`
	Matches  []Match  `json:"matches"`
	Why      string   `json:"why"`
}

// Policy is a compiled policy. It is immutable and safe for concurrent use;
// to change policy, load a new one and swap the pointer (for example with
// atomic.Pointer). The zero Policy denies every request with ErrNoPolicy.
type Policy struct {
	c   *engine.Policy
	src *engine.Source // what c was compiled from, for Who and Can
}

// Load reads and compiles a policy file. A file with any problem loads
// nothing; the error is a *PolicyError listing every problem.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	return Parse(path, data)
}

// Parse compiles a policy from TOML text; filename is used only in error
// positions.
func Parse(filename string, data []byte) (*Policy, error) {
	src, errs := config.Parse(filename, data)
	// Compile even a file with errors so one run reports them all; the
	// result is discarded unless both stages are clean.
	c, cerrs := engine.Compile(src)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		errs.Sort()
		return nil, newPolicyError(errs)
	}
	return &Policy{c: c, src: src}, nil
}

// Version is a content hash of everything in the policy that affects
// decisions. Two processes that load the same policy report the same
// version; comments and layout do not change it.
func (p *Policy) Version() string {
	if p == nil {
		return ""
	}
	return p.c.Version()
}

// Strategy names the policy's rule strategy, such as "deny-overrides".
func (p *Policy) Strategy() string {
	if p == nil || p.c == nil {
		return engine.DenyOverrides.String()
	}
	return p.c.Strategy().String()
}

// Decide answers a request. A malformed request gets ErrInvalidRequest and
// a denying decision. Decide does not allocate, unless a resource or action
// belongs through pattern members to more than 16 groups, or more than 8
// patterns of one index level match one name; then it allocates scratch
// space for that request.
func (p *Policy) Decide(r Request) (Decision, error) {
	var c *engine.Policy
	if p != nil {
		c = p.c
	}
	o, err := c.Find(r.Subject, r.Resource, r.Action)
	return decisionOf(o, c), err
}

// decisionOf turns an engine outcome into a Decision in one construction,
// which keeps Decide free of copies of large structs.
func decisionOf(o *engine.Outcome, c *engine.Policy) Decision {
	return Decision{
		Allowed:       o.Allowed,
		Effect:        Effect(o.Effect),
		Rule:          o.Rule,
		Item:          o.Item,
		Reason:        o.Reason,
		PolicyVersion: c.Version(),
	}
}

// Explain answers a request like Decide, fills the decision's membership
// chains, and lists every rule item that matched.
func (p *Policy) Explain(r Request) (Explanation, error) {
	var c *engine.Policy
	if p != nil {
		c = p.c
	}
	e, err := c.Explain(r.Subject, r.Resource, r.Action)
	out := Explanation{
		Decision: fromEngine(e.Decision),
		Strategy: e.Strategy.String(),
		Matches:  make([]Match, 0, len(e.Matches)),
		Why:      e.Why,
	}
	for _, m := range e.Matches {
		pos := ""
		if m.Rule.Pos.Line > 0 {
			pos = m.Rule.Pos.String()
		}
		out.Matches = append(out.Matches, Match{
			Rule:         m.Rule.ID,
			Item:         m.Rule.Item,
			Effect:       Effect(m.Rule.Effect),
			Subject:      m.Rule.Subject,
			Resource:     m.Rule.Resource,
			Action:       m.Rule.Action,
			Position:     pos,
			Reason:       m.Reason,
			Decided:      m.Decided,
			SubjectPath:  m.SubjectPath,
			ResourcePath: m.ResourcePath,
			ActionPath:   m.ActionPath,
		})
	}
	return out, err
}

func fromEngine(d engine.Decision) Decision {
	return Decision{
		Allowed:       d.Allowed,
		Effect:        Effect(d.Effect),
		Rule:          d.Rule,
		Item:          d.Item,
		Reason:        d.Reason,
		SubjectPath:   d.SubjectPath,
		ResourcePath:  d.ResourcePath,
		PolicyVersion: d.PolicyVersion,
	}
}

// Diagnostic is one problem in a policy, at one place.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	return diag.Diagnostic{Pos: diag.Pos{File: d.File, Line: d.Line, Col: d.Column}, Msg: d.Message}.Error()
}

// PolicyError lists every problem found in a policy, ordered by position.
type PolicyError struct {
	Diagnostics []Diagnostic
}

func newPolicyError(l diag.List) *PolicyError {
	e := &PolicyError{Diagnostics: make([]Diagnostic, len(l))}
	for i, d := range l {
		e.Diagnostics[i] = Diagnostic{File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col, Message: d.Msg}
	}
	return e
}

func (e *PolicyError) Error() string {
	switch len(e.Diagnostics) {
	case 0:
		return "warden: invalid policy"
	case 1:
		return "warden: " + e.Diagnostics[0].String()
	}
	msg := fmt.Sprintf("warden: %d problems in policy:", len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		msg += "\n" + d.String()
	}
	return msg
}
