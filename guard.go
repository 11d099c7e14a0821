package warden

import (
	"context"
	"errors"
	"fmt"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/internal/template"
)

// Errors a guard returns (SPEC 7.3). Each comes with a denying decision.
var (
	// ErrAccessDenied: the actor may not do this. The error is a
	// *DeniedError carrying the decision.
	ErrAccessDenied = errors.New("warden: access denied")
	// ErrInvalidReference: the guard's index template could not be filled
	// from the call's values: a placeholder was missing, or its value
	// was not exactly one valid segment (SPEC 7.4).
	ErrInvalidReference = template.ErrInvalidReference
)

// DeniedError is the error of a denied guarded call. errors.Is(err,
// ErrAccessDenied) reports it.
type DeniedError struct {
	Actor    string
	Scope    string
	Index    string
	Decision Decision
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("warden: access denied: %q may not do %q on %q: %s", e.Actor, e.Scope, e.Index, e.Decision.Reason)
}

func (e *DeniedError) Unwrap() error { return ErrAccessDenied }

// ActorProvider supplies the actor for an id: your database lookup
// (toffi's ActorProvider.get_actor). A nil actor means there is none.
type ActorProvider interface {
	Actor(ctx context.Context, id string) (*Actor, error)
}

// ActorProviderFunc adapts a function to ActorProvider.
type ActorProviderFunc func(ctx context.Context, id string) (*Actor, error)

// Actor calls f.
func (f ActorProviderFunc) Actor(ctx context.Context, id string) (*Actor, error) { return f(ctx, id) }

// Options configure an Auth. The zero Options, and a nil *Options, mean no
// fallback.
type Options struct {
	// Fallback is consulted only when no rule matched (SPEC 7.6), never to
	// overturn an explicit deny: toffi's on_guard, for rules such as "the
	// owner may edit their own article" that need your data. It returns
	// whether to allow.
	Fallback func(ctx context.Context, actor *Actor, scope, index string) bool
}

// Auth authorizes actors and makes guards. It holds no per-request state:
// the actor travels in the context.Context, so one Auth serves every
// goroutine.
type Auth struct {
	provider ActorProvider
	opts     Options
}

// NewAuth makes an Auth that looks actors up with p.
func NewAuth(p ActorProvider, opts *Options) *Auth {
	a := &Auth{provider: p}
	if opts != nil {
		a.opts = *opts
	}
	return a
}

type actorKey struct{}

