package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/store"
)

// loaded is a policy in service and when it was loaded.
type loaded struct {
	p        *warden.Policy
	version  string
	loadedAt time.Time
}

// reloadResult is the outcome of the last load attempt, for /readyz.
type reloadResult struct {
	ok   bool
	time time.Time
	err  string
}

// Reload loads the policy file and, if it is valid, swaps it in; requests
// already deciding finish on the policy they started with. An invalid or
// unreadable file changes nothing but the reported status: the previous
// policy keeps serving (SPEC 6.2, 9.2) and the error is returned, logged,
// counted and shown by /readyz. Reloads are serialised, so a slow load
// never overwrites a newer one. A server with no policy file, which
// follows its store's published versions, has nothing to reload: nil.
func (s *Server) Reload() error {
	if !s.made() {
		return ErrNotMade
	}
	if s.cfg.PolicyPath == "" {
		// No file to reload: the store's published versions serve, and
		// the server follows them by itself. Not a failed reload.
		s.log.Info("no policy file to reload; serving the store's published policy versions")
		return nil
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	now := s.now()
	s.metrics.lastReloadT.Set(float64(now.UnixNano()) / 1e9)
	p, err := loadWhole(s.cfg.PolicyPath)
	if err != nil {
		s.lastReload.Store(&reloadResult{ok: false, time: now, err: err.Error()})
		s.metrics.reloadFailed.Inc()
		s.metrics.lastReloadSuccess.Set(0)
		attrs := []any{"path", s.cfg.PolicyPath, "error", err}
		if cur := s.policy.Load(); cur != nil {
			attrs = append(attrs, "serving", cur.version)
		}
		s.log.Error("policy load failed; keeping the previous policy", attrs...)
		return fmt.Errorf("server: %w", err)
	}
	if e := s.eng.Load(); e != nil {
		// With a store, the data is rebuilt onto the new policy before
		// it serves; until then the old one does.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := e.SetPolicy(ctx, p)
		cancel()
		if err != nil {
			s.lastReload.Store(&reloadResult{ok: false, time: now, err: err.Error()})
			s.metrics.reloadFailed.Inc()
			s.metrics.lastReloadSuccess.Set(0)
			attrs := []any{"path", s.cfg.PolicyPath, "error", err}
			if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
				// The store failed, not the file: try again by itself.
				if wait := s.scheduleRetry(); wait > 0 {
					attrs = append(attrs, "retry_in", wait)
				}
			}
			s.log.Error("policy loaded, but the store's data could not be applied to it; keeping the previous policy", attrs...)
			return fmt.Errorf("server: %w", err)
		}
	}
	s.cancelRetry()
	old := s.policy.Swap(&loaded{p: p, version: p.Version(), loadedAt: now})
	s.lastReload.Store(&reloadResult{ok: true, time: now})
	s.metrics.reloadOK.Inc()
	s.metrics.lastReloadSuccess.Set(1)
	attrs := []any{"path", s.cfg.PolicyPath, "version", p.Version(), "strategy", p.Strategy()}
	if old != nil {
		attrs = append(attrs, "previous", old.version)
	}
	s.log.Info("policy loaded", attrs...)
	return nil
}

// errChangedWhileRead is the reload error for a file that changed while
// it was being read: what was read may be part old, part new, or a
// prefix, so it is not loaded. The watcher sees the change and tries
// again once the file has settled.
var errChangedWhileRead = errors.New("the file changed while it was read; not loaded (an atomic rename avoids this)")

// loadWhole loads the policy file, refusing it if it changed while it was
// read: its identity, size or modification time before the read differ
// from after it, or the read got fewer bytes than the file holds.
func loadWhole(path string) (*warden.Policy, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	if !(fileStamp{before}).same(fileStamp{after}) || (after.Mode().IsRegular() && int64(len(data)) != after.Size()) {
		return nil, fmt.Errorf("warden: %s: %w", path, errChangedWhileRead)
	}
	return warden.Parse(path, data)
}

// Bounds of the wait before a reload whose data could not be applied runs
// again: the store may be down for a while, and a policy whose data can
// never apply (over the closure bound) must not be retried in a loop.
const (
	minReloadRetry = 500 * time.Millisecond
	maxReloadRetry = 30 * time.Second
)

// scheduleRetry makes the reload run again after a wait, doubled each
// time it fails again: a new policy file whose store data could not be
// loaded (the store was down) would otherwise wait for the next edit or
// SIGHUP, while the old policy served. It returns the wait, 0 when the
// server is closing. Only a store failure is retried: data that does not
// apply to the file (it nests too deeply) fails the same way each time.
func (s *Server) scheduleRetry() time.Duration {
	s.retryMu.Lock()
	defer s.retryMu.Unlock()
	if s.closing {
		return 0
	}
	s.retryWait = min(max(2*s.retryWait, minReloadRetry), maxReloadRetry)
	if s.retry != nil {
		s.retry.Stop()
	}
	var timer *time.Timer
	timer = time.AfterFunc(s.retryWait, func() {
		// A timer that fired as Close stopped it, or that a newer
		// reload replaced, does nothing.
		s.retryMu.Lock()
		current := !s.closing && s.retry == timer
		if current {
			s.retrying.Add(1)
		}
		s.retryMu.Unlock()
		if current {
			defer s.retrying.Done()
			s.Reload()
		}
	})
	s.retry = timer
	return s.retryWait
}

// cancelRetry drops a scheduled retry once a reload has succeeded.
func (s *Server) cancelRetry() {
	s.retryMu.Lock()
	defer s.retryMu.Unlock()
	if s.retry != nil {
		s.retry.Stop()
		s.retry = nil
	}
	s.retryWait = 0
}
