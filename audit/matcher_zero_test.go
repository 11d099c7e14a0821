package audit_test

import (
	"testing"

	"github.com/warden-authz/warden/audit"
)

// TestZeroMatcher: a Matcher not made by Compile matches nothing, so a
// store that misuses one returns no events rather than every event.
func TestZeroMatcher(t *testing.T) {
	t.Parallel()
	e := &audit.Event{ID: "1", Subject: "alice", Status: audit.StatusAllowed}
	var nilM *audit.Matcher
	for name, m := range map[string]*audit.Matcher{"zero": {}, "nil": nilM} {
		if m.Match(e) || m.Limit() != 0 || m.Query() != (audit.Query{}) {
			t.Errorf("%s Matcher: Match %t, Limit %d, Query %+v; want nothing", name, m.Match(e), m.Limit(), m.Query())
		}
	}
	m, err := audit.Query{}.Compile()
	if err != nil || !m.Match(e) || m.Match(nil) || m.Limit() != audit.DefaultLimit {
		t.Errorf("compiled zero Query: %v, Match %t, Limit %d; want every event, DefaultLimit", err, m.Match(e), m.Limit())
	}
}
