package cond

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// Vars are what a condition reads in one decision (SPEC 12.2). A Vars is
// for one goroutine; NewVars takes one from a pool and Release returns it.
// The zero Vars is usable: empty names, no context, the clock's time.
type Vars struct {
	Subject, Resource, Action string
	// Principals are the subject and every group and role it reaches,
	// supplied ones included; needed only by conditions that
	// ReadsPrincipals.
	Principals []string
	// Context is the request's context, already checked (CheckContext).
	Context map[string]any
	// Now is the time of the decision; the zero Time means the clock's
	// time, read once, when a condition first reads now.
	Now time.Time

	env     *Env
	missing []string
	boxed   [3]ref.Val // subject, resource, action as CEL values
	now     ref.Val
}

var varsPool = sync.Pool{New: func() any { return new(Vars) }}

// NewVars returns empty Vars for conditions of e.
func (e *Env) NewVars() *Vars {
	v := varsPool.Get().(*Vars)
	v.env = e
	return v
}

// Release clears v and returns it to the pool; v must not be used after.
func (v *Vars) Release() {
	v.Reset(nil)
	varsPool.Put(v)
}

// Reset clears v for conditions of e, keeping its scratch space: a Vars
// held in a caller's own pooled state needs no pool of its own.
func (v *Vars) Reset(e *Env) {
	*v = Vars{env: e, missing: v.missing[:0]}
}

// ResolveName implements CEL's activation.
func (v *Vars) ResolveName(name string) (any, bool) {
	switch name {
	case "subject":
		return v.box(0, v.Subject), true
	case "resource":
		return v.box(1, v.Resource), true
	case "action":
		return v.box(2, v.Action), true
	case "principals":
		return types.NewStringList(types.DefaultTypeAdapter, v.Principals), true
	case "context":
		if v.env != nil && v.env.dynamic {
			return dynContext{Mapper: types.NewStringInterfaceMap(types.DefaultTypeAdapter, nil), v: v}, true
		}
		return ctxVal{v}, true
	case "now":
		if v.now == nil {
			if v.Now.IsZero() {
				v.Now = time.Now()
			}
			v.now = types.Timestamp{Time: v.Now}
		}
		return v.now, true
	}
	return nil, false
}

// Parent implements CEL's activation.
func (v *Vars) Parent() interpreter.Activation { return nil }

func (v *Vars) box(i int, s string) ref.Val {
	if v.boxed[i] == nil {
		v.boxed[i] = types.String(s)
	}
	return v.boxed[i]
}

// MissingError is the error of a condition that read an attribute the
// request did not carry.
type MissingError struct{ Name string }

func (e *MissingError) Error() string { return "context." + e.Name + " is missing" }

func (v *Vars) attr(a Attribute) (ref.Val, error) {
	raw, ok := v.Context[a.Name]
	if !ok {
		v.noteMissing(a.Name)
		return nil, &MissingError{Name: a.Name}
	}
	val, err := convert(a.Type, raw)
	if err != nil {
		return nil, fmt.Errorf("context.%s: %w", a.Name, err)
	}
	return val, nil
}

func (v *Vars) noteMissing(name string) {
	if !slices.Contains(v.missing, name) {
		v.missing = append(v.missing, name)
	}
}

// ctxVal is the variable context of declared attributes: its fields are
// read through the provider's FieldType, from the Vars it wraps.
type ctxVal struct{ v *Vars }

func (c ctxVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("context cannot be converted")
}

func (c ctxVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return contextType
	}
	return types.NewErr("context cannot be converted to %s", t.TypeName())
}

func (c ctxVal) Equal(o ref.Val) ref.Val {
	d, ok := o.(ctxVal)
	return types.Bool(ok && d.v == c.v)
}

func (c ctxVal) Type() ref.Type { return contextType }

// Value is the Vars, which the provider's FieldType reads fields from.
func (c ctxVal) Value() any { return c.v }

// Result is how one evaluation went.
type Result struct {
	// Value is the condition's value when Err is nil.
	Value bool
	// Err says why the condition could not be evaluated: an attribute it
	// read was missing, an error, the cost limit.
	Err error
	// Missing are the attributes the condition read and the request did
	// not carry, when Err is not nil.
	Missing []string
}

