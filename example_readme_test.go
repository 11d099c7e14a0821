package warden_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
)

// Example_readme is the README's "From Go" code, compiled and run; the
// test below holds the README to it line for line.
func Example_readme() {
	// README:start
	editor, _ := warden.NewRole("editor", warden.Allow("articles:update", "articles:*"))
	roles, _ := warden.NewRoles(editor) // compiled once; Roles.Edit().Put(...).Commit() swaps in changes

	stored := map[string][]string{"alice": {"editor"}} // the role names your database keeps
	names := func(ctx context.Context, id string) ([]string, bool, error) {
		r, ok := stored[id] // looked up per request; the actor compiles nothing
		return r, ok, nil   // not ok: no such actor, ErrUnauthorized
	}
	auth := guard.NewRolesAuth(roles, names, &guard.Options{Audit: &audit.Memory{}})
	update, err := auth.Guard("articles:update", "articles:{category}:{id}")
	if err != nil {
		log.Fatal(err) // a malformed template is refused here, not per call
	}

	type Article struct {
		Category string `json:"category"`
		ID       int    `json:"id"`
	}
	ctx, err := auth.Authorize(context.Background(), "alice") // ErrUnauthorized if there is no such actor
	if err != nil {
		log.Fatal(err)
	}
	d, err := update.Check(ctx, Article{"animals", 42}) // fields by json name; ErrAccessDenied, ErrInvalidReference
	fmt.Println(d.Allowed, d.Reason, err)

	bearer := guard.BearerID(func(token string) (string, error) { return token, nil }) // your token check
	mux := http.NewServeMux()
	mux.Handle("PUT /articles/{category}/{id}", update.Handler(bearer, http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "updated") }))) // 401, 403, 400
	// README:end

	for _, who := range []string{"alice", "mallory"} {
		req := httptest.NewRequest("PUT", "/articles/animals/42", nil)
		req.Header.Set("Authorization", "Bearer "+who)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(who, rec.Code)
	}
	// Output:
	// true [role.editor] "editor" is allowed to do "articles:update" on "articles:*" <nil>
	// alice 200
	// mallory 401
}

// TestREADMEGoSnippet: the README shows Example_readme's code exactly, so
// the snippet a newcomer copies compiles and does what it says.
func TestREADMEGoSnippet(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "// README:start\n")
	body, _, _ = strings.Cut(body, "\t// README:end")
	var want strings.Builder
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t") + "\n")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+want.String()+"```") {
		t.Errorf("README.md does not show Example_readme's code; it should hold this block:\n```go\n%s```", want.String())
	}
}
