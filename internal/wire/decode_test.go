package wire

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
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
