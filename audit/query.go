package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warden-authz/warden/internal/pattern"
)

// BatchSink is a Sink that can store many events in one write: one
// transaction, one fsync. Batching writers (Async) use it when a sink has
// it. Like Record, WriteBatch must not keep the events after it returns,
// and on error none of the batch may be treated as stored.
type BatchSink interface {
	Sink
	WriteBatch(ctx context.Context, events []Event) error
}

// Query selects events (SPEC 8.4). Zero fields select everything.
type Query struct {
	// Subject is an exact subject.
	Subject string
	// Action and Resource are patterns in warden's own language
	// ("articles:*", "doc:read,write").
	Action   string
	Resource string
	// Status selects one status.
	Status Status
	// Allowed, when set, selects allowed (true) or refused (false) events.
	Allowed *bool
	// Since and Until bound Time: Since <= Time < Until.
	Since, Until time.Time
	// After is a cursor: only events whose ID sorts after it. Pass the ID
	// of the last event of a page to get the next page.
	After string
	// Limit is the most events returned; 0 means DefaultLimit, and more
	// than MaxLimit is an error.
	Limit int
}

// Limits of one query's page.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Querier reads events back, oldest first (by ID, which sorts by time).
type Querier interface {
	Query(ctx context.Context, q Query) ([]Event, error)
}

// Matcher is a compiled Query: stores that cannot express a pattern in
// their own query language filter candidates with it. It is immutable
// once Compile returns it, and safe for concurrent use.
//
// Make one with Query.Compile. The zero Matcher, and a nil *Matcher,
// were compiled from nothing: they match no event and their Limit is 0,
// so a store misusing one returns nothing rather than everything.
type Matcher struct {
	q                Query
	action, resource *pattern.Pattern
	limit            int
}

// Compile checks a query: patterns must parse and the limit must be in
// range.
func (q Query) Compile() (*Matcher, error) {
	m := &Matcher{q: q, limit: q.Limit}
	if m.limit == 0 {
		m.limit = DefaultLimit
	}
	if m.limit < 0 || m.limit > MaxLimit {
		return nil, fmt.Errorf("audit: query limit %d out of range 1..%d", q.Limit, MaxLimit)
	}
	for _, f := range []struct {
		text string
		dst  **pattern.Pattern
		name string
	}{{q.Action, &m.action, "action"}, {q.Resource, &m.resource, "resource"}} {
		if f.text == "" {
			continue
		}
		p, err := pattern.Parse(f.text)
		if err != nil {
			return nil, fmt.Errorf("audit: query %s: %w", f.name, err)
		}
		*f.dst = &p
	}
	switch q.Status {
	case "", StatusAllowed, StatusDenied, StatusError:
	default:
		return nil, fmt.Errorf("audit: query status %q (want allowed, denied or error)", q.Status)
	}
	return m, nil
}

// Limit is the page size the query asks for.
func (m *Matcher) Limit() int {
	if m == nil {
		return 0
	}
	return m.limit
}

// Query returns the query the matcher was compiled from.
func (m *Matcher) Query() Query {
	if m == nil {
		return Query{}
	}
	return m.q
}

// Match reports whether e is selected.
func (m *Matcher) Match(e *Event) bool {
	if m == nil || m.limit == 0 || e == nil {
		return false // not compiled: Compile never leaves a limit of 0
	}
	q := &m.q
	switch {
	case q.Subject != "" && e.Subject != q.Subject,
		q.Status != "" && e.Status != q.Status,
		q.Allowed != nil && e.Allowed != *q.Allowed,
		!q.Since.IsZero() && e.Time.Before(q.Since),
		!q.Until.IsZero() && !e.Time.Before(q.Until),
		q.After != "" && e.ID <= q.After,
		m.action != nil && !m.action.Match(e.Action),
		m.resource != nil && !m.resource.Match(e.Resource):
		return false
	}
	return true
}

// Query implements Querier for the events kept in memory.
func (mem *Memory) Query(_ context.Context, q Query) ([]Event, error) {
	if mem == nil {
		return nil, ErrNilMemory
	}
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, e := range mem.Events() {
		if m.Match(&e) {
			out = append(out, e)
		}
	}
	// Concurrent writers may append out of id order.
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(len(out), m.Limit())], nil
}
