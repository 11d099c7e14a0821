// Package audit defines warden's audit events and the sinks they go to
// (SPEC 8).
//
// Every guarded call, allowed or not, produces an Event. A Sink stores
// events; it is shaped like log/slog's Handler: one small method, with its
// concurrency rules written down, so any storage can be plugged in. Memory
// keeps events in memory for tests; durable sinks build on the same
// interface.
package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/warden-authz/warden/internal/faithful"
)

// Status says how a decision ended.
type Status string

const (
	StatusAllowed Status = "allowed"
	StatusDenied  Status = "denied"
	// StatusError: no decision could be made (no actor, a malformed
	// index); access was refused.
	StatusError Status = "error"
)

// Event records one decision (SPEC 8.1).
//
// PolicyVersion and Revision say what decided: the policy, and the state
// of the runtime data (memberships, grants; SPEC 10) at store revision
// Revision. Together they make a decision reproducible ("revision 4711 had
// bob in editors"). A decider without a store has no revision: Revision
// is 0 and the JSON form leaves it out.
type Event struct {
	// ID is a UUIDv7, so ids sort by time.
	ID            string         `json:"id"`
	Time          time.Time      `json:"time"` // UTC
	Subject       string         `json:"subject"`
	Action        string         `json:"action"`
	Resource      string         `json:"resource"`
	Allowed       bool           `json:"allowed"`
	Status        Status         `json:"status"`
	Rule          string         `json:"rule,omitempty"`
	Reason        string         `json:"reason"`
	Latency       time.Duration  `json:"latency_ns"`
	PolicyVersion string         `json:"policy_version,omitempty"`
	Revision      uint64         `json:"revision,omitempty"` // the store revision the decision saw; 0 without a store
	Error         string         `json:"error,omitempty"`
	Fields        map[string]any `json:"fields,omitempty"` // the caller's extra fields (WithFields)
}

// NewID returns a new time-ordered event id (UUIDv7). It fails only if the
// system's random source does.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// ErrRefused is wrapped by a sink's error for an event it can never store
// as given (a string its format cannot carry unchanged, a value over its
// limits), as opposed to a failure that a retry may cure. Batching writers
// drop and report a refused event rather than retrying it forever.
var ErrRefused = errors.New("audit: event refused")

// EncodeFields encodes an event's Fields as JSON that carries every
// string exactly: NUL as \u0000, and each byte of invalid UTF-8 as the
// escape \udcXX (a lone surrogate, which valid text never holds, so the
// mapping is one to one; DecodeFields reverses it). Other JSON is as
// encoding/json writes it, so text written before reads the same. It
// refuses, with an error wrapping ErrRefused, only values JSON has no form
// for (NaN, channels). Nil Fields encode to nil, so stores can keep "no
// fields" apart from "empty fields".
func EncodeFields(fields map[string]any) ([]byte, error) {
	if fields == nil {
		return nil, nil
	}
	b, err := faithful.Append(nil, fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return b, nil
}

// DecodeFields decodes what EncodeFields wrote: objects as map[string]any,
// arrays as []any, numbers as json.Number (every digit kept), and escaped
// invalid bytes back into bytes.
func DecodeFields(text []byte) (map[string]any, error) {
	v, err := faithful.Decode(text)
	if err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("audit: fields are %T, not a JSON object", v)
}

// Sink stores events.
//
// Record may be called from many goroutines at once. It must not keep e, or
// change it, after it returns: copy what it keeps. A Sink that returns an
// error has not stored the event; the caller decides whether that fails
// the decision (an audit-required Auth denies).
type Sink interface {
	Record(ctx context.Context, e *Event) error
}

// Fanout records each event in every sink, in order, and joins their
// errors: one failing sink does not stop the others. A nil sink in it is
// an error, not a skip. The zero (nil or empty) Fanout records nowhere and
// returns nil. A Fanout is as safe for concurrent use as its sinks, which
// the Sink contract makes every sink; do not change its elements while it
// records.
type Fanout []Sink

// Record implements Sink.
func (f Fanout) Record(ctx context.Context, e *Event) error {
	var errs []error
	for i, s := range f {
		if s == nil {
			errs = append(errs, fmt.Errorf("audit: Fanout[%d] is a nil sink", i))
			continue
		}
		if err := s.Record(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Memory keeps the most recent events in memory, for tests and
// inspection. The zero Memory keeps everything; Limit bounds it, and
// Dropped counts what the bound pushed out, so nothing is lost silently.
// A nil *Memory stores nothing: Record and Query fail with ErrNilMemory,
// so a guard that requires audit fails closed. A Memory is safe for
// concurrent use.
type Memory struct {
	// Limit is the most events kept; 0 means no limit.
	Limit int

	mu      sync.Mutex
	events  []Event
	dropped int
}

// ErrNilMemory: a nil *Memory was used as a sink or queried.
var ErrNilMemory = errors.New("audit: nil *Memory")

// Record implements Sink.
func (m *Memory) Record(_ context.Context, e *Event) error {
	if m == nil {
		return ErrNilMemory
	}
	if e == nil {
		return fmt.Errorf("%w: nil event", ErrRefused)
	}
	c := copyEvent(e)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, c)
	if m.Limit > 0 && len(m.events) > m.Limit {
		over := len(m.events) - m.Limit
		m.dropped += over
		m.events = append(m.events[:0], m.events[over:]...)
	}
	return nil
}

// Events returns a copy of the events kept, oldest first.
func (m *Memory) Events() []Event {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

// Dropped returns how many events the Limit pushed out.
func (m *Memory) Dropped() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

type fieldsKey struct{}

// WithFields returns a context whose guarded calls record fields (a
// request id, a client address) in their events. Fields from an outer
// context are kept unless overridden.
func WithFields(ctx context.Context, fields map[string]any) context.Context {
	merged := make(map[string]any, len(fields))
	for k, v := range Fields(ctx) {
		merged[k] = v
	}
	for k, v := range fields {
		merged[k] = v
	}
	return context.WithValue(ctx, fieldsKey{}, merged)
}

// Fields returns the fields WithFields put in ctx. Callers must not change
// the map.
func Fields(ctx context.Context) map[string]any {
	f, _ := ctx.Value(fieldsKey{}).(map[string]any)
	return f
}
