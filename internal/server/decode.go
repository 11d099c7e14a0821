package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/pattern"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// respBytes is what one request of a batch is reserved besides its
// context: its place in the slice of requests, its receipt, and its
// answer, a decision object with a long reason.
const respBytes = 384

// Decoding requests on the hot path.
//
// wire.DecodeRequest is the definition of a valid request: strict, with
// unknown, duplicated and null fields, wrong types and trailing data all
// rejected. It builds a token stream and a second decoder per field, which
// costs microseconds; at a million decisions a second the budget is about
// one. So requests in the shape nearly every client sends (an object of
// plain string fields subject, resource and action: no escapes, no
// context) are read by a small scanner, and everything else (escapes,
// context, any error) goes to wire.DecodeRequest, which decides and words
// the error. The scanner accepts only inputs that DecodeRequest accepts
// with the same result; FuzzDecodeFast checks that against DecodeRequest.

// decodeRequest decodes one request body with wire.DecodeRequest's
// semantics.
func decodeRequest(s string) (warden.Request, *wire.Error) {
	if req, end, ok := scanRequest(s, skipWS(s, 0)); ok && skipWS(s, end) == len(s) {
		return req, nil
	}
	return wire.DecodeRequest([]byte(s))
}

// scanRequest reads the request object starting at s[i] in the common
// shape, returning the request and the index just past the closing brace.
// ok is false for anything else, including input that is not JSON; the
// caller then falls back to wire.DecodeRequest.
func scanRequest(s string, i int) (req warden.Request, end int, ok bool) {
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

// batchError is a failure of a whole batch, with the HTTP status it gets.
type batchError struct {
	status int
	err    *wire.Error
}

// decodeBatch reads {"requests": [request, ...]} with the same strictness
// as a single request: an unknown or duplicated field, a wrong type or any
// malformed JSON fails the whole batch. It stops reading at max+1
// requests, so an oversized batch costs no more than a full one. Each
// request is decoded with wire.DecodeRequest's semantics; a request that
// does not decode fails the batch too (its index is in the message),
// because it says the client is broken. Only requests that decode but
// name something invalid are answered one by one, with an error item.
//
// budget is the memory the decoded requests may take beyond the body: the
// contexts as audit.EventSize counts them, and respBytes per request for
// its answer. A batch that needs more fails whole with 413, so a batch of
// many contexts cannot decode to many times its size.
func decodeBatch(s string, max int, reqs []warden.Request, budget int64) ([]warden.Request, *batchError) {
	fail := func(status int, code, format string, args ...any) ([]warden.Request, *batchError) {
		return reqs, &batchError{status, wire.Errorf(code, format, args...)}
	}
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		if i < len(s) && json.Valid([]byte(s)) {
			return fail(400, wire.CodeInvalidRequest, "a batch must be a JSON object {\"requests\": [...]}")
		}
		return fail(400, wire.CodeInvalidJSON, "%s", syntaxMessage(s))
	}
	i = skipWS(s, i+1)
	seen := false
	if i < len(s) && s[i] == '}' {
		return fail(400, wire.CodeInvalidRequest, "missing field \"requests\"")
	}
	for {
		key, j, kerr := readKey(s, i)
		if kerr != nil {
			return reqs, kerr
		}
		if key != "requests" {
			return fail(400, wire.CodeInvalidRequest, "unknown field %q (want requests)", pattern.Shorten(key))
		}
		if seen {
			return fail(400, wire.CodeInvalidRequest, "field \"requests\" appears twice")
		}
		seen = true
		j = skipWS(s, j)
		if j >= len(s) || s[j] != ':' {
			return fail(400, wire.CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		j = skipWS(s, j+1)
		if j >= len(s) || s[j] != '[' {
			if strings.HasPrefix(s[j:], "null") {
				return fail(400, wire.CodeInvalidRequest, "field \"requests\" is null")
			}
			if json.Valid([]byte(s)) {
				return fail(400, wire.CodeInvalidRequest, "field \"requests\": want an array of requests")
			}
			return fail(400, wire.CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		var berr *batchError
		if reqs, i, berr = decodeRequests(s, skipWS(s, j+1), max, reqs, budget); berr != nil {
			return reqs, berr
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return fail(400, wire.CodeInvalidJSON, "unexpected end of JSON")
		}
		if s[i] == ',' {
			i = skipWS(s, i+1)
			continue
		}
		if s[i] != '}' {
			return fail(400, wire.CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		if skipWS(s, i+1) != len(s) {
			return fail(400, wire.CodeInvalidJSON, "unexpected data after the batch object")
		}
		if len(reqs) == 0 {
			return fail(400, wire.CodeInvalidRequest, "the batch has no requests")
		}
		return reqs, nil
	}
}

// decodeRequests reads the elements of the requests array, s[i] being the
// first byte after '['; it returns the index past the closing ']'.
func decodeRequests(s string, i, max int, reqs []warden.Request, budget int64) ([]warden.Request, int, *batchError) {
	if i < len(s) && s[i] == ']' {
		return reqs, i + 1, nil
	}
	left := budget
	for {
		if len(reqs) == max {
			return reqs, 0, &batchError{413, wire.Errorf(CodeBatchTooLarge, "a batch holds at most %d requests", max)}
		}
		req, end, ok := scanRequest(s, i)
		if !ok {
			// Let encoding/json find where this element ends, validating
			// it, then give it to the definition of a request.
			dec := json.NewDecoder(strings.NewReader(s[i:]))
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return reqs, 0, &batchError{400, wire.Errorf(wire.CodeInvalidJSON, "requests[%d]: %s", len(reqs), syntaxMessage(s))}
			}
			end = i + int(dec.InputOffset())
			var werr *wire.Error
			if req, werr = wire.DecodeRequest(raw); werr != nil {
				status := 400
				if werr.Code == wire.CodeTooLarge {
					status = 413
				}
				werr.Message = fmt.Sprintf("requests[%d]: %s", len(reqs), werr.Message)
				return reqs, 0, &batchError{status, werr}
			}
			if req.Context != nil {
				left -= audit.EventSize(&audit.Event{Fields: req.Context})
			}
		}
		if left -= respBytes; left < 0 {
			return reqs, 0, &batchError{413, tooMuchMemory(budget-left, budget)}
		}
		reqs = append(reqs, req)
		i = skipWS(s, end)
		if i >= len(s) {
			return reqs, 0, &batchError{400, wire.Errorf(wire.CodeInvalidJSON, "unexpected end of JSON")}
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case ']':
			return reqs, i + 1, nil
		default:
			return reqs, 0, &batchError{400, wire.Errorf(wire.CodeInvalidJSON, "%s", syntaxMessage(s))}
		}
	}
}

// readKey reads an object key at s[i], decoding escapes exactly as
// encoding/json does.
func readKey(s string, i int) (string, int, *batchError) {
	if key, j, ok := scanPlainString(s, i); ok {
		return key, j, nil
	}
	if i < len(s) && s[i] == '"' {
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		var key string
		if err := dec.Decode(&key); err == nil {
			return key, i + int(dec.InputOffset()), nil
		}
	}
	return "", 0, &batchError{400, wire.Errorf(wire.CodeInvalidJSON, "%s", syntaxMessage(s))}
}

// syntaxMessage words what is wrong with JSON text, as encoding/json sees
// it. It runs only on the error path.
func syntaxMessage(s string) string {
	var v any
	err := json.Unmarshal([]byte(s), &v)
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return "malformed batch"
	case errors.As(err, &syn):
		return fmt.Sprintf("%v (at byte %d)", err, syn.Offset)
	}
	return err.Error()
}
