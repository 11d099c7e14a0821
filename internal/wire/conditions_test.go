package wire_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/types"
)

// TestDecodeConditionFields: a decision's missing_context and
// condition_errors (SPEC 12.5) reach the caller, and a wrong type there
// is refused like anywhere in a decision.
func TestDecodeConditionFields(t *testing.T) {
	t.Parallel()
	d, err := wire.DecodeDecision([]byte(`{"allowed":false,"effect":"deny","rule":"rules.guard","item":1,"reason":"r","policy_version":"v",` +
		`"missing_context":["ip","mfa"],"condition_errors":[{"rule":"rules.guard","when":"context.mfa","error":"context.mfa is missing"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []types.ConditionError{{Rule: "rules.guard", When: "context.mfa", Error: "context.mfa is missing"}}
	if !slices.Equal(d.MissingContext, []string{"ip", "mfa"}) || !slices.Equal(d.ConditionErrors, want) {
		t.Fatalf("%+v", d)
	}
	for _, bad := range []string{
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","missing_context":"mfa"}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","condition_errors":{"rule":"x"}}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","missing_context":null}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","condition_errors":[{"Rule":"x","when":"w","error":"e"}]}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","condition_errors":[{"rule":"x","when":"w"}]}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","condition_errors":[{"rule":1,"when":"w","error":"e"}]}`,
		`{"allowed":false,"effect":"none","reason":"r","policy_version":"v","condition_errors":["x"]}`,
	} {
		if _, err := wire.DecodeDecision([]byte(bad)); err == nil || !strings.Contains(err.Error(), "not a decision") {
			t.Errorf("%s: %v, want an error", bad, err)
		}
	}
}
