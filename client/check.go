package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/wire"
)

// Check asks the service to decide one request (POST /v1/check).
//
// A denial is a nil error with Allowed false. Any failure returns a
// non-nil error and the zero Decision, which denies: the network, a
// status other than 200 (a *Error; errors.Is(err,
// warden.ErrInvalidRequest) for a malformed name), or an answer that is
// not exactly a decision.
//
// A request the wire format cannot carry unchanged is refused with
// warden.ErrInvalidRequest before anything is sent: invalid UTF-8 in a
// name or the context, and Groups or AtLeastRevision, which the service's
// wire format has no field for yet.
func (c *Client) Check(ctx context.Context, r warden.Request) (warden.Decision, error) {
	const where = "POST " + pathCheck
	body, err := wire.EncodeRequest(r)
	if err != nil {
		return warden.Decision{}, fmt.Errorf("client: %s: %w", where, err)
	}
	a, err := c.do(ctx, http.MethodPost, c.url(pathCheck), where, body, MaxDecisionBytes, http.StatusOK)
	if err != nil {
		return warden.Decision{}, err
	}
	d, err := wire.DecodeDecision(a.body)
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
	body, err := wire.EncodeBatch(reqs)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", where, err)
	}
	a, err := c.do(ctx, http.MethodPost, c.url(pathBatch), where, body, MaxListBytes, http.StatusOK)
	if err != nil {
		return nil, err
	}
	items, err := wire.DecodeBatchAnswer(a.body, len(reqs))
	if err != nil {
		return nil, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	res := make([]Result, len(items))
	for i, it := range items {
		res[i].Decision = it.Decision
		if it.Err != nil {
			res[i].Err = &Error{Code: it.Err.Code, Message: it.Err.Message}
		}
	}
	return res, nil
}

// url returns the address of one of the service's paths. A Client not
// made by New has none; do refuses it.
func (c *Client) url(path string) string {
	if c == nil {
		return ""
	}
	return c.base + path
}
