package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/wire"
)

// The runtime data (SPEC 10, 11): with Config.Store, decisions come from
// a warden.Engine that follows the store. It starts in the background, so
// a store that is down when the server starts makes it unready rather
// than failing it; it retries until the store answers, and /readyz says
// why it waits (SPEC 11.4).

// startEngine starts the engine, retrying until the store answers.
func (s *Server) startEngine() {
	s.engStop = make(chan struct{})
	s.engDone = make(chan struct{})
	msg := "loading the store's data"
	s.engErr.Store(&msg)
	go func() {
		defer close(s.engDone)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.engStop:
				cancel()
			case <-ctx.Done():
			}
		}()
		wait := 100 * time.Millisecond
		for {
			e, err := s.newEngine(ctx)
			if err == nil {
				s.eng.Store(e)
				s.engErr.Store(nil)
				st := e.Status()
				s.log.Info("store data loaded", "revision", st.Applied, "version", st.PolicyVersion)
				return
			}
			if ctx.Err() != nil {
				return
			}
			msg := "the store's data has not loaded: " + err.Error()
			if prev := s.engErr.Swap(&msg); prev == nil || *prev != msg {
				s.log.Error("store not loaded; not ready until it is", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
		}
	}()
}

// newEngine starts an engine on the policy file's current policy, or, with
// no file, on the store's published versions.
func (s *Server) newEngine(ctx context.Context) (*warden.Engine, error) {
	opts := &warden.EngineOptions{RevisionWait: s.cfg.RevisionWait, Poll: s.cfg.StorePoll}
	var p *warden.Policy
	if s.cfg.PolicyPath == "" {
		opts.FollowPolicy = true
	} else {
		cur := s.policy.Load()
		if cur == nil {
			return nil, errors.New("no policy file has loaded")
		}
		p = cur.p
	}
	return warden.NewEngine(ctx, p, s.cfg.Store, opts)
}

// decider returns the policy to decide a request on: the file's, or the
// engine's state at least at revision atLeast. It answers the request
// itself, with the error object, when there is none.
func (s *Server) decider(w http.ResponseWriter, ctx context.Context, endpoint string, atLeast uint64) (*warden.Policy, bool) {
	if s.cfg.Store == nil {
		cur := s.policy.Load()
		if cur == nil {
			s.metrics.responses.WithLabelValues(endpoint, "503").Inc()
			s.noPolicy(w)
			return nil, false
		}
		if atLeast > 0 {
			// No store, no revisions: a request for one is never met.
			s.fail(w, endpoint, http.StatusServiceUnavailable, wire.Errorf(wire.CodeRevisionUnavailable, "revision %d: this server keeps no runtime data (no --store)", atLeast))
			return nil, false
		}
		return cur.p, true
	}
	e := s.eng.Load()
	if e == nil {
		s.metrics.responses.WithLabelValues(endpoint, "503").Inc()
		msg := "the store's data has not loaded yet"
		if m := s.engErr.Load(); m != nil {
			msg = *m
		}
		writeError(w, http.StatusServiceUnavailable, wire.Errorf(wire.CodeNoPolicy, "%s", msg))
		return nil, false
	}
	if atLeast > 0 {
		extendWrite(w, s.cfg.RevisionWait)
	}
	p, err := e.Snapshot(ctx, atLeast)
	if err != nil {
		s.fail(w, endpoint, http.StatusServiceUnavailable, wire.Errorf(wire.CodeRevisionUnavailable, "%v", err))
		return nil, false
	}
	return p, true
}
