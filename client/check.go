package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
)

// Check asks the service to decide one request (POST /v1/check).
//
// A denial is a nil error with Allowed false. Any failure returns a
// non-nil error and the zero Decision, which denies: the network, a
// status other than 200 (a *Error; errors.Is(err,
// warden.ErrInvalidRequest) for a malformed name), or an answer that is
// not exactly a decision.
func (c *Client) Check(ctx context.Context, r warden.Request) (warden.Decision, error) {
	const where = "POST " + pathCheck
	body, err := encodeRequest(r)
	if err != nil {
		return warden.Decision{}, fmt.Errorf("client: %s: %w", where, err)
	}
	a, err := c.do(ctx, http.MethodPost, c.url(pathCheck), where, body, MaxDecisionBytes, http.StatusOK)
	if err != nil {
		return warden.Decision{}, err
	}
	d, err := decodeDecision(a.body)
	if err != nil {
		return warden.Decision{}, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return d, nil
}

// Result is the answer to one request of a batch: a decision, or the
// error the service gave that request alone (code invalid_request for a
// malformed name; the *Error's Status is 0). When Err is set, Decision is
// the zero Decision, which denies.
type Result struct {
	Decision warden.Decision
	Err      *Error
}

// Allowed reports whether the request was decided and allowed: an item
// error denies.
func (r Result) Allowed() bool { return r.Err == nil && r.Decision.Allowed }

// CheckBatch asks the service to decide many requests in one call (POST
// /v1/check/batch). The results are in request order, one per request.
//
// A batch with no requests is refused with warden.ErrInvalidRequest, and
// one with more than MaxBatch with ErrBatchTooLarge, both before anything
// is sent. A request the service finds invalid gets its own Result.Err
// while the others are decided; any failure of the batch as a whole
// returns a nil slice and an error, and an answer with a different number
// of items than requests is such a failure.
func (c *Client) CheckBatch(ctx context.Context, reqs []warden.Request) ([]Result, error) {
	const where = "POST " + pathBatch
	switch {
	case len(reqs) == 0:
		return nil, fmt.Errorf("client: %s: an empty batch: %w", where, warden.ErrInvalidRequest)
	case len(reqs) > MaxBatch:
		return nil, fmt.Errorf("client: %s: %d requests, over the limit of %d (MaxBatch); split the batch: %w", where, len(reqs), MaxBatch, ErrBatchTooLarge)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"requests":[`)
	for i, r := range reqs {
		b, err := encodeRequest(r)
		if err != nil {
			return nil, fmt.Errorf("client: %s: request %d: %w", where, i, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteString(`]}`)
	a, err := c.do(ctx, http.MethodPost, c.url(pathBatch), where, buf.Bytes(), MaxListBytes, http.StatusOK)
	if err != nil {
		return nil, err
	}
	res, err := decodeBatch(a.body, len(reqs))
	if err != nil {
		return nil, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return res, nil
}

// encodeRequest encodes a request in the wire format (SPEC 9.3). It
// refuses invalid UTF-8, which encoding/json would silently replace with
// U+FFFD, so that the service would decide for a name other than the one
// asked about.
func encodeRequest(r warden.Request) ([]byte, error) {
	for _, f := range []struct{ name, v string }{{"subject", r.Subject}, {"resource", r.Resource}, {"action", r.Action}} {
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("%s %q is not valid UTF-8: %w", f.name, clip(f.v, 64), warden.ErrInvalidRequest)
		}
	}
	// The context is checked the way the audit log checks event fields,
	// where it ends up.
	if _, err := audit.EncodeFields(r.Context); err != nil {
		return nil, fmt.Errorf("context cannot be sent unchanged (%v): %w", err, warden.ErrInvalidRequest)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	if replacedInvalid(b) {
		// encoding/json wrote invalid UTF-8 in the context as U+FFFD.
		return nil, fmt.Errorf("context cannot be sent unchanged (a string is not valid UTF-8): %w", warden.ErrInvalidRequest)
	}
	return b, nil
}

// replacedInvalid reports whether JSON written by encoding/json has a
// \ufffd escape, which it writes only in place of invalid UTF-8 (a real
// U+FFFD is written as itself); escapes are stepped over whole, so the
// text `\ufffd`, written `\\ufffd`, does not count.
func replacedInvalid(b []byte) bool {
	for i := 0; i+6 <= len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if string(b[i:i+6]) == `\ufffd` {
			return true
		}
		i++
	}
	return false
}

// url returns the address of one of the service's paths. A Client not
// made by New has none; do refuses it.
func (c *Client) url(path string) string {
	if c == nil {
		return ""
	}
	return c.base + path
}
