package server

import (
	"net/http"

	"github.com/warden-authz/warden/internal/wire"
)

// GET /healthz and GET /readyz (SPEC 9.2).

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSONBytes(w, http.StatusOK, []byte(wire.Health+"\n"))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	cur, last := s.policy.Load(), s.lastReload.Load()
	if cur == nil {
		msg := "no policy has loaded yet"
		if last != nil && last.err != "" {
			msg += ": " + last.err
		}
		writeJSONBytes(w, http.StatusServiceUnavailable, append(wire.AppendReadiness(nil, &wire.Readiness{Error: msg}), '\n'))
		return
	}
	body := wire.Readiness{Ready: true, PolicyVersion: cur.version, LoadedAt: cur.loadedAt}
	if last != nil {
		body.LastReload = &wire.Reload{OK: last.ok, Time: last.time, Error: last.err}
	}
	writeJSONBytes(w, http.StatusOK, append(wire.AppendReadiness(nil, &body), '\n'))
}
