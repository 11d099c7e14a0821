package guard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/warden-authz/warden/internal/wire"
)

// IDFunc finds the id of the actor making an HTTP request: a session
// lookup, a verified token's subject, a trusted proxy's header. It returns
// "" when the request is anonymous, and an error when the credentials are
// bad; both are answered 401. Handler calls it from every request's
// goroutine, so it must be safe for concurrent use. A nil IDFunc makes
// Handler answer every request 500.
type IDFunc func(r *http.Request) (string, error)

// BearerID returns an IDFunc that reads "Authorization: Bearer TOKEN" and
// asks lookup for the actor id the token belongs to. lookup must compare
// tokens in constant time (crypto/subtle) when it compares them itself.
// With a nil lookup every request fails with an error that Handler
// answers 500: authorization is not configured, which is not the
// caller's fault.
func BearerID(lookup func(token string) (id string, err error)) IDFunc {
	if lookup == nil {
		return func(*http.Request) (string, error) { return "", errNotConfigured }
	}
	return func(r *http.Request) (string, error) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", nil
		}
		return lookup(token)
	}
}

// Handler protects next: every request must come from an actor the guard
// allows. The index template's placeholders come from the route pattern's
// wildcards (r.PathValue) and then the query, so register the handler
// under a ServeMux pattern that names them:
//
//	update, _ := auth.Guard("articles:update", "articles:{category}:{id}")
//	mux.Handle("PUT /articles/{category}/{id}", update.Handler(id, h))
//
// It answers 401 when there is no actor, 403 when access is denied, 400
// when the request's values cannot name an index, and 500 when the guard
// cannot decide at all, each with a JSON error
// object ({"error": {"code": ..., "message": ...}}). next sees the actor in
// the request's context (ActorFrom).
//
// A handler with a piece missing (a nil IDFunc, BearerID(nil), a nil or
// zero Guard, a nil next) is safe to build and to serve: it answers every
// request 500, and never runs next.
func (g *Guard) Handler(id IDFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if id == nil || g == nil || g.auth == nil || next == nil {
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "authorization is not configured")
			return
		}
		name, err := id(r)
		if errors.Is(err, errNotConfigured) {
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "authorization is not configured")
			return
		}
		if err != nil || name == "" {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "no valid credentials")
			return
		}
		ctx, err = g.auth.Authorize(ctx, name)
		if err != nil {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "unknown actor")
			return
		}
		switch _, err := g.Check(ctx, r); {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(ctx))
		case errors.Is(err, ErrInvalidReference):
			writeError(w, http.StatusBadRequest, wire.CodeInvalidReference, err.Error())
		case errors.Is(err, ErrAccessDenied):
			// The reason names rules; tell the client only that it
			// was denied.
			writeError(w, http.StatusForbidden, wire.CodeAccessDenied, "access denied")
		default:
			// The guard could not decide (an actor whose rules do not
			// compile): a fault on this side, and still no access.
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "authorization failed")
		}
	})
}

// errNotConfigured is the error of an IDFunc that cannot identify anyone
// because it was built without what it needs (BearerID(nil)).
var errNotConfigured = errors.New("warden: BearerID was given no token lookup")

func writeError(w http.ResponseWriter, status int, code, message string) {
	wire.WriteError(w, status, &wire.Error{Code: code, Message: message})
}
