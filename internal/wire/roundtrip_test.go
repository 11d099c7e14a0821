package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/types"
)

// The hand-written encoders stand in for encoding/json, and the decoders
// read what they write. These properties hold them to both, over
// arbitrary strings (invalid UTF-8 included) as the fuzzer and rapid
// make them.

// tb is what the checks need of a *testing.T and a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// stdJSON is encoding/json's encoding of v without HTML escaping and
// without the newline, the form the wire format uses.
func stdJSON(t tb, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// replaced is s as it reads back from JSON: each byte of invalid UTF-8
// becomes U+FFFD, as encoding/json (and AppendString) write it.
func replaced(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

// decisionOf makes a decision the engine could make from arbitrary parts:
// allowed never contradicts the effect, the item is not negative, and
// the revision follows the item.
func decisionOf(allowed bool, effect uint8, rule string, item int, reason, version string, paths [2][]string) types.Decision {
	d := types.Decision{
		Allowed: allowed, Effect: types.Effect(effect % 3), Rule: rule, Item: max(item, -item, 0), Reason: reason,
		Revision:    uint64(max(item, -item, 0)),
		SubjectPath: paths[0], ResourcePath: paths[1], PolicyVersion: version,
	}
	switch {
	case d.Allowed && d.Effect == types.EffectDeny:
		d.Allowed = false
	case !d.Allowed && d.Effect == types.EffectAllow:
		d.Allowed = true
	}
	return d
}

// checkDecision checks both properties for d: AppendDecision writes
// encoding/json's bytes, and DecodeDecision reads them back as d (strings
// as JSON carries them, empty chains as nil).
func checkDecision(t tb, d types.Decision) {
	t.Helper()
	got := wire.AppendDecision(nil, &d)
	if want := stdJSON(t, d); !bytes.Equal(got, want) {
		t.Fatalf("AppendDecision(%+v)\n got %s\nwant %s", d, got, want)
	}
	back, err := wire.DecodeDecision(got)
	if err != nil {
		t.Fatalf("DecodeDecision(%s): %v", got, err)
	}
	want := d
	want.Rule, want.Reason, want.PolicyVersion = replaced(d.Rule), replaced(d.Reason), replaced(d.PolicyVersion)
	for _, p := range []*[]string{&want.SubjectPath, &want.ResourcePath} {
		if len(*p) == 0 {
			*p = nil
			continue
		}
		c := make([]string, len(*p))
		for i, s := range *p {
			c[i] = replaced(s)
		}
		*p = c
	}
	if diff := cmp.Diff(want, back); diff != "" {
		t.Fatalf("decode(encode(%+v)) (-want +got):\n%s", d, diff)
	}
}

// TestAppendDecisionMatchesJSON holds the encoder to encoding/json and
// the decoder to reading it back, on decisions the service sends.
func TestAppendDecisionMatchesJSON(t *testing.T) {
	t.Parallel()
	for _, d := range []types.Decision{
		{},
		{Allowed: true, Effect: types.EffectAllow, Rule: "rules.r1", Item: 2, Reason: `[rules.r1] "admin" is allowed to do "any action" on "res1"`,
			SubjectPath: []string{"user1", "g1", "g4", "admin"}, ResourcePath: []string{"part_b", "res1"}, PolicyVersion: "sha256:8ea008905fb1b8a9"},
		{Effect: types.EffectDeny, Rule: "rules.x", Item: 1, Reason: "quotes \" backslash \\ <html> & tab\t nl\n cr\r bell\a nul\x00 del\x7f", PolicyVersion: "v"},
		{Reason: "héllo 世界 \u2028 \u2029 emoji 🙂", PolicyVersion: "v"},
		{Reason: "bad utf8 \xff\xfe and \xc3 end", PolicyVersion: "\xed\xa0\x80"},
		{Effect: types.EffectNone, Reason: "x", SubjectPath: []string{}, ResourcePath: []string{""}},
		{Effect: types.EffectDeny, Rule: "rules.guard", Item: 1, Reason: "r", PolicyVersion: "v", Revision: 7, MissingContext: []string{"ip", "mfa"},
			ConditionErrors: []types.ConditionError{{Rule: "rules.guard", When: `context.mfa && context.ip.in_cidr("10.0.0.0/8")`, Error: "context.mfa is missing"}, {Rule: "rules.b", When: "x", Error: "e\n"}}},
	} {
		checkDecision(t, d)
	}
}

// FuzzAppendString checks the string encoder against encoding/json on
// any input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f", "\u2028", "\xff", "é\xc3", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := wire.AppendString(nil, s), stdJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// splitPath turns a fuzzed string into a chain: nil for "", else its
// parts between '|'.
func splitPath(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "|")
}

func FuzzDecisionRoundTrip(f *testing.F) {
	f.Add(true, uint8(1), "rules.r1", 2, `[rules.r1] "admin" is allowed`, "sha256:8ea0", "user1|g1|admin", "part_b|res1")
	f.Add(false, uint8(2), "rules.x", -1, "quotes \" \\ <html> & \t\n\r\a\x00\x7f", "v", "", "")
	f.Add(false, uint8(0), "", 0, "héllo \u2028\u2029 🙂", "\xed\xa0\x80", "a||", "|")
	f.Add(true, uint8(0), "\xff", 7, "bad \xff\xfe \xc3", "", "\xc3|\xe6\x97", "\x00")
	f.Fuzz(func(t *testing.T, allowed bool, effect uint8, rule string, item int, reason, version, sp, rp string) {
		checkDecision(t, decisionOf(allowed, effect, rule, item, reason, version, [2][]string{splitPath(sp), splitPath(rp)}))
	})
}

// anyString draws strings of arbitrary bytes, often invalid UTF-8.
var anyString = rapid.OneOf(rapid.String(), rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }))

func TestDecisionRoundTripProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		paths := [2][]string{}
		for i := range paths {
			if rapid.Bool().Draw(t, "has path") {
				paths[i] = rapid.SliceOf(anyString).Draw(t, "path")
			}
		}
		checkDecision(t, decisionOf(rapid.Bool().Draw(t, "allowed"), rapid.Uint8().Draw(t, "effect"), anyString.Draw(t, "rule"),
			rapid.Int().Draw(t, "item"), anyString.Draw(t, "reason"), anyString.Draw(t, "version"), paths))
	})
}

// checkRequest checks that EncodeRequest either refuses r, for a reason
// it names and only when r cannot travel unchanged, or writes JSON that
// DecodeRequest, alone and in a batch, reads back as r.
func checkRequest(t tb, r types.Request) {
	t.Helper()
	b, err := wire.EncodeRequest(r)
	valid := utf8.ValidString(r.Subject) && utf8.ValidString(r.Resource) && utf8.ValidString(r.Action)
	for k, v := range r.Context {
		s, _ := v.(string)
		valid = valid && utf8.ValidString(k) && utf8.ValidString(s)
	}
	if err != nil {
		if valid || !errors.Is(err, engine.ErrInvalidRequest) {
			t.Fatalf("EncodeRequest(%+v): %v", r, err)
		}
		return
	}
	if !valid {
		t.Fatalf("EncodeRequest(%+v) sent %s, which cannot carry it unchanged", r, b)
	}
	back, werr := wire.DecodeRequest(b)
	if werr != nil {
		t.Fatalf("DecodeRequest(%s): %v", b, werr)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Fatalf("decode(encode(%+v)) (-want +got):\n%s", r, diff)
	}
	batch, err := wire.EncodeBatch([]types.Request{r, {Subject: "s", Action: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	reqs, berr := wire.DecodeBatch(string(batch), wire.MaxBatch, nil, 1<<30)
	if berr != nil {
		t.Fatalf("DecodeBatch(%s): %v", batch, berr.Err)
	}
	if diff := cmp.Diff([]types.Request{r, {Subject: "s", Action: "a"}}, reqs); diff != "" {
		t.Fatalf("batch round trip (-want +got):\n%s", diff)
	}
}

func FuzzRequestRoundTrip(f *testing.F) {
	f.Add("alice", "doc:1", "read", false, "", "")
	f.Add("al\"ice\\", "", "r\x00\n", true, "ip", "::1 <&>")
	f.Add("\xff", "doc", "read", false, "", "")
	f.Add("a", "b", "c", true, "k\xff", "v")
	f.Add("a", "b", "c", true, "k", "\xed\xa0\x80")
	f.Add("é\u2028", "日本", "x", true, "", "")
	f.Fuzz(func(t *testing.T, subject, resource, action string, hasContext bool, key, val string) {
		r := types.Request{Subject: subject, Resource: resource, Action: action}
		if hasContext {
			r.Context = map[string]any{}
			if key != "" {
				r.Context[key] = val
			}
		}
		checkRequest(t, r)
	})
}

// TestEncodeRequestRefuses: what the wire cannot carry unchanged is
// refused with a message that names it, never sent altered.
func TestEncodeRequestRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    types.Request
		msg  string
	}{
		{"invalid subject", types.Request{Subject: "a\xff", Action: "r"}, "subject"},
		{"invalid resource", types.Request{Subject: "a", Resource: "\xc3", Action: "r"}, "resource"},
		{"invalid action", types.Request{Subject: "a", Action: "\xed\xa0\x80"}, "action"},
		{"invalid context value", types.Request{Subject: "a", Action: "r", Context: map[string]any{"k": "\xff"}}, "not valid UTF-8"},
		{"invalid context key", types.Request{Subject: "a", Action: "r", Context: map[string]any{"\xff": 1}}, "not valid UTF-8"},
		{"NaN in context", types.Request{Subject: "a", Action: "r", Context: map[string]any{"n": func() float64 { z := 0.0; return z / z }()}}, "cannot be sent unchanged"},
		{"invalid group", types.Request{Subject: "a", Action: "r", Groups: []string{"ok", "ad\xffmin"}}, "group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := wire.EncodeRequest(tc.r)
			if err == nil || !errors.Is(err, engine.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("EncodeRequest = %s, %v; want ErrInvalidRequest naming %q", b, err, tc.msg)
			}
			if _, err := wire.EncodeBatch([]types.Request{{Subject: "s", Action: "a"}, tc.r}); err == nil || !strings.Contains(err.Error(), "request 1") {
				t.Fatalf("EncodeBatch: %v; want an error naming request 1", err)
			}
		})
	}
}
