package server

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/warden-authz/warden"
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
// never overwrites a newer one.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	now := time.Now()
	s.metrics.lastReloadT.Set(float64(now.UnixNano()) / 1e9)
	p, err := warden.Load(s.cfg.PolicyPath)
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

// watch reloads the policy when its file changes. It watches the
// directory, not the file: editors and deployment tools replace a file by
// writing a new one and renaming it over the old, which ends a watch on
// the file itself. Events are filtered by name, including Kubernetes'
// "..data" symlink swap for mounted ConfigMaps, and debounced.
func (s *Server) watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("server: watching %s: %w", s.cfg.PolicyPath, err)
	}
	path := filepath.Clean(s.cfg.PolicyPath)
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("server: watching %s: %w", dir, err)
	}
	s.watchStop = make(chan struct{})
	s.watchDone = make(chan struct{})
	go func() {
		defer close(s.watchDone)
		defer w.Close()
		var timer *time.Timer
		fire := make(chan struct{}, 1)
		for {
			select {
			case <-s.watchStop:
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Clean(ev.Name)
				if name != path && filepath.Base(name) != "..data" {
					continue
				}
				if timer == nil {
					timer = time.AfterFunc(s.cfg.Debounce, func() {
						select {
						case fire <- struct{}{}:
						default:
						}
					})
				} else {
					timer.Reset(s.cfg.Debounce)
				}
			case <-fire:
				s.log.Debug("policy file changed; reloading", "path", path)
				s.Reload() // logs and reports its own failure
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Error("watching the policy file", "path", path, "error", err)
			}
		}
	}()
	return nil
}