// WithActor returns a context carrying actor.
func WithActor(ctx context.Context, actor *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor ctx carries, or nil.
func ActorFrom(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	return a
}

// Authorize looks up the actor for id and returns a context carrying it.
// No provider, no actor, or a provider error is ErrUnauthorized (wrapping
// the provider's error).
func (a *Auth) Authorize(ctx context.Context, id string) (context.Context, error) {
	if a == nil || a.provider == nil {
		return ctx, ErrUnauthorized
	}
	actor, err := a.provider.Actor(ctx, id)
	if err != nil {
		return ctx, fmt.Errorf("%w: looking up %q: %w", ErrUnauthorized, id, err)
	}
	if actor == nil {
		return ctx, fmt.Errorf("%w: no actor %q", ErrUnauthorized, id)
	}
	return WithActor(ctx, actor), nil
}

// Guard protects an operation: it names a scope and, optionally, an index
// template such as "articles:{category}:{id}" whose placeholders are
// filled from each call's values. A Guard is immutable and safe for
// concurrent use.
type Guard struct {
	auth  *Auth
	scope string
	index *template.Template
	roles []string // a roles-only guard: no scope, these roles required
}

// Guard makes a guard for scope with an index template (SPEC 7.3); an empty
// template means no particular resource. The scope must be a literal name
// and the template well formed: mistakes are reported here, once, not on
// every call.
func (a *Auth) Guard(scope, index string) (*Guard, error) {
	if err := pattern.CheckName(scope); err != nil {
		return nil, fmt.Errorf("warden: guard scope: %w", err)
	}
	t, err := template.Parse(index)
	if err != nil {
		return nil, fmt.Errorf("warden: guard index: %w", err)
	}
	return &Guard{auth: a, scope: scope, index: t}, nil
}

// RequireRoles makes a guard that needs no scope, only roles: the actor
// must hold every one of them, directly or by inheritance (toffi's
// role-only guard).
func (a *Auth) RequireRoles(roles ...string) (*Guard, error) {
	if len(roles) == 0 {
		return nil, errors.New("warden: RequireRoles needs at least one role")
	}
	for _, r := range roles {
		if err := pattern.CheckName(r); err != nil {
			return nil, fmt.Errorf("warden: required role: %w", err)
		}
	}
	return &Guard{auth: a, roles: append([]string(nil), roles...)}, nil
}

// Check authorizes one call: the actor comes from ctx, and the index
// template is filled from values, tried in order for each placeholder. A
// value may be a struct (fields by their json name, nested with dots), a
// map, a *http.Request (path values, then query parameters), or anything
// else (a string, an integer, a fmt.Stringer) that fills the placeholder
// "{value}".
func (g *Guard) Check(ctx context.Context, values ...any) (Decision, error) {
	actor := ActorFrom(ctx)
	if actor == nil {
		return Decision{Reason: "no actor"}, ErrUnauthorized
	}
	if g.roles != nil {
		for _, r := range g.roles {
			if !actor.HasRole(r) {
				d := Decision{Reason: fmt.Sprintf("%q does not hold the role %q", actor.ID(), r)}
				return d, &DeniedError{Actor: actor.ID(), Scope: "role:" + r, Decision: d}
			}
		}
		return Decision{Allowed: true, Reason: fmt.Sprintf("%q holds every required role", actor.ID())}, nil
	}
	index, err := g.resolve(values)
	if err != nil {
		return Decision{Reason: "invalid reference"}, fmt.Errorf("warden: guard %q: %w", g.scope, err)
	}
	d, err := actor.Decide(g.scope, index)
	if err != nil {
		return d, err
	}
	if d.Effect == EffectNone && g.auth != nil && g.auth.opts.Fallback != nil {
		if g.auth.opts.Fallback(ctx, actor, g.scope, index) {
			d.Allowed = true
			d.Reason = "no rule matched; the fallback allowed"
		} else {
			d.Allowed = false
			d.Reason = "no rule matched; the fallback denied"
		}
	}
	if !d.Allowed {
		return d, &DeniedError{Actor: actor.ID(), Scope: g.scope, Index: index, Decision: d}
	}
	return d, nil
}

// sourcesMax covers the values of a call without allocating.
const sourcesMax = 4

func (g *Guard) resolve(values []any) (string, error) {
	var buf [sourcesMax]template.Source
	sources := buf[:0]
	for _, v := range values {
		switch v.(type) {
		case string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, bool, fmt.Stringer:
			// A bare value has no fields to name: it fills {value}.
			sources = append(sources, template.Values(map[string]any{"value": v}))
		default:
			sources = append(sources, template.Value(v))
		}
	}
	return g.index.Resolve(sources...)
}

// Guarded wraps fn so that every call is checked first, with fn's argument
// as the template's values; a call that fails the check never runs fn.
func Guarded[T, R any](g *Guard, fn func(context.Context, T) (R, error)) func(context.Context, T) (R, error) {
	return func(ctx context.Context, arg T) (R, error) {
		if _, err := g.Check(ctx, arg); err != nil {
			var zero R
			return zero, err
		}
		return fn(ctx, arg)
	}
}

// GuardedAfter wraps fn so that it runs first and the check uses its
// result, then its argument, as the template's values (toffi's
// guard_after): for an index known only once the data is loaded. A call
// that fails the check returns the zero R and the error, never the result.
func GuardedAfter[T, R any](g *Guard, fn func(context.Context, T) (R, error)) func(context.Context, T) (R, error) {
	return func(ctx context.Context, arg T) (R, error) {
		var zero R
		if ActorFrom(ctx) == nil {
			return zero, ErrUnauthorized // do not even run fn for nobody
		}
		res, err := fn(ctx, arg)
		if err != nil {
			return zero, err
		}
		if _, err := g.Check(ctx, res, arg); err != nil {
			return zero, err
		}
		return res, nil
	}
}
