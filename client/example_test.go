package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
)

// A client asking a service for decisions. The service here is a minimal
// stand-in for `warden serve`, deciding with a real policy, so the example
// runs on its own.
func Example() {
	policy, err := warden.Parse("policy.toml", []byte(`
[groups]
editors = ['alice']

[rules.edit]
allow = [['editors', 'articles:*', 'articles:update']]
`))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json") // the client reads nothing else
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"a valid bearer token is required"}}`)
			return
		}
		var req warden.Request
		json.NewDecoder(r.Body).Decode(&req)
		d, err := policy.Decide(req)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "invalid_request", "message": err.Error()}})
			return
		}
		json.NewEncoder(w).Encode(d)
	}))
	defer srv.Close()

	c, err := client.New(srv.URL, &client.Options{Token: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, subject := range []string{"alice", "bob"} {
		d, err := c.Check(ctx, warden.Request{Subject: subject, Resource: "articles:animals:42", Action: "articles:update"})
		if err != nil {
			log.Fatal(err) // no decision at all: treat as denied
		}
		fmt.Printf("%s: %t, %s\n", subject, d.Allowed, d.Reason)
	}

	// A malformed name is an error, not a deny, just as with Policy.Decide.
	_, err = c.Check(ctx, warden.Request{Subject: "*", Action: "articles:update"})
	fmt.Println(errors.Is(err, warden.ErrInvalidRequest))

	// So is a wrong token; the decision is then the zero one, which denies.
	bad, _ := client.New(srv.URL, &client.Options{Token: "wrong"})
	d, err := bad.Check(ctx, warden.Request{Subject: "alice", Action: "articles:update"})
	fmt.Println(d.Allowed, errors.Is(err, warden.ErrUnauthorized))
	// Output:
	// alice: true, [rules.edit] "editors" is allowed to do "articles:update" on "articles:*"
	// bob: false, no rule matched; the default mismatch decision is "deny"
	// true
	// false true
}
