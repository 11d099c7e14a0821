package wire

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/faithful"
	"github.com/warden-authz/warden/types"
)

// Decoding requests on the hot path.
//
// decodeStrict is the definition of a valid request: strict, with
// unknown, duplicated and null fields, wrong types and trailing data all
// rejected. It builds a token stream and a second decoder per field, which
// costs microseconds; at a million decisions a second the budget is about
// one. So requests in the shape nearly every client sends (an object of
// plain string fields subject, resource and action: no escapes, no
// context) are read by a small scanner, and everything else (escapes,
// context, any error) goes to decodeStrict, which decides and words the
// error. The scanner accepts only inputs that decodeStrict accepts with
// the same result; FuzzDecodeFast checks that.

// DecodeRequest decodes exactly one JSON request object (SPEC 9.3). It
// does not check the names; deciding does, with the same rules
// everywhere. The request's strings share one copy of data, made once, so
// data may be reused when DecodeRequest returns.
func DecodeRequest(data []byte) (types.Request, *Error) {
	if len(data) <= MaxRequestBytes {
		s := string(data)
		if req, end, ok := scanRequest(s, skipWS(s, 0)); ok && skipWS(s, end) == len(s) {
			return req, nil
		}
	}
	return decodeStrict(data)
}

// scanRequest reads the request object starting at s[i] in the common
// shape, returning the request and the index just past the closing brace.
// ok is false for anything else, including input that is not JSON; the
// caller then falls back to decodeStrict.
func scanRequest(s string, i int) (req types.Request, end int, ok bool) {
	if i >= len(s) || s[i] != '{' {
		return req, 0, false
	}
	i = skipWS(s, i+1)
	var seen uint8
	for {
		key, j, ok := scanPlainString(s, i)
		if !ok {
			return req, 0, false
		}
		var bit uint8
		var dst *string
		switch key {
		case "subject":
			bit, dst = 1, &req.Subject
		case "resource":
			bit, dst = 2, &req.Resource
		case "action":
			bit, dst = 4, &req.Action
		default:
			return req, 0, false
		}
		if seen&bit != 0 {
			return req, 0, false
		}
		seen |= bit
		j = skipWS(s, j)
		if j >= len(s) || s[j] != ':' {
			return req, 0, false
		}
		val, k, ok := scanPlainString(s, skipWS(s, j+1))
		if !ok {
			return req, 0, false
		}
		*dst = val
		k = skipWS(s, k)
		if k >= len(s) {
			return req, 0, false
		}
		switch s[k] {
		case ',':
			i = skipWS(s, k+1)
			continue
		case '}':
			if seen&5 != 5 { // subject and action are required
				return req, 0, false
			}
			return req, k + 1, true
		}
		return req, 0, false
	}
}

// scanPlainString reads a JSON string at s[i] that needs no decoding: no
// escapes, no control characters, valid UTF-8 (encoding/json would
// replace invalid bytes with U+FFFD). It returns the string's contents
// and the index past its closing quote.
func scanPlainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '"':
			v := s[i+1 : j]
			if !ascii && !utf8.ValidString(v) {
				return "", 0, false
			}
			return v, j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// skipWS skips JSON whitespace, which is exactly these four bytes.
func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// EncodeRequest encodes a request as the object DecodeRequest reads. It
// refuses what the wire cannot carry unchanged, wrapping
// ErrInvalidRequest: invalid UTF-8 in a name or the context, which
// encoding/json would replace with U+FFFD so that the service would
// decide for a name other than the one asked about, and a value JSON has
// no form for (NaN).
func EncodeRequest(r types.Request) ([]byte, error) {
	// Room for the names and the field names, so a request without
	// context is written into one allocation.
	b := make([]byte, 0, len(r.Subject)+len(r.Resource)+len(r.Action)+48)
	return AppendRequest(b, r)
}

// AppendRequest is EncodeRequest appending to b; on error it returns b
// unchanged.
func AppendRequest(b []byte, r types.Request) ([]byte, error) {
	for _, f := range []struct{ name, v string }{{"subject", r.Subject}, {"resource", r.Resource}, {"action", r.Action}} {
		if !utf8.ValidString(f.v) {
			return b, fmt.Errorf("%s %q is not valid UTF-8: %w", f.name, clip(f.v, 64), engine.ErrInvalidRequest)
		}
	}
	for _, g := range r.Groups {
		if !utf8.ValidString(g) {
			return b, fmt.Errorf("group %q is not valid UTF-8: %w", clip(g, 64), engine.ErrInvalidRequest)
		}
	}
	out := append(b, `{"subject":`...)
	out = AppendString(out, r.Subject)
	out = append(out, `,"resource":`...)
	out = AppendString(out, r.Resource)
	out = append(out, `,"action":`...)
	out = AppendString(out, r.Action)
	if len(r.Groups) > 0 {
		out = append(out, `,"groups":`...)
		out = appendStrings(out, r.Groups)
	}
	if r.AtLeastRevision != 0 {
		out = append(out, `,"at_least_revision":`...)
		out = strconv.AppendUint(out, r.AtLeastRevision, 10)
	}
	if r.Context != nil {
		out = append(out, `,"context":`...)
		start := len(out)
		var err error
		// faithful writes the context as encoding/json would, but marks
		// each byte of invalid UTF-8 (\udcXX) where encoding/json would
		// write U+FFFD: so the one case is found, not guessed.
		if out, err = faithful.Append(out, r.Context); err != nil {
			return b, fmt.Errorf("context cannot be sent unchanged (%v): %w", err, engine.ErrInvalidRequest)
		}
		if hasByteEscape(out[start:]) {
			return b, fmt.Errorf("context cannot be sent unchanged (a string is not valid UTF-8): %w", engine.ErrInvalidRequest)
		}
	}
	return append(out, '}'), nil
}

// hasByteEscape reports whether JSON written by faithful holds the escape
// \udcXX it writes only for a byte of invalid UTF-8. Escapes are stepped
// over whole, so the text `\udc80`, written `\\udc80`, does not count.
func hasByteEscape(b []byte) bool {
	for i := 0; i+4 <= len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if string(b[i:i+4]) == `\udc` {
			return true
		}
		i++
	}
	return false
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
