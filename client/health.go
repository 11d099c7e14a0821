package client

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Readiness is the service's /readyz answer (SPEC 9.2). The zero
// Readiness is not ready.
type Readiness struct {
	// Ready is true once a policy has loaded; it stays true when a later
	// reload fails, since the old policy keeps serving.
	Ready bool
	// PolicyVersion and LoadedAt describe the policy being served.
	PolicyVersion string
	LoadedAt      time.Time
	// LastReload is the most recent reload attempt, or nil when the
	// service reported none.
	LastReload *Reload
	// Error says why the service is not ready.
	Error string
}

// Reload is the outcome of one attempt to reload the policy file.
type Reload struct {
	OK    bool
	Time  time.Time
	Error string // why it failed; the previous policy still serves
}

// Ready asks whether the service can decide (GET /readyz). A service that
// answers 503 with its readiness object is not ready: that is a Readiness
// with Ready false and a nil error, whose Error says why. Any other
// failure, including a 503 from a proxy that is not the readiness object,
// is an error with the zero Readiness.
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	const where = "GET " + pathReady
	a, err := c.do(ctx, http.MethodGet, c.url(pathReady), where, nil, MaxDecisionBytes, http.StatusOK, http.StatusServiceUnavailable)
	if err != nil {
		return Readiness{}, err
	}
	r, err := decodeReadiness(a.body, a.status == http.StatusOK)
	if err != nil {
		if a.status == http.StatusServiceUnavailable {
			return Readiness{}, fmt.Errorf("client: %s: %w", where, errorFrom(a))
		}
		return Readiness{}, fmt.Errorf("client: %s: HTTP %d answer: %w", where, a.status, err)
	}
	return r, nil
}

func decodeReadiness(data []byte, ok bool) (Readiness, error) {
	o, err := parseObject(data)
	if err != nil {
		return Readiness{}, err
	}
	var r Readiness
	o.field("ready", true, &r.Ready)
	o.field("policy_version", ok, &r.PolicyVersion)
	o.field("loaded_at", ok, &r.LoadedAt)
	o.field("error", false, &r.Error)
	if o.err == nil && o.has("last_reload") {
		raw, _ := o.get("last_reload")
		lr, err := members(raw)
		if err != nil {
			return Readiness{}, fmt.Errorf(`field "last_reload": %w`, err)
		}
		r.LastReload = &Reload{}
		lr.field("ok", true, &r.LastReload.OK)
		lr.field("time", true, &r.LastReload.Time)
		lr.field("error", false, &r.LastReload.Error)
		if lr.err != nil {
			return Readiness{}, fmt.Errorf(`not a readiness object: field "last_reload": %w`, lr.err)
		}
	}
	if o.err != nil {
		return Readiness{}, fmt.Errorf("not a readiness object: %w", o.err)
	}
	// The status and the body must agree: a 200 that says not ready, or a
	// 503 that says ready, is not an answer to trust either way.
	if r.Ready != ok {
		return Readiness{}, fmt.Errorf(`not a readiness object: "ready" is %t with HTTP status %s`, r.Ready, map[bool]string{true: "200", false: "503"}[ok])
	}
	return r, nil
}

// Health reports whether the service process is serving (GET /healthz): a
// nil error means it answered 200 {"status":"ok"}. A live service may
// still not be ready to decide; see Ready.
func (c *Client) Health(ctx context.Context) error {
	const where = "GET " + pathHealth
	a, err := c.do(ctx, http.MethodGet, c.url(pathHealth), where, nil, MaxDecisionBytes, http.StatusOK)
	if err != nil {
		return err
	}
	o, err := parseObject(a.body)
	if err != nil {
		return fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	var status string
	o.field("status", true, &status)
	if o.err != nil {
		return fmt.Errorf("client: %s: HTTP 200 answer: %w", where, o.err)
	}
	if status != "ok" {
		return fmt.Errorf("client: %s: status %q, not \"ok\"", where, clip(status, 64))
	}
	return nil
}
