package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
)

// The error codes of the HTTP contract, as found in Error.Code.
const (
	CodeInvalidJSON          = wire.CodeInvalidJSON     // 400: the body was not JSON
	CodeInvalidRequest       = wire.CodeInvalidRequest  // 400: not a valid request, or an empty batch
	CodeInvalidQuery         = wire.CodeInvalidQuery    // 400: an audit query parameter is unknown or bad
	CodeUnauthorized         = wire.CodeUnauthorized    // 401: the token is missing or wrong (on the data endpoints: not the admin token)
	CodeNotFound             = wire.CodeNotFound        // 404: no such endpoint
	CodeMethodNotAllowed     = wire.CodeMethod          // 405
	CodeRequestTooLarge      = wire.CodeTooLarge        // 413: the body is over the service's limit
	CodeBatchTooLarge        = wire.CodeBatchTooLarge   // 413: over MaxBatch requests
	CodeUnsupportedMediaType = wire.CodeUnsupportedType // 415
	CodeInternal             = wire.CodeInternal        // 500: a fault in the service
	CodeNoPolicy             = wire.CodeNoPolicy        // 503: no policy has loaded yet
	CodeAuditFailed          = wire.CodeAuditFailed     // 503: with --audit-required, the decision's event could not be recorded, so no decision is given

	// The runtime-data codes (SPEC 10.5).
	CodeForbidden           = wire.CodeForbidden           // 403: the data endpoints are off (no admin token configured)
	CodeConflict            = wire.CodeConflict            // 409: the batch would put a role in a group
	CodeRevisionConflict    = wire.CodeRevisionConflict    // 409: if_revision did not match
	CodeRevisionUnavailable = wire.CodeRevisionUnavailable // 503: at_least_revision was not reached in time
	CodeStoreUnavailable    = wire.CodeStoreUnavailable    // 503: the store cannot be reached
)

// ErrBatchTooLarge is reported for a batch over MaxBatch, whether the
// client refused it or the service answered 413 batch_too_large.
var ErrBatchTooLarge = errors.New("client: batch too large")

// Error is an error answer from the service: the HTTP status and the
// error object's code and message (SPEC 9.3). For an item of a batch,
// which has no status of its own, Status is 0.
//
// When the answer was not an error object at all (a proxy's HTML page, an
// empty body), Code is empty and Message describes what came instead. A
// nil *Error stands for no sentinel, and says it is nil.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e == nil {
		return "client: nil *Error"
	}
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d ", e.Status)
	}
	switch {
	case e.Code != "":
		b.WriteString(printable(e.Code))
	case http.StatusText(e.Status) != "":
		b.WriteString(http.StatusText(e.Status))
	default:
		b.WriteString("error")
	}
	b.WriteString(": ")
	// The message comes from the network: no control characters reach
	// the caller's logs.
	b.WriteString(printable(e.Message))
	return b.String()
}

// Is reports the warden sentinel an error answer stands for, so callers
// can treat the service like the warden package: invalid_request is
// warden.ErrInvalidRequest, any 401 is warden.ErrUnauthorized, no_policy
// is warden.ErrNoPolicy, batch_too_large is ErrBatchTooLarge, and the
// runtime-data codes are warden.ErrConflict, store.ErrRevisionConflict,
// warden.ErrRevisionUnavailable and store.ErrUnavailable.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false
	}
	switch target {
	case warden.ErrInvalidRequest:
		return e.Code == CodeInvalidRequest
	case warden.ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Code == CodeUnauthorized
	case warden.ErrNoPolicy:
		return e.Code == CodeNoPolicy
	case ErrBatchTooLarge:
		return e.Code == CodeBatchTooLarge
	case warden.ErrConflict:
		return e.Code == CodeConflict
	case store.ErrRevisionConflict:
		return e.Code == CodeRevisionConflict
	case warden.ErrRevisionUnavailable:
		return e.Code == CodeRevisionUnavailable
	case store.ErrUnavailable:
		return e.Code == CodeStoreUnavailable
	}
	return false
}

// errorFrom makes the *Error for an answer with an unexpected status.
//
// Only an answer declared application/json, in valid Unicode, is read as
// an error object: the same body with another type came from something in
// between, whose code and message are not the service's.
func errorFrom(a answer) *Error {
	if len(a.body) == 0 {
		return &Error{Status: a.status, Message: "not a warden error object: an empty body"}
	}
	if err := a.check(); err != nil {
		what := fmt.Sprintf("%d bytes of %s, starting %q", len(a.body), a.mediaType(), clip(string(a.body), 120))
		if checkMediaType(a.contentType) == nil {
			what = err.Error()
		}
		return &Error{Status: a.status, Message: "not a warden error object: " + what}
	}
	if e, err := wire.DecodeError(a.body); err == nil {
		return &Error{Status: a.status, Code: e.Code, Message: e.Message}
	}
	what := fmt.Sprintf("%d bytes of %s, starting %q", len(a.body), a.mediaType(), clip(string(a.body), 120))
	return &Error{Status: a.status, Message: "not a warden error object: " + what}
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

// printable replaces control characters, so a message from the network
// cannot forge log lines or move a terminal's cursor.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}
