// Package guard protects functions and HTTP handlers with warden's
// decisions (SPEC 7): toffi's actor provider, guards and audited calls.
//
// An Auth finds who is asking and puts the actor in the context; a Guard
// names a scope and an index template, and checks each call, filling the
// template from the call's values:
//
//	editor, _ := warden.NewRole("editor", warden.Allow("articles:update", "articles:*"))
//	roles, _ := warden.NewRoles(editor)
//	auth := guard.NewRolesAuth(roles, func(ctx context.Context, id string) ([]string, bool, error) {
//		return rolesOf(ctx, id) // the role names you store for id
//	}, &guard.Options{Audit: auditLog})
//	update, err := auth.Guard("articles:update", "articles:{category}:{id}")
//	...
//	ctx, err := auth.Authorize(ctx, userID)               // warden.ErrUnauthorized if unknown
//	updateArticle = guard.Guarded(update, updateArticle)  // ErrAccessDenied, ErrInvalidReference
//	mux.Handle("PUT /articles/{category}/{id}", update.Handler(guard.BearerID(lookup), handler))
//
// A placeholder takes exactly one whole segment, and a value that is not
// one valid segment ("1:*", "*") is refused, so a caller's value can never
// widen or redirect the index.
//
// Auths and Guards never change once made and hold no per-request state:
// one of each serves every goroutine without locks.
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
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
// ErrAccessDenied) reports it. It is a plain value; a nil *DeniedError
// still says that access was denied.
type DeniedError struct {
	Actor    string
	Scope    string
	Index    string
	Decision warden.Decision
}

func (e *DeniedError) Error() string {
	if e == nil {
		return "warden: access denied"
	}
	return fmt.Sprintf("warden: access denied: %q may not do %q on %q: %s", e.Actor, e.Scope, e.Index, e.Decision.Reason)
}

func (e *DeniedError) Unwrap() error { return ErrAccessDenied }

// ActorProvider supplies the actor for an id: your database lookup
// (toffi's ActorProvider.get_actor). A nil actor means there is none.
// Authorize calls it from many goroutines at once: it must be safe for
// concurrent use. Actors are immutable, so it may share one among calls.
type ActorProvider interface {
	Actor(ctx context.Context, id string) (*warden.Actor, error)
}

// ActorProviderFunc adapts a function to ActorProvider. A nil
// ActorProviderFunc is not a provider: NewAuth with one authorizes no one.
type ActorProviderFunc func(ctx context.Context, id string) (*warden.Actor, error)

// Actor calls f. A nil f finds no actor.
func (f ActorProviderFunc) Actor(ctx context.Context, id string) (*warden.Actor, error) {
	if f == nil {
		return nil, nil
	}
	return f(ctx, id)
}

// Options configure an Auth. The zero Options, and a nil *Options, mean no
// fallback, no audit and time.Now. The callbacks run on the goroutines of
// guarded calls, many at once: they must be safe for concurrent use.
type Options struct {
	// Fallback is consulted only when no rule matched (SPEC 7.6), never to
	// overturn an explicit deny: toffi's on_guard, for rules such as "the
	// owner may edit their own article" that need your data. It returns
	// whether to allow; nil means no rule matched is denied.
	Fallback func(ctx context.Context, actor *warden.Actor, scope, index string) bool

	// Audit receives an event for every guarded call (SPEC 8.1); nil
	// records nothing. It is called before the guard returns. An event
	// records the store revision its decision saw when the actor belongs
	// to an Engine (Engine.Actor); an actor without a store (a policy
	// file's, or one made with NewActor) decides on no data, and its
	// events have Revision 0.
	Audit audit.Sink
	// AuditDenialsOnly records only the calls that were not allowed.
	AuditDenialsOnly bool
	// AuditRequired makes a call fail closed, with ErrAuditFailed, when its
	// event cannot be recorded (SPEC 8.3).
	AuditRequired bool
	// OnAuditError hears every event that could not be recorded when audit
	// is not required, before the guarded call returns; nil logs it with
	// log/slog's default logger. An audit failure is never silent.
	OnAuditError func(error)
	// Clock gives events their time and latency, and conditions their
	// now: it is read when a guarded call starts deciding and when it
	// ends. nil means time.Now. Tests pass a fake clock.
	Clock func() time.Time

	// Attributes gives the context conditions read (SPEC 12) for one
	// guarded call, from the call's values: the same values the index
	// template is filled from, such as the article being updated, whose
	// owner a condition compares with the subject. Its attributes are
	// added to those of WithAttributes, and win where both give a key.
	// An error denies the call with that error. Nil gives none.
	Attributes func(ctx context.Context, actor *warden.Actor, values []any) (map[string]any, error)
}

