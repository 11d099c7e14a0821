package cond

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// DefaultCostLimit is the cost limit of one evaluation when the policy
// sets none ([rule_policy] condition_cost_limit). docs/conditions.md
// compares it with OpenFGA's, SpiceDB's and Kubernetes' limits.
const DefaultCostLimit = 10_000

// MaxExprBytes bounds the text of one condition.
const MaxExprBytes = 16 << 10

// Attribute is one declared [context] attribute.
type Attribute struct {
	Name string
	Type Type
}

// Options configure an Env. The zero Options declare no context
// attributes (a condition may read the request's names and the time only)
// and use DefaultCostLimit.
type Options struct {
	// Attributes are the [context] table, in the order it was written.
	Attributes []Attribute
	// Dynamic declares no attribute types: context is a map of whatever
	// the request carries, and a value's type is its own (rules built in
	// code, which have no [context] table). A condition's reads are then
	// checked when it runs, and a missing key or a value of the wrong
	// type fails to evaluate.
	Dynamic bool
	// CostLimit bounds each evaluation; 0 means DefaultCostLimit.
	CostLimit uint64
}

// Env compiles conditions for one policy. It is immutable once made by
// NewEnv and safe for concurrent use. The zero Env compiles nothing
// (Compile reports an issue) and declares no attribute, so it refuses
// every context key.
type Env struct {
	env     *cel.Env
	attrs   []Attribute
	index   map[string]int
	dynamic bool
	limit   uint64
}

// contextType is the type of the variable context when attributes are
// declared: a struct whose fields are the attributes, so a read of an
// undeclared one is a type error at load, and has(context.x) asks whether
// the request carries x.
var contextType = types.NewObjectType("warden.Context")

// reserved are CEL's reserved words, which cannot name attributes.
var reserved = []string{"as", "break", "const", "continue", "else", "false", "for", "function", "if",
	"import", "in", "let", "loop", "package", "namespace", "null", "return", "true", "var", "void", "while"}

// CheckName reports why name cannot be a context attribute: it must be an
// identifier, as CEL reads context.NAME.
func CheckName(name string) error {
	if name == "" {
		return errors.New("empty attribute name")
	}
	for i, c := range name {
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("attribute name %q is not an identifier (letters, digits and '_', not starting with a digit), as conditions read it as context.NAME", name)
	}
	if slices.Contains(reserved, name) {
		return fmt.Errorf("attribute name %q is a reserved word of CEL", name)
	}
	return nil
}

// NewEnv makes the environment conditions of one policy compile in.
func NewEnv(o Options) (*Env, error) {
	e := &Env{attrs: slices.Clone(o.Attributes), index: make(map[string]int, len(o.Attributes)), dynamic: o.Dynamic, limit: o.CostLimit}
	if e.limit == 0 {
		e.limit = DefaultCostLimit
	}
	for i, a := range e.attrs {
		if err := CheckName(a.Name); err != nil {
			return nil, err
		}
		if a.Type == 0 || int(a.Type) >= len(typeNames) {
			return nil, fmt.Errorf("attribute %q: unknown type %v", a.Name, a.Type)
		}
		if _, dup := e.index[a.Name]; dup {
			return nil, fmt.Errorf("attribute %q is declared twice", a.Name)
		}
		e.index[a.Name] = i
	}
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	ctxType := contextType
	if o.Dynamic {
		ctxType = cel.MapType(cel.StringType, cel.DynType)
	}
	opts := []cel.EnvOption{
		cel.CustomTypeProvider(&provider{Registry: reg, e: e}),
		cel.Variable("subject", cel.StringType),
		cel.Variable("resource", cel.StringType),
		cel.Variable("action", cel.StringType),
		cel.Variable("principals", cel.ListType(cel.StringType)),
		cel.Variable("context", ctxType),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
	}
	opts = append(opts, ipFunctions()...)
	opts = append(opts, zoneFunctions()...)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	e.env = env
	return e, nil
}

// Attributes returns the declared attributes.
func (e *Env) Attributes() []Attribute { return slices.Clone(e.attrs) }

// Declared reports whether the env declares attribute types (and so
// checks request contexts).
func (e *Env) Declared() bool { return e != nil && !e.dynamic }

// CostLimit is the limit of one evaluation.
func (e *Env) CostLimit() uint64 { return e.limit }