// Eval evaluates c with v. It never panics: CEL's own failures become
// Err.
func (c *Condition) Eval(v *Vars) (r Result) {
	if c == nil || c.prg == nil {
		return Result{Err: errors.New("no condition")}
	}
	if c.constant != nil {
		b, _ := c.constant.(types.Bool)
		return Result{Value: bool(b)}
	}
	v.env = c.env
	v.missing = v.missing[:0]
	out, _, err := c.prg.Eval(v)
	if err == nil {
		b, ok := out.(types.Bool)
		if ok {
			return Result{Value: bool(b)}
		}
		err = fmt.Errorf("the condition gave %s, not a bool", out.Type().TypeName())
	}
	r.Err = cleanError(err)
	if len(v.missing) > 0 {
		r.Missing = slices.Clone(v.missing)
		slices.Sort(r.Missing)
	}
	return r
}

// cleanError makes CEL's cost error read as warden's.
func cleanError(err error) error {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return ErrCostLimit
	}
	return err
}

// ErrCostLimit is the error of an evaluation stopped by the cost limit.
var ErrCostLimit = errors.New("the evaluation passed the cost limit")

// CheckContext checks a request's context against the declared
// attributes (SPEC 12.4): every key declared, every value of its type. An
// env with no declared types (Dynamic) checks the values only. The error
// names the first bad key, in sorted order, so the same request always
// gets the same error.
func (e *Env) CheckContext(ctx map[string]any) error {
	if len(ctx) == 0 {
		return nil
	}
	// The common case, a valid context, is checked without allocating;
	// only a bad one is checked again in sorted order, to name the same
	// key every time.
	if e.valid(ctx) {
		return nil
	}
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := e.checkValue(k, ctx[k]); err != nil {
			return err
		}
	}
	return nil
}

// valid reports whether ctx is valid. With few attributes declared, it
// looks each up rather than iterate the map: starting an iteration costs
// more than a few lookups, and every key found among the declared ones,
// as many as the map holds, means none is undeclared.
func (e *Env) valid(ctx map[string]any) bool {
	if !e.dynamic && len(e.attrs) <= 8 {
		found := 0
		for _, a := range e.attrs {
			v, ok := ctx[a.Name]
			if !ok {
				continue
			}
			if _, err := check(a.Type, v); err != nil {
				return false
			}
			found++
		}
		return found == len(ctx)
	}
	for k, v := range ctx {
		if e.checkValue(k, v) != nil {
			return false
		}
	}
	return true
}

func (e *Env) checkValue(k string, v any) error {
	{
		if e.dynamic {
			if _, err := infer(v); err != nil {
				return fmt.Errorf("context.%s: %w", short(k), err)
			}
			return nil
		}
		i, ok := e.index[k]
		if !ok {
			return fmt.Errorf("context.%s is not declared in [context]%s", short(k), e.declaredList())
		}
		if _, err := check(e.attrs[i].Type, v); err != nil {
			return fmt.Errorf("context.%s: %w", k, err)
		}
	}
	return nil
}

func (e *Env) declaredList() string {
	if len(e.attrs) == 0 {
		return " (it declares no attributes)"
	}
	s := " (declared:"
	for i, a := range e.attrs {
		if i > 0 {
			s += ","
		}
		s += " " + a.Name
	}
	return s + ")"
}

// dynContext is the variable context when no types are declared: a map
// whose values take their types from the Go values, and whose missing
// keys are recorded.
type dynContext struct {
	traits.Mapper
	v *Vars
}

func (d dynContext) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	raw, ok := d.v.Context[string(k)]
	if !ok {
		d.v.noteMissing(string(k))
		return nil, false
	}
	val, err := infer(raw)
	if err != nil {
		return types.WrapErr(fmt.Errorf("context.%s: %w", k, err)), false
	}
	return val, true
}

func (d dynContext) Get(key ref.Val) ref.Val {
	if v, ok := d.Find(key); ok {
		return v
	}
	return types.WrapErr(&MissingError{Name: fmt.Sprint(key.Value())})
}

func (d dynContext) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	_, has := d.v.Context[string(k)]
	return types.Bool(has)
}

func (d dynContext) Size() ref.Val { return types.Int(len(d.v.Context)) }

func ipFromString(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("ip: %q is not an IP address", short(s))
	}
	return a, nil
}

func prefixFromString(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("in_cidr: %q is not a CIDR range such as \"10.0.0.0/8\"", short(s))
	}
	return p, nil
}
