package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The hand-written scanner must read exactly what encoding/json reads.
// These fuzz tests hold it to that.

func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		`"plain"`, `""`, `"a\"b\\c\/d"`, `"\b\f\n\r\t"`, `"\u00e9l\u00e8ve"`, `"\ud83d\ude00"`,
		`"\ud83d"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\uD83D\uDE00"`, "\"\xff\xfe\"", "\"é\xc3\"",
		`"\u0000"`, `"\ud800\ud800\udc00"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if !json.Valid(data) || len(data) == 0 || data[0] != '"' {
			return
		}
		var want string
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("valid JSON string %q: %v", data, err)
		}
		if got := unquote(data); got != want {
			t.Fatalf("unquote(%q) = %q, encoding/json reads %q", data, got, want)
		}
	})
}

func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b" : [1,{"c":"]}"}], "d\"e": "x\\"} `, `{"a":1,"a":2}`, `{"a":1,"A":2}`,
		`{"a":{"b":{"c":[[],[{}]]}},"n":-1.5e+3,"t":true,"f":false,"z":null}`, `[1]`, `"s"`, `{"a":1}x`,
		`{"\u0061":1,"a":2}`, "{\"k\":\"\xff\"}", `{"":""}`,
	} {
		f.Add([]byte(s))
	}
	// Past smallObject members, keys are found through the index.
	var many strings.Builder
	for i := range 2 * smallObject {
		fmt.Fprintf(&many, `,"k%d":%d`, i, i)
	}
	f.Add([]byte(`{"a":0` + many.String() + `}`))
	f.Add([]byte(`{"a":0` + many.String() + `,"k3":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseObject(data)
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(data, &m)
		if err != nil {
			// Refused: not an object encoding/json reads, or a key
			// that appears twice.
			if jerr == nil && m != nil && !strings.Contains(err.Error(), "appears twice") {
				t.Fatalf("refused %q, which encoding/json reads as %v: %v", data, m, err)
			}
			return
		}
		if jerr != nil || m == nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, jerr)
		}
		if len(o.members) != len(m) {
			t.Fatalf("%q: %d members, encoding/json reads %d", data, len(o.members), len(m))
		}
		for key, want := range m {
			if got, ok := o.get(key); !ok || !bytes.Equal(got, bytes.TrimSpace(want)) {
				t.Fatalf("%q: get(%q) = %q, %t; encoding/json reads %q", data, key, got, ok, want)
			}
		}
		for _, mem := range o.members {
			want, ok := m[mem.key]
			if !ok || !bytes.Equal(bytes.TrimSpace(want), mem.val) {
				t.Fatalf("%q: member %q = %q, encoding/json reads %q", data, mem.key, mem.val, want)
			}
			if mem.val[0] == '[' {
				elems, err := parseArray(mem.val)
				var arr []json.RawMessage
				if err != nil || json.Unmarshal(mem.val, &arr) != nil || len(arr) != len(elems) {
					t.Fatalf("%q: array %q split into %q, %v; encoding/json reads %q", data, mem.val, elems, err, arr)
				}
				for i := range arr {
					if !bytes.Equal(bytes.TrimSpace(arr[i]), elems[i]) {
						t.Fatalf("%q: element %d = %q, encoding/json reads %q", data, i, elems[i], arr[i])
					}
				}
			}
		}
	})
}
