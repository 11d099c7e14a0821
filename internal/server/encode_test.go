package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/warden-authz/warden"
)

func marshalNoHTML(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// TestAppendDecisionMatchesJSON holds the hand-written encoder to
// encoding/json's output for warden.Decision, byte for byte.
func TestAppendDecisionMatchesJSON(t *testing.T) {
	t.Parallel()
	tests := []warden.Decision{
		{},
		{Allowed: true, Effect: warden.EffectAllow, Rule: "rules.r1", Item: 2, Reason: `[rules.r1] "admin" is allowed to do "any action" on "res1"`,
			SubjectPath: []string{"user1", "g1", "g4", "admin"}, ResourcePath: []string{"part_b", "res1"}, PolicyVersion: "sha256:8ea008905fb1b8a9"},
		{Effect: warden.EffectDeny, Rule: "rules.x", Item: 1, Reason: "quotes \" backslash \\ <html> & tab\t nl\n cr\r bell\a nul\x00 del\x7f", PolicyVersion: "v"},
		{Reason: "héllo 世界 \u2028 \u2029 emoji 🙂", PolicyVersion: "v"},
		{Reason: "bad utf8 \xff\xfe and \xc3 end", PolicyVersion: "\xed\xa0\x80"},
		{Effect: warden.EffectNone, Reason: "x", SubjectPath: []string{}, ResourcePath: []string{""}},
		{Effect: warden.EffectDeny, Rule: "rules.guard", Item: 1, Reason: "r", PolicyVersion: "v", MissingContext: []string{"ip", "mfa"},
			ConditionErrors: []warden.ConditionError{{Rule: "rules.guard", When: `context.mfa && context.ip.in_cidr("10.0.0.0/8")`, Error: "context.mfa is missing"}, {Rule: "rules.b", When: "x", Error: "e\n"}}},
	}
	for _, d := range tests {
		want := marshalNoHTML(t, d)
		got := appendDecision(nil, &d)
		if !bytes.Equal(got, want) {
			t.Errorf("appendDecision(%+v)\n got %s\nwant %s", d, got, want)
		}
	}
}

// FuzzAppendString checks the string encoder against encoding/json on
// any input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f", "\u2028", "\xff", "é\xc3", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := marshalNoHTML(t, s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