// provider adds the struct type of context, whose fields are the declared
// attributes, to CEL's registry.
type provider struct {
	*types.Registry
	e *Env
}

func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if name == contextType.TypeName() {
		return types.NewTypeTypeWithParam(contextType), true
	}
	return p.Registry.FindStructType(name)
}

func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if name == contextType.TypeName() {
		names := make([]string, len(p.e.attrs))
		for i, a := range p.e.attrs {
			names[i] = a.Name
		}
		return names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if name != contextType.TypeName() {
		return p.Registry.FindStructFieldType(name, field)
	}
	i, ok := p.e.index[field]
	if !ok {
		return nil, false
	}
	a := p.e.attrs[i]
	return &types.FieldType{
		Type: a.Type.cel(),
		IsSet: func(obj any) bool {
			v, ok := obj.(*Vars)
			if !ok {
				return false
			}
			_, set := v.Context[a.Name]
			return set
		},
		GetFrom: func(obj any) (any, error) {
			v, ok := obj.(*Vars)
			if !ok {
				return nil, fmt.Errorf("context.%s: no context", a.Name)
			}
			return v.attr(a)
		},
	}, true
}

func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if name == contextType.TypeName() {
		return types.NewErr("a %s cannot be built in a condition", name)
	}
	return p.Registry.NewValue(name, fields)
}

// Issue is one problem with a condition's text, at a byte offset in it.
type Issue struct {
	Offset  int
	Message string
}

// Condition is one compiled condition. It is immutable and safe for
// concurrent use. The zero Condition cannot be evaluated: Eval gives an
// error, which fails closed.
type Condition struct {
	env                           *Env
	text                          string
	prg                           cel.Program
	tracked                       bool   // evaluated with CEL's cost tracker
	maxCost                       uint64 // CEL's estimate of the worst case
	reads                         []string
	readsAll, principals, usesNow bool
	constant                      ref.Val // the value when no input can change it
}

// Text returns the expression as written.
func (c *Condition) Text() string { return c.text }

// Reads returns the context attributes the condition reads, sorted.
func (c *Condition) Reads() []string { return slices.Clone(c.reads) }

// ReadsAllContext reports that the condition uses context as a whole
// (as a map, in code-built rules), so any attribute may be read.
func (c *Condition) ReadsAllContext() bool { return c.readsAll }

// ReadsPrincipals reports whether the condition reads principals, which
// the caller must then supply.
func (c *Condition) ReadsPrincipals() bool { return c.principals }

// Constant reports whether the condition has the same value for every
// request, and that value.
func (c *Condition) Constant() (value, ok bool) {
	b, ok := c.constant.(types.Bool)
	return bool(b), ok
}

// Tracked reports whether evaluations run with CEL's cost tracker: the
// estimated worst case passes the limit.
func (c *Condition) Tracked() bool { return c.tracked }

// Compile parses and type-checks text. A condition must be a bool.
func (e *Env) Compile(text string) (*Condition, []Issue) {
	if e == nil || e.env == nil {
		return nil, []Issue{{Message: "no condition environment"}}
	}
	if len(text) > MaxExprBytes {
		return nil, []Issue{{Message: fmt.Sprintf("the condition is %d bytes, over the limit of %d", len(text), MaxExprBytes)}}
	}
	if strings.TrimSpace(text) == "" {
		return nil, []Issue{{Message: "the condition is empty; write a CEL expression such as context.mfa, or remove when"}}
	}
	if !utf8.ValidString(text) {
		return nil, []Issue{{Message: "the condition is not valid UTF-8"}}
	}
	checked, iss := e.env.Compile(text)
	if iss != nil && iss.Err() != nil {
		var out []Issue
		for _, err := range iss.Errors() {
			out = append(out, Issue{Offset: offsetOf(text, err.Location.Line(), err.Location.Column()), Message: err.Message})
		}
		return nil, out
	}
	if t := checked.OutputType(); !t.IsExactType(cel.BoolType) && !(e.dynamic && t.IsExactType(cel.DynType)) {
		return nil, []Issue{{Message: fmt.Sprintf("the condition is of type %s; it must be a bool", typeName(t))}}
	}
	if issues := checkConstants(checked.NativeRep(), text); len(issues) > 0 {
		return nil, issues
	}
	c := &Condition{env: e, text: text}
	c.scan(checked.NativeRep())
	est, err := e.env.EstimateCost(checked, estimator{e})
	c.maxCost = est.Max
	c.tracked = err != nil || est.Max > e.limit
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(constantCIDR)}
	if c.tracked {
		opts = append(opts, cel.CostLimit(e.limit))
	}
	prg, err := e.env.Program(checked, opts...)
	if err != nil {
		return nil, []Issue{{Message: err.Error()}}
	}
	c.prg = prg
	// With no variable bound, any read is an error, which only && and ||
	// can absorb, and only given an operand that read nothing: a value
	// here is the value for every request.
	if out, _, err := prg.Eval(interpreter.EmptyActivation()); err == nil {
		c.constant = out
	}
	return c, nil
}

