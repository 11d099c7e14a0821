// Package wire owns warden's JSON wire format (SPEC 9.3) in both
// directions: requests, batches, decisions, error objects, audit pages and
// readiness. The HTTP service, `warden check --json` and `--batch`, the
// Go client and the root package's HTTP middleware all encode and decode
// through it, so each shape has one encoder and one decoder.
//
// Decoding is strict because a lenient decoder is an attack surface: an
// unknown field may be a typo that silently changes what is asked
// ("subjet"), and a duplicated field lets two parsers disagree on which
// value counts. Both are errors here, as are wrong types, null, trailing
// data and a missing subject or action.
//
// The hot shapes (a plain request, a decision) have hand-written encoders
// and scanners, because encoding/json's reflection and per-value
// allocations cost more than deciding. Each is held by a fuzz test to the
// definition it stands in for: the scanner to the strict decoder, the
// encoders to encoding/json's output.
//
// Everything here is a pure function of its arguments, safe for
// concurrent use.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/faithful"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/types"
)

// MaxRequestBytes bounds one encoded request. Names are at most 1 KiB each,
// so this leaves ample room for context while keeping a hostile line from
// exhausting memory.
const MaxRequestBytes = 1 << 20

// Error codes of the error object (SPEC 9.3).
const (
	CodeInvalidJSON     = "invalid_json"           // 400: not JSON, or not one JSON object
	CodeInvalidRequest  = "invalid_request"        // 400: JSON, but not a valid request
	CodeInvalidQuery    = "invalid_query"          // 400: an unknown, repeated or malformed query parameter
	CodeUnauthorized    = "unauthorized"           // 401
	CodeNotFound        = "not_found"              // 404
	CodeMethod          = "method_not_allowed"     // 405
	CodeTooLarge        = "request_too_large"      // 413: a body over its limit
	CodeBatchTooLarge   = "batch_too_large"        // 413: over MaxBatch requests
	CodeUnsupportedType = "unsupported_media_type" // 415
	CodeInternal        = "internal"               // 500
	CodeNoPolicy        = "no_policy"              // 503: no policy has loaded yet
	CodeAuditFailed     = "audit_failed"           // 503: the decision could not be recorded

	// Codes of the root package's HTTP middleware (Guard.Handler).
	CodeInvalidReference = "invalid_reference" // 400: the request's values cannot name an index
	CodeAccessDenied     = "access_denied"     // 403
)

// Error is the error object: {"error": {"code": ..., "message": ...}}.
// The zero Error has no code; a nil *Error is no error object, and its
// Error method says so rather than panicking.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Line is the 1-based input line, for batch input read line by line.
	Line int `json:"line,omitempty"`
}

func (e *Error) Error() string {
	if e == nil {
		return "wire: nil *Error"
	}
	return e.Code + ": " + e.Message
}

// Errorf builds an Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FromDecideError turns an error from deciding a valid-JSON request into an
// Error: a malformed name is the caller's fault, anything else is ours.
// A nil err is no error, and gives nil.
func FromDecideError(err error) *Error {
	if err == nil {
		return nil
	}
	if errors.Is(err, engine.ErrInvalidRequest) {
		return &Error{Code: CodeInvalidRequest, Message: err.Error()}
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// decodeStrict decodes exactly one JSON request object. It is the
// definition of a valid request, which DecodeRequest's scanner is held
// to; it builds a token stream and a decoder per field, so it runs only
// for the shapes the scanner leaves to it.
//
// Strings are read byte for byte: invalid UTF-8, raw or as the escape
// \udcXX, is kept rather than replaced by U+FFFD, so what a client sent
// is what the audit log records. A name holding it is then refused by
// deciding (SPEC 1.1), and a context holding it is stored as it came.
func decodeStrict(data []byte) (types.Request, *Error) {
	var req types.Request
	if len(data) > MaxRequestBytes {
		return req, Errorf(CodeTooLarge, "request is %d bytes, over the limit of %d", len(data), MaxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return req, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return req, Errorf(CodeInvalidJSON, "a request must be a JSON object, not %s", describeToken(tok))
	}
	seen := make(map[string]bool, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, jsonError(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return req, Errorf(CodeInvalidRequest, "field %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "subject", "resource", "action", "context", "groups", "at_least_revision":
		default:
			return req, Errorf(CodeInvalidRequest, "unknown field %q (want subject, resource, action, groups, context, at_least_revision)", pattern.Shorten(key))
		}
		raw := json.RawMessage{}
		if err := dec.Decode(&raw); err != nil {
			return req, jsonError(err)
		}
		if bytes.Equal(raw, []byte("null")) {
			return req, Errorf(CodeInvalidRequest, "field %q is null", key)
		}
		// The value is read by internal/faithful, not encoding/json: a
		// byte of invalid UTF-8 (or its escape \udcXX) stays that byte on
		// its way to the audit log, where encoding/json would make it
		// U+FFFD. Numbers stay json.Number, so a large integer in context
		// reaches the audit log as written, not rounded through float64.
		v, err := faithful.Decode(raw)
		if err != nil {
			return req, Errorf(CodeInvalidJSON, "field %q: %v", key, err)
		}
		switch key {
		case "context":
			m, ok := v.(map[string]any)
			if !ok {
				return req, Errorf(CodeInvalidRequest, "field %q: want an object", key)
			}
			req.Context = m
			continue
		case "groups":
			list, ok := v.([]any)
			if !ok || len(list) > engine.MaxGroups {
				return req, Errorf(CodeInvalidRequest, "field %q: want an array of at most %d strings", key, engine.MaxGroups)
			}
			req.Groups = make([]string, len(list))
			for i, g := range list {
				if req.Groups[i], ok = g.(string); !ok {
					return req, Errorf(CodeInvalidRequest, "field %q: item %d is not a string", key, i)
				}
			}
			continue
		case "at_least_revision":
			n, ok := v.(json.Number)
			r, err := strconv.ParseUint(string(n), 10, 64)
			if !ok || err != nil {
				return req, Errorf(CodeInvalidRequest, "field %q: want a revision, a whole number 0 or more", key)
			}
			req.AtLeastRevision = r
			continue
		}
		str, ok := v.(string)
		if !ok {
			return req, Errorf(CodeInvalidRequest, "field %q: want a string", key)
		}
		switch key {
		case "subject":
			req.Subject = str
		case "resource":
			req.Resource = str
		case "action":
			req.Action = str
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, Errorf(CodeInvalidJSON, "unexpected data after the request object")
	}
	for _, k := range []string{"subject", "action"} {
		if !seen[k] {
			return req, Errorf(CodeInvalidRequest, "missing field %q", k)
		}
	}
	return req, nil
}

func jsonError(err error) *Error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return Errorf(CodeInvalidJSON, "%v (at byte %d)", err, syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(CodeInvalidJSON, "unexpected end of JSON")
	}
	return Errorf(CodeInvalidJSON, "%v", err)
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
