package wire

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/warden-authz/warden/types"
)

var decodeSeeds = []string{
	`{"subject":"alice","resource":"doc:1","action":"read"}`,
	` { "subject" : "alice" , "action" : "read" } `,
	`{"action":"read","subject":"alice","resource":""}`,
	`{"subject":"alice","subject":"bob","action":"read"}`,
	`{"subject":"al\"ice","action":"read"}`,
	`{"subject":"é","action":"读"}`,
	"{\"subject\":\"\xff\",\"action\":\"read\"}",
	`{"subject":"a\udcff","action":"read","context":{"\udc80":"\u0000"}}`,
	"{\"subject\":\"alice\",\"action\":\"read\",\"context\":{\"k\xff\":\"\xed\xa0\x80\"}}",
	"{\"subject\":\"a\x01\",\"action\":\"read\"}",
	`{"subject":"alice","action":"read","context":{"a":1}}`,
	`{"subject":"alice","action":"read"}x`,
	`{"subject":"alice","action":"read",}`,
	`{"subject":"alice"}`,
	`{"Subject":"alice","action":"read"}`,
	`{}`, `[]`, `null`, ``, `{"subject":1,"action":"read"}`,
	"{\"subject\":\"alice\",\"action\":\"read\"}\n",
	"{\"subject\":\"alice\",\"action\":\"read\"}\v",
}

// FuzzDecodeFast holds the scanner to the definition of a request: for any
// input, DecodeRequest gives what decodeStrict gives, the request or the
// error code, alone and inside a batch.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := decodeStrict([]byte(s))
		got, gerr := DecodeRequest([]byte(s))
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("DecodeRequest(%q): error %v, decodeStrict: %v", s, gerr, werr)
		}
		if werr != nil {
			if werr.Code != gerr.Code {
				t.Fatalf("DecodeRequest(%q): code %s, decodeStrict: %s", s, gerr.Code, werr.Code)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("DecodeRequest(%q) (-strict +fast):\n%s", s, diff)
		}
		// The same object inside a batch decodes to the same request.
		reqs, berr := DecodeBatch(`{"requests":[`+s+`]}`, MaxBatch, nil, math.MaxInt64)
		if berr != nil || len(reqs) != 1 {
			// Trailing data after the object is fine alone only as
			// whitespace, which the batch accepts too.
			t.Fatalf("batch of %q: %v %v", s, reqs, berr)
		}
		if diff := cmp.Diff(want, reqs[0]); diff != "" {
			t.Fatalf("batch of %q (-strict +batch):\n%s", s, diff)
		}
	})
}

func TestScanRequestTakesOnlyPlainShapes(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds {
		if _, end, ok := scanRequest(s, skipWS(s, 0)); ok {
			if _, err := decodeStrict([]byte(s[:end])); err != nil {
				t.Errorf("scanRequest took %q, which decodeStrict refuses: %v", s[:end], err)
			}
		}
	}
	if _, _, ok := scanRequest(`{"subject":"a","action":"b","context":{}}`, 0); ok {
		t.Error("scanRequest took a context; it must leave it to decodeStrict")
	}
}

// Invalid UTF-8, raw or escaped as \udcXX, reaches the request as bytes,
// on the fast path, the fallback and inside a batch: what the audit log
// records is what the client sent, never U+FFFD.
func TestDecodeKeepsInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     types.Request
	}{
		{"subject raw", "{\"subject\":\"al\xffice\",\"action\":\"read\"}", types.Request{Subject: "al\xffice", Action: "read"}},
		{"subject escaped", `{"subject":"al\udcffice","action":"read"}`, types.Request{Subject: "al\xffice", Action: "read"}},
		{"resource cut short", "{\"subject\":\"a\",\"resource\":\"doc:\xe6\x97\",\"action\":\"read\"}", types.Request{Subject: "a", Resource: "doc:\xe6\x97", Action: "read"}},
		{"context", "{\"subject\":\"a\",\"action\":\"read\",\"context\":{\"k\xff\":[\"\xed\xa0\x80\",\"\\udc80\\u0000\"]}}",
			types.Request{Subject: "a", Action: "read", Context: map[string]any{"k\xff": []any{"\xed\xa0\x80", "\x80\x00"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeRequest([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecodeRequest (-want +got):\n%s", diff)
			}
			reqs, berr := DecodeBatch(`{"requests":[{"subject":"x","action":"y"},`+tc.in+`]}`, 10, nil, math.MaxInt64)
			if berr != nil || len(reqs) != 2 {
				t.Fatalf("DecodeBatch: %v %v", reqs, berr)
			}
			if diff := cmp.Diff(tc.want, reqs[1]); diff != "" {
				t.Errorf("DecodeBatch (-want +got):\n%s", diff)
			}
		})
	}
}