func typeName(t *types.Type) string {
	if t.IsExactType(ipType) {
		return "ip"
	}
	return t.String()
}

// offsetOf turns CEL's line (1-based) and column (0-based, in code
// points) into a byte offset in text.
func offsetOf(text string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return len(text)
		}
		off += i + 1
	}
	for ; col > 0 && off < len(text); col-- {
		_, size := utf8.DecodeRuneInString(text[off:])
		off += size
	}
	return off
}

// scan records what the condition reads.
func (c *Condition) scan(a *ast.AST) {
	reads := map[string]bool{}
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.SelectKind:
			s := x.AsSelect()
			if op := s.Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "context" {
				reads[s.FieldName()] = true
			}
		case ast.IdentKind:
			switch x.AsIdent() {
			case "principals":
				c.principals = true
			case "now":
				c.usesNow = true
			}
		}
	}))
	// context used other than as context.NAME (context["x"], or passed
	// whole) may read anything.
	var direct, selected int
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.IdentKind:
			if x.AsIdent() == "context" {
				direct++
			}
		case ast.SelectKind:
			if op := x.AsSelect().Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "context" {
				selected++
			}
		}
	}))
	c.readsAll = direct > selected
	for r := range reads {
		c.reads = append(c.reads, r)
	}
	slices.Sort(c.reads)
}

// checkConstants refuses constant arguments of ip() and in_cidr() that
// can never be valid, at load rather than at every evaluation.
func checkConstants(a *ast.AST, text string) []Issue {
	var out []Issue
	info := a.SourceInfo()
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() != ast.CallKind {
			return
		}
		call := x.AsCall()
		args := call.Args()
		if len(args) != 1 || args[0].Kind() != ast.LiteralKind {
			return
		}
		s, ok := args[0].AsLiteral().(types.String)
		if !ok {
			return
		}
		var err error
		switch call.FunctionName() {
		case "ip":
			_, err = ipFromString(string(s))
		case "in_cidr":
			_, err = prefixFromString(string(s))
		default:
			return
		}
		if err != nil {
			loc := info.GetStartLocation(args[0].ID())
			out = append(out, Issue{Offset: offsetOf(text, loc.Line(), loc.Column()), Message: err.Error()})
		}
	}))
	return out
}

// estimator bounds the sizes of a condition's inputs for CEL's cost
// estimate.
type estimator struct{ e *Env }

const maxPrincipals = 1 << 25 // the bound on closures (engine)

func (est estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	name := func() *cost.SizeEstimate { return &cost.SizeEstimate{Min: 1, Max: 1024} }
	switch path[0] {
	case "subject", "action":
		if len(path) == 1 {
			return name()
		}
	case "resource":
		if len(path) == 1 {
			return &cost.SizeEstimate{Min: 0, Max: 1024}
		}
	case "principals":
		switch {
		case len(path) == 1:
			return &cost.SizeEstimate{Min: 1, Max: maxPrincipals}
		case len(path) == 2 && path[1] == "@items":
			return name()
		}
	case "context":
		if est.e.dynamic {
			return nil
		}
		if len(path) >= 2 {
			if i, ok := est.e.index[path[1]]; ok {
				switch est.e.attrs[i].Type {
				case String:
					if len(path) == 2 {
						return &cost.SizeEstimate{Min: 0, Max: MaxValueBytes}
					}
				case StringList:
					switch {
					case len(path) == 2:
						return &cost.SizeEstimate{Min: 0, Max: MaxListLen}
					case len(path) == 3 && path[2] == "@items":
						return &cost.SizeEstimate{Min: 0, Max: MaxValueBytes}
					}
				}
			}
		}
	}
	return nil
}

func (est estimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
