package guard_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/guard"
)

func newServer(t testing.TB) http.Handler {
	alice, _ := warden.NewActor("alice", warden.Allow("articles:update", "articles:animals:*"))
	auth := staticAuth(alice)
	tokens := map[string]string{"token-alice": "alice", "token-ghost": "ghost"}
	id := guard.BearerID(func(token string) (string, error) {
		if id, ok := tokens[token]; ok {
			return id, nil
		}
		return "", errors.New("unknown token")
	})
	update, err := auth.Guard("articles:update", "articles:{category}:{id}")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("PUT /articles/{category}/{id}", update.Handler(id, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "updated by "+guard.ActorFrom(r.Context()).ID())
	})))
	return mux
}

// TestMiddleware: 401 without an actor, 403 when denied, 400 when the path
// cannot name an index, and the handler only runs when allowed.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name, path, auth string
		status           int
		body             string
	}{
		{"allowed", "/articles/animals/42", "Bearer token-alice", 200, "updated by alice"},
		{"denied", "/articles/plants/42", "Bearer token-alice", 403, `"code":"access_denied"`},
		{"no credentials", "/articles/animals/42", "", 401, `"code":"unauthorized"`},
		{"bad token", "/articles/animals/42", "Bearer nope", 401, `"code":"unauthorized"`},
		{"unknown actor", "/articles/animals/42", "Bearer token-ghost", 401, `"code":"unauthorized"`},
		{"wrong scheme", "/articles/animals/42", "Basic token-alice", 401, `"code":"unauthorized"`},
		{"injection in the path", "/articles/animals/1:*", "Bearer token-alice", 400, `"code":"invalid_reference"`},
		{"star in the path", "/articles/animals/%2A", "Bearer token-alice", 400, `"code":"invalid_reference"`},
		{"comma in the path", "/articles/animals/1,2", "Bearer token-alice", 400, `"code":"invalid_reference"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("PUT", tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if body := rec.Body.String(); !strings.Contains(body, tt.body) {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if tt.status != 200 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
					t.Errorf("error body is not the error object: %q", rec.Body)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			}
		})
	}
}

// TestMiddlewareMisconfigured: a nil IDFunc or nil guard fails closed with
// a 500, never a panic and never the handler.
func TestMiddlewareMisconfigured(t *testing.T) {
	t.Parallel()
	ran := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })
	var nilGuard *guard.Guard
	g, _ := staticAuth().Guard("x", "")
	for _, handler := range []http.Handler{g.Handler(nil, h), nilGuard.Handler(guard.BearerID(nil), h)} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer t")
		handler.ServeHTTP(rec, req)
		if rec.Code != 500 || ran {
			t.Errorf("status %d, handler ran %v", rec.Code, ran)
		}
	}
}

// BenchmarkMiddleware measures what the guard adds to a request over the
// same handler unguarded, through the same ServeMux.
func BenchmarkMiddleware(b *testing.B) {
	bare := http.NewServeMux()
	bare.HandleFunc("PUT /articles/{category}/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"guarded", newServer(b)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("PUT", "/articles/animals/42", nil)
			req.Header.Set("Authorization", "Bearer token-alice")
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// TestMiddlewareZeroValues: a handler built from zero values or nil
// pieces never panics and never runs the protected handler. A piece
// missing from the configuration (no IDFunc, no token lookup, no guard, a
// guard not made by an Auth, no next handler) answers 500 internal; a
// configured piece that finds no actor answers 401. Each answer is the
// JSON error object.
func TestMiddlewareZeroValues(t *testing.T) {
	t.Parallel()
	ran := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the protected handler ran")
	})
	lookup := func(token string) (string, error) { return "alice", nil }
	guardOf := func(a *guard.Auth) *guard.Guard {
		g, err := a.Guard("articles:update", "")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	tests := []struct {
		name   string
		guard  *guard.Guard
		id     guard.IDFunc
		next   http.Handler
		token  string
		status int
		code   string
	}{
		{"BearerID(nil), with a token", guardOf(staticAuth()), guard.BearerID(nil), ran, "Bearer t", 500, "internal"},
		{"BearerID(nil), without a token", guardOf(staticAuth()), guard.BearerID(nil), ran, "", 500, "internal"},
		{"nil IDFunc", guardOf(staticAuth()), nil, ran, "Bearer t", 500, "internal"},
		{"nil *Guard", nil, guard.BearerID(lookup), ran, "Bearer t", 500, "internal"},
		{"zero Guard", &guard.Guard{}, guard.BearerID(lookup), ran, "Bearer t", 500, "internal"},
		{"Guard of a nil *Auth", guardOf(nil), guard.BearerID(lookup), ran, "Bearer t", 500, "internal"},
		{"nil next", guardOf(staticAuth()), guard.BearerID(lookup), nil, "Bearer t", 500, "internal"},
		{"zero Auth: no provider", guardOf(&guard.Auth{}), guard.BearerID(lookup), ran, "Bearer t", 401, "unauthorized"},
		{"NewAuth(nil, nil)", guardOf(guard.NewAuth(nil, nil)), guard.BearerID(lookup), ran, "Bearer t", 401, "unauthorized"},
		{"provider finds no actor", guardOf(staticAuth()), guard.BearerID(lookup), ran, "Bearer t", 401, "unauthorized"},
		{"lookup finds no id", guardOf(staticAuth()), guard.BearerID(func(string) (string, error) { return "", nil }), ran, "Bearer t", 401, "unauthorized"},
		{"lookup fails", guardOf(staticAuth()), guard.BearerID(func(string) (string, error) { return "", errors.New("down") }), ran, "Bearer t", 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("PUT", "/articles/1", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", tt.token)
			}
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				tt.guard.Handler(tt.id, tt.next).ServeHTTP(rec, req)
			}()
			var e struct {
				Error struct{ Code, Message string }
			}
			if rec.Code != tt.status || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("answer %d %q, want %d with the error object, code %q", rec.Code, rec.Body, tt.status, tt.code)
			}
		})
	}
}

// TestBearerIDNil: the IDFunc of BearerID(nil) is an error, called
// directly too, not a panic.
func TestBearerIDNil(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer t")
	id, err := guard.BearerID(nil)(req)
	if err == nil || id != "" || !strings.Contains(err.Error(), "BearerID") {
		t.Errorf("BearerID(nil) = %q, %v; want an error naming BearerID", id, err)
	}
}