type attributesKey struct{}

// WithAttributes returns a context carrying attributes for the conditions
// of every guarded call made with it, added to any it already carries:
// what middleware knows of the request, such as the client's address or
// whether the session passed MFA.
func WithAttributes(ctx context.Context, attrs map[string]any) context.Context {
	if prev := AttributesFrom(ctx); len(prev) > 0 {
		merged := make(map[string]any, len(prev)+len(attrs))
		maps.Copy(merged, prev)
		maps.Copy(merged, attrs)
		attrs = merged
	}
	return context.WithValue(ctx, attributesKey{}, attrs)
}

// AttributesFrom returns the attributes ctx carries, or nil. The map is
// shared: do not change it.
func AttributesFrom(ctx context.Context) map[string]any {
	if ctx == nil {
		return nil
	}
	m, _ := ctx.Value(attributesKey{}).(map[string]any)
	return m
}

// errNilGuard denies calls through a nil *Guard, which is what ignoring
// the error of Auth.Guard leaves behind.
var errNilGuard = errors.New("warden: nil Guard (was the error from Auth.Guard ignored?)")

// ErrAuditFailed: the call's audit event could not be recorded and the
// Auth requires it, so the call was denied.
var ErrAuditFailed = errors.New("warden: audit event not recorded")

// Auth authorizes actors and makes guards. It holds no per-request state:
// the actor travels in the context.Context, and an Auth never changes once
// made, so one Auth serves every goroutine without locks.
// The zero Auth and a nil *Auth have no way to find actors: Authorize
// fails with warden.ErrUnauthorized, and their guards' handlers answer
// 500; their guards' Check still decides for an actor put in the context
// (WithActor).
type Auth struct {
	provider ActorProvider
	set      *warden.Roles // with names, instead of a provider
	names    RoleNames
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

// RoleNames looks up the names of the roles the actor id holds, in your
// store: a session, a database row, a token's claims. ok false means
// there is no such actor. Authorize calls it from many goroutines at
// once: it must be safe for concurrent use. Authorize does not keep the
// slice past the call, so it may be shared.
type RoleNames func(ctx context.Context, id string) (roles []string, ok bool, err error)

// NewRolesAuth makes an Auth whose actors hold roles of set, named for
// each Authorize by names: the ActorProvider that makes an actor per
// request from stored role names, made cheaper. Authorize builds the actor
// inside the context that carries it, so a guarded call with a fresh
// actor holding at most four roles allocates that context and the index
// it resolves, and nothing else without audit or Options.Attributes
// (docs/performance.md); more roles take one allocation more. A nil set
// or names authorizes no one.
func NewRolesAuth(set *warden.Roles, names RoleNames, opts *Options) *Auth {
	a := &Auth{set: set, names: names}
	if opts != nil {
		a.opts = *opts
	}
	return a
}

type actorKey struct{}

// WithActor returns a context carrying actor.
func WithActor(ctx context.Context, actor *warden.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorCtx carries an actor held by value, made with it in one
// allocation: what WithActor does in two, one for the actor and one for
// the context.
type actorCtx struct {
	context.Context
	actor warden.Actor
}

func (c *actorCtx) Value(key any) any {
	if key == (actorKey{}) {
		return &c.actor
	}
	return c.Context.Value(key)
}

func (c *actorCtx) String() string {
	return fmt.Sprintf("%v.WithActor(%q)", c.Context, c.actor.ID())
}

// ActorFrom returns the actor ctx carries, or nil (for a nil ctx too).
func ActorFrom(ctx context.Context) *warden.Actor {
	if ctx == nil {
		return nil
	}
	a, _ := ctx.Value(actorKey{}).(*warden.Actor)
	return a
}

// Authorize looks up the actor for id and returns a context carrying it.
// No provider, no actor, or a lookup's error is warden.ErrUnauthorized
// (wrapping the lookup's error).
func (a *Auth) Authorize(ctx context.Context, id string) (context.Context, error) {
	switch {
	case ctx == nil:
		return ctx, fmt.Errorf("%w: Authorize was given a nil context", warden.ErrUnauthorized)
	case a == nil:
		return ctx, warden.ErrUnauthorized
	case a.names != nil && a.set != nil:
		return a.authorizeRoles(ctx, id)
	case a.provider == nil:
		return ctx, warden.ErrUnauthorized
	}
	actor, err := a.provider.Actor(ctx, id)
	if err != nil {
		return ctx, fmt.Errorf("%w: looking up %q: %w", warden.ErrUnauthorized, id, err)
	}
	if actor == nil {
		return ctx, fmt.Errorf("%w: no actor %q", warden.ErrUnauthorized, id)
	}
	return WithActor(ctx, actor), nil
}

func (a *Auth) authorizeRoles(ctx context.Context, id string) (context.Context, error) {
	roles, ok, err := a.names(ctx, id)
	if err != nil {
		return ctx, fmt.Errorf("%w: looking up %q: %w", warden.ErrUnauthorized, id, err)
	}
	if !ok {
		return ctx, fmt.Errorf("%w: no actor %q", warden.ErrUnauthorized, id)
	}
	// Roles.Actor inlines here, so the actor it makes lives on this
	// stack and only its copy in the context reaches the heap.
	actor, err := a.set.Actor(id, roles...)
	if err != nil {
		return ctx, fmt.Errorf("%w: %w", warden.ErrUnauthorized, err)
	}
	return &actorCtx{Context: ctx, actor: *actor}, nil
}

// Guard protects an operation: it names a scope and, optionally, an index
// template such as "articles:{category}:{id}" whose placeholders are
// filled from each call's values. A Guard is immutable and safe for
// concurrent use.
// Make guards with Auth.Guard or RequireRoles: a zero or nil Guard denies
// every call, and its Handler answers 500.
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
// else (a string, an integer, a fmt.Stringer), which fills the placeholder
// "{value}" and no other.
func (g *Guard) Check(ctx context.Context, values ...any) (warden.Decision, error) {
	if g == nil {
		return warden.Decision{Reason: "no guard"}, errNilGuard
	}
	if ctx == nil {
		return warden.Decision{Reason: "no actor"}, fmt.Errorf("%w: Check was given a nil context", warden.ErrUnauthorized)
	}
	var opts Options
	if g.auth != nil {
		opts = g.auth.opts
	}
	if opts.Audit == nil {
		// The decision's time, for conditions that read now: the
		// clock's, or, without one, read by the engine only if a
		// condition needs it.
		var at time.Time
		if opts.Clock != nil {
			at = opts.Clock()
		}
		d, _, err := g.check(ctx, values, at)
		return d, err
	}
	now := time.Now
	if opts.Clock != nil {
		now = opts.Clock
	}
	start := now()
	d, index, err := g.check(ctx, values, start)
	if opts.AuditDenialsOnly && d.Allowed && err == nil {
		return d, nil
	}
	if aerr := g.record(ctx, opts.Audit, start, now(), d, index, err); aerr != nil {
		if opts.AuditRequired {
			d.Allowed = false
			return d, fmt.Errorf("%w: %w", ErrAuditFailed, aerr)
		}
		if opts.OnAuditError != nil {
			opts.OnAuditError(aerr)
		} else {
			slog.Default().Warn("warden: audit event not recorded", "scope", g.scope, "err", aerr)
		}
	}
	return d, err
}

// record sends the event of one guarded call to the sink. A denial is a
// decision, not an error; every other error (no actor, an index that
// cannot be filled) makes an error event.
func (g *Guard) record(ctx context.Context, sink audit.Sink, start, end time.Time, d warden.Decision, index string, err error) error {
	req := warden.Request{Action: g.scope, Resource: index, Context: audit.Fields(ctx)}
	if a := ActorFrom(ctx); a != nil {
		req.Subject = a.ID()
	}
	if g.roles != nil {
		req.Action = "role:" + strings.Join(g.roles, ",")
	}
	if errors.Is(err, ErrAccessDenied) {
		err = nil
	}
	e, eerr := audit.NewEvent(req, d, err, start, end)
	if eerr != nil {
		return eerr
	}
	return sink.Record(ctx, &e)
}

// check decides one call at time now and returns the decision and the
// index it was made on.
func (g *Guard) check(ctx context.Context, values []any, now time.Time) (warden.Decision, string, error) {
	actor := ActorFrom(ctx)
	if actor == nil {
		return warden.Decision{Reason: "no actor"}, "", warden.ErrUnauthorized
	}
	if g.roles != nil {
		for _, r := range g.roles {
			if !actor.HasRole(r) {
				d := warden.Decision{Reason: fmt.Sprintf("%q does not hold the role %q", actor.ID(), r)}
				return d, "", &DeniedError{Actor: actor.ID(), Scope: "role:" + r, Decision: d}
			}
		}
		return warden.Decision{Allowed: true, Reason: fmt.Sprintf("%q holds every required role", actor.ID())}, "", nil
	}
	index, err := g.resolve(values)
	if err != nil {
		return warden.Decision{Reason: "invalid reference"}, "", fmt.Errorf("warden: guard %q: %w", g.scope, err)
	}
	attrs := AttributesFrom(ctx)
	if g.auth != nil {
		if src := g.auth.opts.Attributes; src != nil {
			// A copy, so that values, the variadic slice of every
			// Check, does not escape to the heap for the callers that
			// set no Attributes (escape analysis cannot tell them
			// apart): one allocation saved on every guarded call.
			call, err := src(ctx, actor, slices.Clone(values))
			if err != nil {
				return warden.Decision{Reason: "attributes unavailable"}, index, fmt.Errorf("warden: guard %q: attributes: %w", g.scope, err)
			}
			if len(call) > 0 {
				merged := make(map[string]any, len(attrs)+len(call))
				maps.Copy(merged, attrs)
				maps.Copy(merged, call)
				attrs = merged
			}
		}
	}
	d, err := actor.DecideWith(g.scope, index, attrs, now)
	if err != nil {
		return d, index, err
	}
	if d.Effect == warden.EffectNone && g.auth != nil && g.auth.opts.Fallback != nil {
		if g.auth.opts.Fallback(ctx, actor, g.scope, index) {
			d.Allowed = true
			d.Reason = "no rule matched; the fallback allowed"
		} else {
			d.Allowed = false
			d.Reason = "no rule matched; the fallback denied"
		}
	}
	if !d.Allowed {
		return d, index, &DeniedError{Actor: actor.ID(), Scope: g.scope, Index: index, Decision: d}
	}
	return d, index, nil
}

// sourcesMax covers the values of a call without allocating.
const sourcesMax = 4

func (g *Guard) resolve(values []any) (string, error) {
	var buf [sourcesMax]template.Source
	sources := buf[:0]
	for _, v := range values {
		switch v.(type) {
		case string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, bool, fmt.Stringer:
			// A bare value has no field names: it is "{value}", and only
			// that, so a template naming something else cannot be
			// filled by accident (toffi.json's guard vectors).
			sources = append(sources, template.Bare(v))
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
			return zero, warden.ErrUnauthorized // do not even run fn for nobody
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
