// Package lint finds likely mistakes in a policy that compiles: rules that
// can never decide, names that look misspelt, groups that are empty or go in
// circles, grants wider than anyone means to write, and resource patterns
// that fit no declared schema. docs/lint.md lists every finding code, what it
// means and how to fix it; this package is its implementation.
//
// Lint looks at an [engine.Source] that compiled without errors, through
// the compiled [engine.Policy]: its membership graph ([engine.Graph]) is
// the one decisions walk. Every check runs in time close to linear in the
// size of the policy: rules are compared through indexes keyed by the
// names they can match, never pairwise, so a 110,000-rule policy lints in
// well under a second. Where an index leaves
// many candidates, a budget per rule bounds the work; lint then reports less,
// never something false.
package lint

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// Severity says how much a finding matters. The zero value is Info. It is
// a plain value, safe to copy and to share between goroutines.
type Severity uint8

const (
	// Info is worth knowing but asks for no change (a group cycle).
	Info Severity = iota
	// Warning is almost certainly not what the policy's author meant.
	Warning
	// Error is a policy that cannot work as written (a rule no accepted
	// request can match).
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// MarshalText makes a severity its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name; anything else is an error, so a
// consumer of lint's JSON never mistakes an unknown severity for info.
func (s *Severity) UnmarshalText(text []byte) error {
	if s == nil {
		return errors.New("lint: UnmarshalText into a nil *Severity")
	}
	for c := Info; c <= Error; c++ {
		if string(text) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("lint: unknown severity %q; expected info, warning or error", text)
}

// Codes name findings. They are stable: scripts and CI may match on them.
const (
	CodeTypo             = "typo"
	CodeMemberTypo       = "member-typo"
	CodeUndeclared       = "undeclared-name"
	CodeCycle            = "cycle"
	CodeEmptyGroup       = "empty-group"
	CodeShadowed         = "shadowed"
	CodeRedundant        = "redundant"
	CodeUnreachable      = "unreachable"
	CodeConflict         = "conflict"
	CodeFailOpen         = "fail-open"
	CodeBroadGrant       = "broad-grant"
	CodeAlternativesSpan = "alternatives-span"
	CodeSchemaCollapse   = "schema-collapse"
	CodeNoSchema         = "no-schema"
	CodeConstant         = "constant-condition"
	CodeUnusedContext    = "unused-context"
)

// Codes lists every finding code, in the order docs/lint.md describes them.
var Codes = []string{
	CodeTypo, CodeMemberTypo, CodeUndeclared, CodeCycle, CodeEmptyGroup, CodeShadowed, CodeRedundant,
	CodeUnreachable, CodeConflict, CodeFailOpen, CodeBroadGrant, CodeAlternativesSpan,
	CodeSchemaCollapse, CodeNoSchema, CodeConstant, CodeUnusedContext,
}

// Finding is one likely mistake, at the place to edit. It is a plain
// value, safe to copy and to share between goroutines. The zero Finding
// names no code and no place; Run never returns one.
type Finding struct {
	Severity Severity
	Code     string
	Pos      diag.Pos
	Message  string
	// Hint is a short fix: what to write instead, or what to remove.
	Hint string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%v: %v: %s [%s]", f.Pos, f.Severity, f.Message, f.Code)
	if f.Hint != "" {
		s += "\n  fix: " + f.Hint
	}
	return s
}

// Options tune a run. The zero value, and nil, mean the defaults. Run
// only reads its Options, so one may serve concurrent runs.
type Options struct {
	// Budget is the most covering-rule candidates compared with one rule
	// (default 1024). Past it, lint stops looking for what covers that
	// rule: it may miss a shadowed rule but never reports a false one.
	Budget int
}

const defaultBudget = 1024

// Run lints src, which p was compiled from (engine.Compile(src)). Lint
// reasons about memberships through p's graph, the one decisions walk, so
// what it says of groups and closures is what decisions do. A nil p, or
// one whose groups and rules do not number as src's, makes Run compile src
// itself. A source that does not compile has no findings: its problems
// are the compiler's to report, and `warden lint` shows them instead.
// Findings come ordered by position, then code.
//
// Run only reads src and p and keeps its working state per call, so
// concurrent runs, on one policy or several, are safe.
func Run(src *engine.Source, p *engine.Policy, opts *Options) []Finding {
	if src == nil {
		return nil
	}
	if !compiledFrom(p, src) {
		var errs diag.List
		if p, errs = engine.Compile(src); len(errs) > 0 {
			return nil
		}
	}
	l := &linter{src: src, budget: defaultBudget}
	if opts != nil && opts.Budget > 0 {
		l.budget = opts.Budget
	}
	l.kinds[engine.Subjects] = &kind{groups: src.Groups, graph: p.Graph(engine.Subjects)}
	l.kinds[engine.Resources] = &kind{groups: src.Resources, graph: p.Graph(engine.Resources)}
	l.kinds[engine.Actions] = &kind{groups: src.Actions, graph: p.Graph(engine.Actions)}
	l.compileRules()

	l.policy()
	l.groups()
	l.names()
	l.memberTypos()
	l.items()
	l.coverage()
	l.schemas()
	l.conditions()

	slices.SortStableFunc(l.out, func(a, b Finding) int {
		return cmp.Or(
			strings.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			strings.Compare(a.Code, b.Code),
		)
	})
	return l.out
}

// compiledFrom is a cheap check that p can be src's policy: the same
// number of groups of each kind and of rule items. It cannot prove it;
// it catches a policy passed for the wrong source.
func compiledFrom(p *engine.Policy, src *engine.Source) bool {
	return p != nil && p.Len() == len(src.Rules) &&
		p.Graph(engine.Subjects).Len() == len(src.Groups) &&
		p.Graph(engine.Resources).Len() == len(src.Resources) &&
		p.Graph(engine.Actions).Len() == len(src.Actions)
}

type linter struct {
	src    *engine.Source
	budget int
	kinds  [3]*kind // by engine.Kind
	rules  []lrule  // the rules whose patterns parse, in document order
	out    []Finding
}

func (l *linter) add(sev Severity, code string, pos diag.Pos, hint, format string, args ...any) {
	l.out = append(l.out, Finding{Severity: sev, Code: code, Pos: pos, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// policy checks the rule policy itself.
func (l *linter) policy() {
	if l.src.NoMatch == engine.EffectAllow {
		l.add(Warning, CodeFailOpen, l.src.NoMatchPos,
			"remove mismatch_decision (deny is the default), and allow what should be allowed with rules",
			"mismatch_decision = 'allow' fails open: every request no rule matches is allowed, including requests about names nobody wrote a rule for (SPEC 5.3)")
	}
}

// itemName names a rule item as users read it, with where it was written.
func itemName(r *engine.Rule) string {
	s := fmt.Sprintf("%s %s[%d]", r.ID, r.Effect, r.Item)
	if r.Pos.Line > 0 {
		s += fmt.Sprintf(" (line %d)", r.Pos.Line)
	}
	if r.When != nil {
		s += " when " + shorten(r.When.Text)
	}
	return s
}

func triple(r *engine.Rule) string {
	return fmt.Sprintf("[%q, %q, %q]", r.Subject, r.Resource, r.Action)
}
