package jsonl

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
)

// lineStrings are valid strings that exercise every escape encoding/json
// writes, and the ones it does not.
var lineStrings = []string{
	"", "alice", `say "hi"`, `C:\path\ \\`, "\b\f\n\r\t\v", "nul\x00byte", "\x01\x1f\x7f",
	"<script>&amp;</script>", "a\u2028b\u2029c\u0085", "user\u202egnp.exe", "\ufeff\u200b",
	"🔐 \U0010FFFF", "日本語 العربية", "\ufffd", `\ufffd`, `\udcff`, "e\u0301",
}

// The line of an event in valid UTF-8 is byte for byte what encoding/json
// writes for it, so files written before appendLine read the same, and
// other tools that decode the events with encoding/json read what was
// stored.
func TestLineMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		s := lineStrings[rng.IntN(len(lineStrings))]
		if rng.IntN(3) == 0 {
			s += lineStrings[rng.IntN(len(lineStrings))]
		}
		return s
	}
	zone := time.FixedZone("x", -7*3600-1800)
	times := []time.Time{
		{}, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 12, 0, 0, 120000, zone),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Now(), // with a monotonic reading, which neither writes
	}
	fieldsOf := []func() map[string]any{
		func() map[string]any { return nil },
		func() map[string]any { return map[string]any{} },
		func() map[string]any {
			return map[string]any{pick(): pick(), "n": json.Number("9007199254740993"), "f": 1.5e300, "i": -3,
				"b": true, "z": nil, "l": []any{pick(), map[string]any{pick(): []any{}}}, "s": []string{pick()}}
		},
	}
	for i := range 2000 {
		e := audit.Event{
			ID: pick(), Time: times[i%len(times)], Subject: pick(), Action: pick(), Resource: pick(),
			Allowed: i%2 == 0, Status: audit.Status(pick()), Reason: pick(),
			Latency: time.Duration(rng.Int64N(1<<40) - 1<<39), Fields: fieldsOf[i%len(fieldsOf)](),
		}
		if i%5 != 0 {
			e.Rule, e.PolicyVersion, e.Error = pick(), pick(), pick()
		}
		e.Revision = []uint64{0, 1, 4711, math.MaxUint64, rng.Uint64()}[i%5]
		// Fields are written whenever they are not nil: an empty map
		// as {}, which the Event's omitempty would drop.
		ref := struct {
			audit.Event
			Fields json.RawMessage `json:"fields,omitempty"`
		}{Event: e}
		ref.Time = e.Time.UTC()
		if e.Fields != nil {
			ref.Fields = encodeJSON(t, e.Fields)
		}
		want := encodeJSON(t, &ref)
		got, err := appendLine([]byte("kept"), &e)
		if err != nil {
			t.Fatalf("appendLine(%+v): %v", e, err)
		}
		if !bytes.HasPrefix(got, []byte("kept")) {
			t.Fatalf("appendLine changed what was in its buffer: %q", got)
		}
		if d := cmp.Diff(string(want), string(got[4:])); d != "" {
			t.Fatalf("event %+v (-encoding/json +appendLine):\n%s", e, d)
		}
	}
}

// encodeJSON is what encoding/json writes for v, without HTML escapes.
func encodeJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Invalid UTF-8 and NUL in every string of an event are written as
// escapes, so the line is valid UTF-8 and one line, and read back as the
// same bytes.
func TestLineInvalidUTF8RoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a\xffb\xfe", "\xed\xa0\x80", "\xc3", "é\xc3(", "\x00\xff\\xff\\udcff", "日本\xe6\x97", "\n\xff\r"} {
		e := audit.Event{
			ID: s, Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Subject: s, Action: s, Resource: s,
			Status: audit.Status(s), Rule: s, Reason: s, PolicyVersion: s, Error: s,
			Fields: map[string]any{s: s, "l": []any{s}},
		}
		b, err := appendLine(nil, &e)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !utf8.Valid(b) || bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
			t.Fatalf("%q: line %q is not one line of valid UTF-8", s, b)
		}
		if strings.Contains(string(b), `\ufffd`) {
			t.Fatalf("%q: line %q replaced a byte with U+FFFD", s, b)
		}
		var l line
		if err := l.decode(b[:len(b)-1]); err != nil {
			t.Fatalf("%q: decoding %q: %v", s, b, err)
		}
		got, err := l.event()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(e, got); d != "" {
			t.Fatalf("%q: line %s read back (-want +got):\n%s", s, b, d)
		}
	}
}

// A string field that holds another kind of JSON value is damage, named as
// such; null is an absent string, as encoding/json reads it.
func TestLineStringFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, err string }{
		{`{"subject":1}`, "a number"},
		{`{"action":{}}`, "an object"},
		{`{"resource":[]}`, "an array"},
		{`{"reason":true}`, "a boolean"},
		{`{"error":"\q"}`, "invalid"},
		{`{"subject":null,"action":"\u0041\udcff\ud83d\ude00"}`, ""},
	} {
		var l line
		err := l.decode([]byte(tc.in))
		if tc.err == "" {
			if err != nil || l.Subject != "" || l.Action != "A\xff😀" {
				t.Errorf("%s: %+v, %v", tc.in, l.Event, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one saying %q", tc.in, err, tc.err)
		}
	}
}
