package warden_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
)

// TestConformanceAccessControl runs every decision vector of
// testdata/conformance/accesscontrol.json through the TOML front end
// (SPEC 6.3): the examples of AccessControl's README under every strategy,
// and the places where warden deliberately differs (SPEC 3.4, 5.3).
func TestConformanceAccessControl(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/conformance/accesscontrol.json")
	if err != nil {
		t.Fatal(err)
	}
	var suites []struct {
		Name   string `json:"name"`
		Policy string `json:"policy"`
		Checks []struct {
			Subject, Resource, Action string
			Allowed                   bool
			Effect                    string
			Rule                      string
			ReasonPrefix              string `json:"reason_prefix"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	if len(suites) == 0 {
		t.Fatal("no conformance suites")
	}
	for _, s := range suites {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			p, err := warden.Parse(s.Name+".toml", []byte(s.Policy))
			if err != nil {
				t.Fatalf("policy does not load: %v", err)
			}
			for _, c := range s.Checks {
				req := warden.Request{Subject: c.Subject, Resource: c.Resource, Action: c.Action}
				for _, how := range []string{"Decide", "Explain"} {
					var d warden.Decision
					if how == "Decide" {
						d, err = p.Decide(req)
					} else {
						var e warden.Explanation
						e, err = p.Explain(req)
						d = e.Decision
					}
					if err != nil {
						t.Fatalf("%s(%+v): %v", how, req, err)
					}
					if d.Allowed != c.Allowed || d.Effect.String() != c.Effect || d.Rule != c.Rule {
						t.Errorf("%s(%s, %s, %s) = allowed %v, effect %v, rule %q; want %v, %v, %q",
							how, c.Subject, c.Resource, c.Action, d.Allowed, d.Effect, d.Rule, c.Allowed, c.Effect, c.Rule)
					}
					if !strings.HasPrefix(d.Reason, c.ReasonPrefix) {
						t.Errorf("%s(%s, %s, %s) reason %q, want prefix %q", how, c.Subject, c.Resource, c.Action, d.Reason, c.ReasonPrefix)
					}
					if d.PolicyVersion != p.Version() || d.PolicyVersion == "" {
						t.Errorf("decision version %q, policy version %q", d.PolicyVersion, p.Version())
					}
				}
			}
		})
	}
}
