package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// AppendError appends the error object {"error":{"code":...,"message":...}}
// of e, with "line" when e.Line is set. A nil e is written as an internal
// error, so a missing error object can never read as success.
func AppendError(b []byte, e *Error) []byte {
	if e == nil {
		e = &Error{Code: CodeInternal, Message: "no error object"}
	}
	b = append(b, `{"error":{"code":`...)
	b = AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = AppendString(b, e.Message)
	if e.Line != 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
	}
	return append(b, "}}"...)
}

// WriteError answers an HTTP request with status and the error object of
// e. It is the one place an error answer is written, by the service and
// by the root package's middleware alike. The body is JSON whatever a
// client sniffs (nosniff). A failed write has no one left to tell: the
// status has gone out.
func WriteError(w http.ResponseWriter, status int, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(AppendError(nil, e), '\n'))
}

// DecodeError decodes an error object. The code must be present and not
// empty: it is what callers act on.
func DecodeError(data []byte) (*Error, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	return o.errorObject()
}

func (o *object) errorObject() (*Error, error) {
	raw, ok := o.get("error")
	if !ok {
		return nil, errors.New(`field "error" is missing`)
	}
	inner, err := members(raw)
	if err != nil {
		return nil, fmt.Errorf(`field "error": %w`, err)
	}
	var e Error
	inner.field("code", true, &e.Code)
	inner.field("message", true, &e.Message)
	inner.field("line", false, &e.Line)
	if inner.err != nil {
		return nil, fmt.Errorf(`field "error": %w`, inner.err)
	}
	if e.Code == "" {
		return nil, errors.New(`field "error": the code is empty`)
	}
	return &e, nil
}
