package wire_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/faithful"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/types"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want types.Request
	}{
		{"all fields", `{"subject":"user1","resource":"part_b","action":"GET","context":{"ip":"10.0.0.1"}}`,
			types.Request{Subject: "user1", Resource: "part_b", Action: "GET", Context: map[string]any{"ip": "10.0.0.1"}}},
		{"no resource", `{"subject":"u","action":"a"}`, types.Request{Subject: "u", Action: "a"}},
		{"any order, spaces", ` { "action" : "a" , "subject" : "u" } `, types.Request{Subject: "u", Action: "a"}},
		{"unicode escapes", `{"subject":"\u00e9l\u00e8ve","action":"a"}`, types.Request{Subject: "élève", Action: "a"}},
		{"names are not checked here", `{"subject":"a*","action":"a"}`, types.Request{Subject: "a*", Action: "a"}},
		{"numbers keep every digit", `{"subject":"u","action":"a","context":{"n":9007199254740993,"f":-1.50e+300}}`,
			types.Request{Subject: "u", Action: "a", Context: map[string]any{"n": json.Number("9007199254740993"), "f": json.Number("-1.50e+300")}}},
		{"empty context", `{"subject":"u","action":"a","context":{}}`, types.Request{Subject: "u", Action: "a", Context: map[string]any{}}},
		// Invalid UTF-8 is kept, raw or escaped, never made U+FFFD: the
		// audit log records what was sent.
		{"invalid UTF-8 in context", "{\"subject\":\"u\",\"action\":\"a\",\"context\":{\"k\xff\":[\"v\xfe\xed\xa0\x80\",{\"\xc3\":\"\\u0000\"}]}}",
			types.Request{Subject: "u", Action: "a", Context: map[string]any{"k\xff": []any{"v\xfe\xed\xa0\x80", map[string]any{"\xc3": "\x00"}}}}},
		{"escaped invalid bytes in context", `{"subject":"u","action":"a","context":{"\udcff":"a\udc80\u0000\ufffd\ud83d\ude00"}}`,
			types.Request{Subject: "u", Action: "a", Context: map[string]any{"\xff": "a\x80\x00\ufffd😀"}}},
		{"invalid UTF-8 in names", "{\"subject\":\"al\xffice\",\"action\":\"\\udcfe\",\"resource\":\"doc:\xc3\"}",
			types.Request{Subject: "al\xffice", Action: "\xfe", Resource: "doc:\xc3"}},
		{"lone high surrogate", `{"subject":"\ud800","action":"a"}`, types.Request{Subject: "\ufffd", Action: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := wire.DecodeRequest([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestDecodeRequestHostile: every malformed request gets an error object
// with the right code and a message that says what is wrong.
func TestDecodeRequestHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, code, msg string
	}{
		{"empty", ``, wire.CodeInvalidJSON, "end of JSON"},
		{"not JSON", `hello`, wire.CodeInvalidJSON, "invalid character"},
		{"array", `[1]`, wire.CodeInvalidJSON, "JSON object, not an array"},
		{"string", `"x"`, wire.CodeInvalidJSON, "not a string"},
		{"number", `1`, wire.CodeInvalidJSON, "not a number"},
		{"null", `null`, wire.CodeInvalidJSON, "not null"},
		{"truncated", `{"subject":"u"`, wire.CodeInvalidJSON, "end of JSON"},
		{"trailing data", `{"subject":"u","action":"a"} x`, wire.CodeInvalidJSON, "after the request object"},
		{"two objects", `{"subject":"u","action":"a"}{"subject":"v","action":"a"}`, wire.CodeInvalidJSON, "after the request object"},
		{"unknown field", `{"subject":"u","action":"a","subjet":"v"}`, wire.CodeInvalidRequest, `unknown field "subjet"`},
		{"duplicate field", `{"subject":"u","subject":"admin","action":"a"}`, wire.CodeInvalidRequest, "appears twice"},
		{"missing subject", `{"action":"a"}`, wire.CodeInvalidRequest, `missing field "subject"`},
		{"missing action", `{"subject":"u"}`, wire.CodeInvalidRequest, `missing field "action"`},
		{"null subject", `{"subject":null,"action":"a"}`, wire.CodeInvalidRequest, "is null"},
		{"number subject", `{"subject":1,"action":"a"}`, wire.CodeInvalidRequest, "want a string"},
		{"array action", `{"subject":"u","action":["a"]}`, wire.CodeInvalidRequest, "want a string"},
		{"object resource", `{"subject":"u","action":"a","resource":{}}`, wire.CodeInvalidRequest, "want a string"},
		{"context string", `{"subject":"u","action":"a","context":"x"}`, wire.CodeInvalidRequest, "want an object"},
		{"context array", `{"subject":"u","action":"a","context":[{}]}`, wire.CodeInvalidRequest, "want an object"},
		{"context number", `{"subject":"u","action":"a","context":1}`, wire.CodeInvalidRequest, "want an object"},
		{"context true", `{"subject":"u","action":"a","context":true}`, wire.CodeInvalidRequest, "want an object"},
		{"invalid UTF-8 subject as a number", "{\"subject\":\xff,\"action\":\"a\"}", wire.CodeInvalidJSON, "invalid character"},
		{"control character in context", "{\"subject\":\"u\",\"action\":\"a\",\"context\":{\"k\":\"\x01\"}}", wire.CodeInvalidJSON, "invalid character"},
		{"bad escape in context", `{"subject":"u","action":"a","context":{"k":"\x"}}`, wire.CodeInvalidJSON, "invalid character"},
		{"truncated context", `{"subject":"u","action":"a","context":{"k":"\udcff"`, wire.CodeInvalidJSON, "end of JSON"},
		{"null context", `{"subject":"u","action":"a","context":null}`, wire.CodeInvalidRequest, "is null"},
		{"duplicate context", `{"subject":"u","action":"a","context":{},"context":{"admin":true}}`, wire.CodeInvalidRequest, "appears twice"},
		{"invalid UTF-8 key", "{\"\xff\":1}", wire.CodeInvalidRequest, "unknown field"},
		{"too large", `{"subject":"` + strings.Repeat("a", wire.MaxRequestBytes) + `","action":"a"}`, wire.CodeTooLarge, "over the limit"},
		{"deep nesting in context", `{"subject":"u","action":"a","context":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, wire.CodeInvalidJSON, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := wire.DecodeRequest([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted %.100q", tt.in)
			}
			if tt.name == "deep nesting in context" {
				return // either code is fine; it must just be an error, not a crash
			}
			if err.Code != tt.code || !strings.Contains(err.Message, tt.msg) {
				t.Errorf("got %s: %s; want %s containing %q", err.Code, err.Message, tt.code, tt.msg)
			}
			// The error object reads back as the error it was.
			back, derr := wire.DecodeError(wire.AppendError(nil, err))
			if derr != nil || *back != *err {
				t.Errorf("error object reads back as %+v, %v; want %+v", back, derr, err)
			}
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"subject":"user1","resource":"part_b","action":"GET","context":{}}`,
		`{"subject":"u","action":"a"}`, `{"subject":"u","subject":"v","action":"a"}`,
		`[]`, `null`, `{"subject":1}`, `{"x":`, "{\"subject\":\"\xff\",\"action\":\"a\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := wire.DecodeRequest(data)
		if err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("error without code or message: %+v", err)
			}
			return
		}
		// Anything accepted is a JSON object that encoding/json agrees on,
		// field for field: the strict decoder never reads what a lenient
		// one would read differently.
		// Strings differ only where encoding/json replaced invalid UTF-8
		// with U+FFFD and DecodeRequest kept the bytes: replacing them the
		// same way gives encoding/json's request.
		var loose types.Request
		if jerr := json.Unmarshal(data, &loose); jerr != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", data, jerr)
		}
		if loose.Subject != jsonReplaced(t, req.Subject) || loose.Action != jsonReplaced(t, req.Action) || loose.Resource != jsonReplaced(t, req.Resource) {
			t.Fatalf("strict %+v, encoding/json %+v", req, loose)
		}
		if req.Context != nil || loose.Context != nil {
			var ctx any
			if err := json.Unmarshal(replacedJSON(t, req.Context), &ctx); err != nil {
				t.Fatal(err)
			}
			var looseCtx any
			if err := json.Unmarshal(replacedJSON(t, loose.Context), &looseCtx); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ctx, looseCtx) {
				t.Fatalf("context %#v, encoding/json %#v", req.Context, loose.Context)
			}
		}
		// And the context carries every byte: written faithfully and read
		// again, it is what was decoded.
		if req.Context != nil {
			b, err := faithful.Append(nil, req.Context)
			if err != nil {
				t.Fatalf("context %#v cannot be written: %v", req.Context, err)
			}
			back, err := faithful.Decode(b)
			if err != nil || !reflect.DeepEqual(back, req.Context) {
				t.Fatalf("context %#v, written as %s, read back as %#v (%v)", req.Context, b, back, err)
			}
		}
	})
}

