package faithful_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/faithful"
)

var strs = []string{
	"", "plain", "quote\"back\\slash", "nul\x00x", "\xff", "a\xffb\xfe", "\xc3", "é\xc3", "\xed\xa0\x80",
	"\ufffd", `\udcff`, "\\udcff", "\u2028\u2029", "<>&", "\x01\x1f\x7f", "\b\f\v", "日本\xe6\x97", strings.Repeat("\xf0", 10),
}

func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range strs {
		b := faithful.AppendString(nil, s)
		if !utf8.Valid(b) || !json.Valid(b) {
			t.Errorf("%q: wrote %s, not valid JSON", s, b)
		}
		v, err := faithful.Decode(b)
		if err != nil || v != s {
			t.Errorf("%q: wrote %s, read back %q, %v", s, b, v, err)
		}
		if utf8.ValidString(s) {
			// Valid strings are written as encoding/json writes them
			// (without HTML escapes), so old text reads the same.
			var std strings.Builder
			enc := json.NewEncoder(&std)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			if got := string(b) + "\n"; got != std.String() {
				t.Errorf("%q: wrote %s, encoding/json writes %s", s, b, std.String())
			}
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	v := map[string]any{"\xff": []any{"a\x00", json.Number("12345678901234567890"), true, nil, map[string]any{}}, "n": json.Number("-1.5e+300"), "e": []any{}}
	b, err := faithful.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := faithful.Decode(b)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("wrote %s, read %#v, %v", b, got, err)
	}
}

func TestAppendHostile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		v    any
		ok   bool
	}{
		{"NaN", math.NaN(), false},
		{"Inf", math.Inf(1), false},
		{"chan", make(chan int), false},
		{"bad number", json.Number("1x"), false},
		{"struct with invalid UTF-8", struct{ S string }{"\xff"}, false},
		{"struct", struct{ S string }{"ok"}, true},
		{"int", 3, true},
		{"nested NaN", map[string]any{"a": []any{math.NaN()}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := faithful.Append(nil, c.v)
			if (err == nil) != c.ok {
				t.Errorf("Append(%#v): %v", c.v, err)
			}
		})
	}
}

func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "{", `{"a"}`, `{"a":}`, `[1,]`, `"\x01"`, `"\u12"`, `"\q"`, "01", "-", "1.", "1e", "tru", `{"a":1}x`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000)} {
		if v, err := faithful.Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%.40q) = %v, want an error", in, v)
		}
	}
}

// FuzzDecode: Decode accepts what encoding/json accepts and reads the same
// value from valid UTF-8 text holding no escaped invalid bytes; and every
// string it reads is written back to text that reads as the same string.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null,true]}`, `"\ud83d\ude00"`, `"\udcff"`, `1e5`, `{"a":{"b":[]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := faithful.Decode(data)
		var std any
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		serr := dec.Decode(&std)
		if serr == nil && !json.Valid(data) {
			serr = errors.New("trailing data") // Decode read one value of several
		}
		if utf8.Valid(data) && !strings.Contains(strings.ToLower(string(data)), `\udc`) {
			if (err == nil) != (serr == nil) {
				t.Fatalf("%q: faithful %v, encoding/json %v", data, err, serr)
			}
			if err == nil && !reflect.DeepEqual(v, std) {
				t.Fatalf("%q: faithful %#v, encoding/json %#v", data, v, std)
			}
		}
		if err != nil {
			return
		}
		b, err := faithful.Append(nil, v)
		if err != nil {
			t.Fatalf("%q: read %#v, cannot write it back: %v", data, v, err)
		}
		v2, err := faithful.Decode(b)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("%q: %#v written as %s read back as %#v, %v", data, v, b, v2, err)
		}
	})
}
