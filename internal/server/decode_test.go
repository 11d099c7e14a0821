package server

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/wire"
)

var decodeSeeds = []string{
	`{"subject":"alice","resource":"doc:1","action":"read"}`,
	` { "subject" : "alice" , "action" : "read" } `,
	`{"action":"read","subject":"alice","resource":""}`,
	`{"subject":"alice","subject":"bob","action":"read"}`,
	`{"subject":"al\"ice","action":"read"}`,
	`{"subject":"é","action":"读"}`,
	"{\"subject\":\"\xff\",\"action\":\"read\"}",
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
// input, decodeRequest gives what wire.DecodeRequest gives, the request
// or the error code.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := wire.DecodeRequest([]byte(s))
		got, gerr := decodeRequest(s)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("decodeRequest(%q): error %v, wire.DecodeRequest: %v", s, gerr, werr)
		}
		if werr != nil {
			if werr.Code != gerr.Code {
				t.Fatalf("decodeRequest(%q): code %s, wire.DecodeRequest: %s", s, gerr.Code, werr.Code)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decodeRequest(%q) (-wire +fast):\n%s", s, diff)
		}
		// The same object inside a batch decodes to the same request.
		reqs, berr := decodeBatch(`{"requests":[`+s+`]}`, MaxBatch, nil, math.MaxInt64)
		if berr != nil || len(reqs) != 1 {
			// Trailing data after the object is fine alone only as
			// whitespace, which the batch accepts too.
			t.Fatalf("batch of %q: %v %v", s, reqs, berr)
		}
		if diff := cmp.Diff(want, reqs[0]); diff != "" {
			t.Fatalf("batch of %q (-wire +batch):\n%s", s, diff)
		}
	})
}

func TestScanRequestTakesOnlyPlainShapes(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds {
		if _, end, ok := scanRequest(s, skipWS(s, 0)); ok {
			if _, err := wire.DecodeRequest([]byte(s[:end])); err != nil {
				t.Errorf("scanRequest took %q, which wire.DecodeRequest refuses: %v", s[:end], err)
			}
		}
	}
	if _, _, ok := scanRequest(`{"subject":"a","action":"b","context":{}}`, 0); ok {
		t.Error("scanRequest took a context; it must leave it to wire.DecodeRequest")
	}
}
