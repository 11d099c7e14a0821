package audittest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/warden-authz/warden/audit"
)

// baseTime is when the suite's events happen. Times are whole
// microseconds: PostgreSQL keeps no finer, and the suite checks storage,
// not clock precision.
var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// uuidAt returns the n-th of a fixed run of UUIDv7s: its timestamp is
// baseTime plus n milliseconds, so the ids sort as n does and every run of
// the suite sees the same ones.
func uuidAt(n int) string {
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(baseTime.UnixMilli())+uint64(n))
	copy(u[:6], ms[2:])
	u[6] = 0x70 // version 7
	u[8] = 0x80 // RFC 9562 variant
	binary.BigEndian.PutUint32(u[12:], uint32(n))
	return u.String()
}

// eventID is the id of the suite's i-th event. Events take the even ids,
// so gapID(i), an odd one, is a valid id that sorts strictly between
// events i and i+1 without being stored: a cursor that names no event.
func eventID(i int) string { return uuidAt(2 * i) }
func gapID(i int) string   { return uuidAt(2*i + 1) }

// eventTime is the time of the i-th event of the query data set. Pairs of
// events share a time, so the bounds of a time range meet ties, and every
// tenth event is three steps older than its neighbours, so time order is
// not id order: a guarded call's id is made when it is recorded, its time
// when the call started, and concurrent calls interleave.
func eventTime(i int) time.Time {
	n := i / 2
	if i%10 == 9 {
		n -= 3
	}
	return baseTime.Add(time.Duration(n) * (time.Second + 250*time.Microsecond))
}

// fullEvent has every field set, and Fields of every JSON kind. The big
// integer is above 2^53: a store that turns numbers into float64 changes
// it. The revision is near the largest int64, the most a store of
// warden's counts to: above 2^53 too, and it fills a signed 64-bit
// column.
func fullEvent(i int) audit.Event {
	return audit.Event{
		ID:            eventID(i),
		Time:          baseTime.Add(time.Duration(i)*time.Second + 123456*time.Microsecond),
		Subject:       "alice",
		Action:        "articles:update",
		Resource:      "articles:animals:42",
		Allowed:       true,
		Status:        audit.StatusAllowed,
		Rule:          "editors-update",
		Reason:        "rule editors-update allows alice",
		Latency:       1234567 * time.Nanosecond,
		PolicyVersion: "sha256:9f86d081884c7d65",
		Revision:      math.MaxInt64 - uint64(i),
		Fields: map[string]any{
			"request_id": fmt.Sprintf("req-%d", i),
			"attempt":    3,
			"user_id":    int64(1<<53 + 1),
			"ratio":      0.25,
			"negative":   -7,
			"tls":        true,
			"proxy":      nil,
			"hops":       []any{"10.0.0.1", 2, false, nil},
			"client":     map[string]any{"addr": "192.0.2.7", "port": 51234},
		},
	}
}

// minimalEvent leaves every optional field empty: the JSON form omits
// them, and they must come back empty, not as some default.
func minimalEvent(i int) audit.Event {
	return audit.Event{
		ID:       eventID(i),
		Time:     baseTime.Add(time.Duration(i) * time.Second),
		Subject:  "bob",
		Action:   "articles:read",
		Resource: "articles:plants:7",
		Status:   audit.StatusDenied,
		Reason:   "no rule allows",
	}
}

// errorEvent is how a decision that could not be made is recorded.
func errorEvent(i int) audit.Event {
	return audit.Event{
		ID:       eventID(i),
		Time:     baseTime.Add(time.Duration(i)*time.Second + 999999*time.Microsecond),
		Subject:  "",
		Action:   "articles:delete",
		Resource: "",
		Status:   audit.StatusError,
		Reason:   "no actor",
		Latency:  1,
		Error:    "warden: no actor in context",
		Fields:   map[string]any{"remote": "198.51.100.1"},
	}
}

// Names chosen to trip stores that match with SQL LIKE ('_' and '%'),
// fold case, trim spaces, or treat ',' and ':' specially.
var (
	dataSubjects  = []string{"alice", "bob", "carol", "a_ice", "al%", "Alice", "alice "}
	dataActions   = []string{"articles:read", "articles:write", "articles:delete", "users:read", "role:admin,editor", "read", "Articles:read"}
	dataResources = []string{"doc:1", "doc:10", "doc:2:page:3", "doc", "", "users:g:sg:1", "doc_1", "doc%1"}
)

// dataSize is more than audit.DefaultLimit, so the default limit shows.
const dataSize = 150

