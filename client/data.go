package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
)

// The runtime-data endpoints (SPEC 10.5). They need the service's admin
// token: make the Client with Options.Token set to it. The check token
// gets ErrUnauthorized from them.

// MaxChangesWait is the longest wait Changes may ask the service for.
const MaxChangesWait = wire.MaxChangesWait

const (
	pathData    = "/v1/data"
	pathChanges = "/v1/changes"
)

// Write commits a batch of memberships and grants and returns its
// revision once the service has applied it: a check that passes it as
// Request.AtLeastRevision sees the write, on this instance or any other
// of its fleet. A batch the service refuses changes nothing; its *Error
// says why (invalid_request, conflict, revision_conflict,
// store_unavailable).
func (c *Client) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	const where = "POST " + pathData
	if err := b.Check(); err != nil {
		return 0, fmt.Errorf("client: %s: %w", where, err)
	}
	a, err := c.do(ctx, http.MethodPost, c.url(pathData), where, wire.AppendDataBatch(nil, b), MaxListBytes, http.StatusOK)
	if err != nil {
		return 0, err
	}
	rev, err := wire.DecodeRevision(a.body)
	if err != nil {
		return 0, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return rev, nil
}

// Data reads one page of the records the filter selects (GET /v1/data),
// in the order they were added; next is the cursor of the following page,
// "" after the last.
func (c *Client) Data(ctx context.Context, f store.Filter) (recs []store.Record, next string, err error) {
	const where = "GET " + pathData
	if err := f.Check(); err != nil {
		return nil, "", fmt.Errorf("client: %s: %w", where, err)
	}
	q := url.Values{}
	for k, v := range map[string]string{"member": f.Member, "group": f.Group, "resource": f.Resource, "rule": f.Rule, "subject": f.Subject, "after": f.After} {
		if v != "" {
			q.Set(k, v)
		}
	}
	switch f.Kind {
	case store.Memberships:
		q.Set("kind", "memberships")
	case store.Grants:
		q.Set("kind", "grants")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	u := c.url(pathData)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	a, err := c.do(ctx, http.MethodGet, u, where, nil, MaxListBytes, http.StatusOK)
	if err != nil {
		return nil, "", err
	}
	recs, next, err = wire.DecodeRecords(a.body)
	if err != nil {
		return nil, "", fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return recs, next, nil
}

// Changes reads the changes after revision after (GET /v1/changes), at
// most limit (0: the service's default), and through: the page holds every
// change up to it, and the next page starts after it. With wait above 0,
// the service holds the request until a batch commits or wait passes
// (at most MaxChangesWait), so following the changelog needs no polling.
// The wait must end before the HTTP client's timeout (DefaultTimeout for
// the default client): a Client that follows the changelog for longer
// waits needs an Options.HTTPClient with a longer Timeout.
func (c *Client) Changes(ctx context.Context, after store.Revision, limit int, wait time.Duration) (changes []store.Change, through store.Revision, err error) {
	const where = "GET " + pathChanges
	if limit < 0 || limit > store.MaxLimit {
		return nil, 0, fmt.Errorf("client: %s: limit %d is outside 0 to %d", where, limit, store.MaxLimit)
	}
	switch {
	case wait < 0 || wait > MaxChangesWait:
		return nil, 0, fmt.Errorf("client: %s: wait %v is outside 0 to %v", where, wait, MaxChangesWait)
	case c.hc.Timeout > 0 && wait >= c.hc.Timeout:
		return nil, 0, fmt.Errorf("client: %s: wait %v is not under the HTTP client's timeout %v, which would end the call first", where, wait, c.hc.Timeout)
	}
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	a, err := c.do(ctx, http.MethodGet, c.url(pathChanges)+"?"+q.Encode(), where, nil, MaxListBytes, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	changes, through, err = wire.DecodeChanges(a.body)
	if err != nil {
		return nil, 0, fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return changes, through, nil
}
