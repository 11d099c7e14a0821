// Package wire is the JSON form of requests, decisions and errors shared by
// `warden check --json`, `warden check --batch` and the HTTP service
// (SPEC 9.3).
//
// Decoding is strict because a lenient decoder is an attack surface: an
// unknown field may be a typo that silently changes what is asked
// ("subjet"), and a duplicated field lets two parsers disagree on which
// value counts. Both are errors here, as are wrong types, trailing data and
// a missing subject or action.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/faithful"
	"github.com/warden-authz/warden/internal/pattern"
)

// MaxRequestBytes bounds one encoded request. Names are at most 1 KiB each,
// so this leaves ample room for context while keeping a hostile line from
// exhausting memory.
const MaxRequestBytes = 1 << 20

// Error codes of the error object.
const (
	CodeInvalidJSON    = "invalid_json"    // not JSON, or not one JSON object
	CodeInvalidRequest = "invalid_request" // JSON, but not a valid request
	CodeTooLarge       = "request_too_large"
	CodeInternal       = "internal"
)

// Error is the error object: {"error": {"code": ..., "message": ...}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Line is the 1-based input line, for batch input read line by line.
	Line int `json:"line,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorBody wraps an Error the way it travels.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Errorf builds an Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FromDecideError turns an error from deciding a valid-JSON request into an
// Error: a malformed name is the caller's fault, anything else is ours.
func FromDecideError(err error) *Error {
	if errors.Is(err, warden.ErrInvalidRequest) {
		return &Error{Code: CodeInvalidRequest, Message: err.Error()}
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// DecodeRequest decodes exactly one JSON request object. It does not check
// the names; deciding does, with the same rules everywhere.
//
// Strings are read byte for byte: invalid UTF-8, raw or as the escape
// \udcXX, is kept rather than replaced by U+FFFD, so what a client sent
// is what the audit log records. A name holding it is then refused by
// deciding (SPEC 1.1), and a context holding it is stored as it came.
func DecodeRequest(data []byte) (warden.Request, *Error) {
	var req warden.Request
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
		case "subject", "resource", "action", "context":
		default:
			return req, Errorf(CodeInvalidRequest, "unknown field %q (want subject, resource, action, context)", pattern.Shorten(key))
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
		if key == "context" {
			m, ok := v.(map[string]any)
			if !ok {
				return req, Errorf(CodeInvalidRequest, "field %q: want an object", key)
			}
			req.Context = m
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