// dataset returns n events for the query and concurrency checks, in id
// order.
func dataset(n int) []audit.Event {
	r := rand.New(rand.NewPCG(8, 4)) // fixed: every run sees the same events
	statuses := []audit.Status{audit.StatusAllowed, audit.StatusDenied, audit.StatusError}
	events := make([]audit.Event, n)
	for i := range events {
		st := statuses[r.IntN(len(statuses))]
		e := audit.Event{
			ID:            eventID(i),
			Time:          eventTime(i),
			Subject:       dataSubjects[r.IntN(len(dataSubjects))],
			Action:        dataActions[r.IntN(len(dataActions))],
			Resource:      dataResources[r.IntN(len(dataResources))],
			Allowed:       st == audit.StatusAllowed,
			Status:        st,
			Rule:          fmt.Sprintf("rule-%d", r.IntN(5)),
			Reason:        fmt.Sprintf("reason %d", i),
			Latency:       time.Duration(r.IntN(1e6)),
			PolicyVersion: "v1",
		}
		if st == audit.StatusError {
			e.Rule, e.Error = "", "index: no value for {id}"
		}
		if i%4 == 0 {
			e.Fields = map[string]any{"i": i, "request_id": fmt.Sprintf("req-%d", i)}
		}
		if i%3 != 0 {
			e.Revision = uint64(i) * 1000 // a third decided without a store
		}
		events[i] = e
	}
	return events
}

// writeOrder is the order the query data set is written in: id order but
// for some swapped neighbours, as concurrent writers would store them.
// Queries still answer in id order.
func writeOrder(events []audit.Event) []audit.Event {
	out := append([]audit.Event(nil), events...)
	for i := 13; i < len(out); i += 13 {
		out[i-1], out[i] = out[i], out[i-1]
	}
	return out
}

// hostile are strings a sink must store unchanged or refuse with an
// error. They go in every string field of an event, and in Fields as key
// and value.
var hostile = []struct{ name, s string }{
	{"empty", ""},
	{"double-quotes", `say "hi"`},
	{"backslashes", `C:\path\to\x \\ \`},
	{"escaped-quote", `\"not the end\"`},
	{"json-escape-text", `\u0000 \n \ufffd \\u0041`},
	{"newline", "one\ntwo"},
	{"crlf", "one\r\ntwo\r"},
	{"tabs", "a\tb\t"},
	{"nul", "nul\x00byte"},
	{"control", "\x01\x07\x08\x0c\x1b[31mred\x1b[0m\x1f\x7f"},
	{"padded", "  padded  "},
	{"line-separators", "a\u2028b\u2029c\u0085d"},
	{"html", `<script>alert("x")</script> &amp; >`},
	{"rtl-override", "user\u202Egnp.exe\u202C"},
	{"zero-width-and-bom", "\uFEFFad\u200Bmin\u200D"},
	{"nfd-not-nfc", "e\u0301 vs \u00e9"},
	{"emoji-and-astral", "🔐 \U0001F469\u200D\U0001F4BB \U0010FFFF"},
	{"cjk-and-arabic", "日本語 العربية"},
	{"replacement-char", "\uFFFD"},
	{"invalid-utf8", "bad\xff\xfebytes"},
	{"surrogate-bytes", "\xed\xa0\x80"},
	{"sql-drop", `'; DROP TABLE events; --`},
	{"sql-or", `" OR 1=1 --`},
	{"sql-like", `%_%`},
	{"sql-params", `$1 ? :name @p1`},
	{"json-injection", "x\"}\n{\"id\":\"forged\",\"subject\":\"root\"}"},
	{"pattern-chars", "*:*,?{x}"},
}

// invalidUTF8 holds NUL and every kind of invalid UTF-8: bytes that never
// start a character, a surrogate's encoding, a sequence cut short before
// ASCII and after a valid character, and one cut short at the end; beside
// them the text of the escapes a store might use for them, which must stay
// text.
const invalidUTF8 = "bad\xff\xfe \xed\xa0\x80 \xc3( é\xc3 nul\x00 \\xff \\udcff \\u0000 \xe6\x97"

// stringFields are the string fields of an event, each with how to set it.
var stringFields = []struct {
	name string
	set  func(*audit.Event, string)
}{
	{"subject", func(e *audit.Event, s string) { e.Subject = s }},
	{"action", func(e *audit.Event, s string) { e.Action = s }},
	{"resource", func(e *audit.Event, s string) { e.Resource = s }},
	{"rule", func(e *audit.Event, s string) { e.Rule = s }},
	{"reason", func(e *audit.Event, s string) { e.Reason = s }},
	{"policy-version", func(e *audit.Event, s string) { e.PolicyVersion = s }},
	{"error", func(e *audit.Event, s string) { e.Error = s }},
}

// bigString is at least n bytes of the worst of the above, repeated: the
// escapes make it grow when encoded.
func bigString(n int) string {
	const unit = "\"\\\n\r\t\x00<é>\u202E'; DROP TABLE events; --\U0001F510 "
	return strings.Repeat(unit, (n+len(unit)-1)/len(unit))
}
