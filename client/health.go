package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/warden-authz/warden/internal/wire"
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
	// Store is how current the service's runtime data is, or nil when it
	// keeps none (no --store).
	Store *StoreStatus
	// Error says why the service is not ready.
	Error string
}

// StoreStatus is the store part of a service's readiness (SPEC 11.4):
// what an operator compares across the instances of a fleet.
type StoreStatus struct {
	// Revision is the store revision decisions see; Latest the newest
	// the service has heard of.
	Revision, Latest uint64
	// PolicySeq is the store's policy version serving, when the service
	// follows published versions.
	PolicySeq uint64
	// Digest fingerprints the state decisions see: instances with the
	// same digest decide every request alike.
	Digest string
	// Error and ErrorSince say the store cannot be reached and since
	// when; decisions go on, on the last state applied.
	Error      string
	ErrorSince time.Time
	// PolicyError says why the newest published version is not served.
	PolicyError string
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
	r, err := wire.DecodeReadiness(a.body, a.status == http.StatusOK)
	if err != nil {
		if a.status == http.StatusServiceUnavailable {
			return Readiness{}, fmt.Errorf("client: %s: %w", where, errorFrom(a))
		}
		return Readiness{}, fmt.Errorf("client: %s: HTTP %d answer: %w", where, a.status, err)
	}
	return readinessOf(r), nil
}

// readinessOf is the client's view of the service's readiness object.
func readinessOf(w wire.Readiness) Readiness {
	r := Readiness{Ready: w.Ready, PolicyVersion: w.PolicyVersion, LoadedAt: w.LoadedAt, Error: w.Error}
	if lr := w.LastReload; lr != nil {
		r.LastReload = &Reload{OK: lr.OK, Time: lr.Time, Error: lr.Error}
	}
	if st := w.Store; st != nil {
		r.Store = &StoreStatus{Revision: st.Revision, Latest: st.Latest, PolicySeq: st.PolicySeq, Digest: st.Digest,
			Error: st.Error, ErrorSince: st.ErrorSince, PolicyError: st.PolicyError}
	}
	return r
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
	if err := wire.DecodeHealth(a.body); err != nil {
		return fmt.Errorf("client: %s: HTTP 200 answer: %w", where, err)
	}
	return nil
}
