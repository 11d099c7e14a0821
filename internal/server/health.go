package server

import (
	"net/http"

	"github.com/warden-authz/warden/internal/wire"
)

// GET /healthz and GET /readyz (SPEC 9.2, 11.4).

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSONBytes(w, http.StatusOK, []byte(wire.Health+"\n"))
}

// handleReady answers 200 once decisions can be made: the policy file has
// loaded and, with a store, its data too. A store that became unreachable
// afterwards does not make the service unready, since it goes on deciding
// on the last state it applied; the store part of the answer says so.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	cur, last := s.policy.Load(), s.lastReload.Load()
	var body wire.Readiness
	if last != nil {
		body.LastReload = &wire.Reload{OK: last.ok, Time: last.time, Error: last.err}
	}
	if cur != nil {
		body.PolicyVersion, body.LoadedAt = cur.version, cur.loadedAt
	}
	ready := cur != nil
	if s.cfg.Store != nil {
		e := s.eng.Load()
		ready = e != nil
		if e != nil {
			st := e.Status()
			body.PolicyVersion = st.PolicyVersion
			if cur == nil {
				// No policy file: the store's published version serves.
				body.LoadedAt = st.PolicyLoadedAt
			}
			body.Store = &wire.StoreStatus{Revision: st.Applied, Latest: st.Latest, PolicySeq: st.PolicySeq, Digest: st.Digest}
			if st.StoreErr != nil {
				body.Store.Error, body.Store.ErrorSince = st.StoreErr.Error(), st.Since
			}
			if st.PolicyErr != nil {
				body.Store.PolicyError = st.PolicyErr.Error()
			}
		} else if m := s.engErr.Load(); m != nil {
			body.Error = *m
		}
	}
	if !ready {
		if body.Error == "" {
			body.Error = "no policy has loaded yet"
			if last != nil && last.err != "" {
				body.Error += ": " + last.err
			}
		}
		writeJSONBytes(w, http.StatusServiceUnavailable, append(wire.AppendReadiness(nil, &wire.Readiness{Error: body.Error, Store: body.Store}), '\n'))
		return
	}
	body.Ready = true
	writeJSONBytes(w, http.StatusOK, append(wire.AppendReadiness(nil, &body), '\n'))
}