// replaced is s with each byte of invalid UTF-8 made U+FFFD, as
// encoding/json reads a string that holds it.
func jsonReplaced(t *testing.T, s string) string {
	var r string
	if err := json.Unmarshal(replacedJSON(t, s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// replacedJSON is v as encoding/json writes it, invalid UTF-8 as U+FFFD.
func replacedJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRequestGroupsAndRevision: the request fields of runtime data and
// caller-supplied memberships travel both ways, and hostile values are
// refused with invalid_request.
func TestRequestGroupsAndRevision(t *testing.T) {
	t.Parallel()
	r := types.Request{Subject: "u", Action: "a", Groups: []string{"team:x", "admin"}, AtLeastRevision: 1 << 40}
	b, err := wire.EncodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	got, werr := wire.DecodeRequest(b)
	if werr != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip of %s: %+v, %v", b, got, werr)
	}
	for _, in := range []string{
		`{"subject":"u","action":"a","groups":"admin"}`,
		`{"subject":"u","action":"a","groups":[1]}`,
		`{"subject":"u","action":"a","groups":null}`,
		`{"subject":"u","action":"a","groups":[` + strings.Repeat(`"g",`, 256) + `"g"]}`,
		`{"subject":"u","action":"a","at_least_revision":-1}`,
		`{"subject":"u","action":"a","at_least_revision":1.5}`,
		`{"subject":"u","action":"a","at_least_revision":"3"}`,
		`{"subject":"u","action":"a","at_least_revision":18446744073709551616}`,
		`{"subject":"u","action":"a","at_least_revision":1,"at_least_revision":2}`,
	} {
		if _, werr := wire.DecodeRequest([]byte(in)); werr == nil || werr.Code != wire.CodeInvalidRequest {
			t.Errorf("DecodeRequest(%s) = %v, want invalid_request", in, werr)
		}
	}
}
