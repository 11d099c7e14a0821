package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// record queues a decision's audit event. It fails only when the event
// cannot be queued (the writer is closed, or the queue stayed full until
// the client gave up); the decision is then not given out, since it would
// be a decision with no event. With AuditRequired it returns the event's
// receipt, to wait on before answering.
func (s *Server) record(ctx context.Context, req warden.Request, d warden.Decision, derr error, start time.Time) (audit.Receipt, error) {
	if s.async == nil {
		return audit.Receipt{}, nil
	}
	e, err := audit.NewEvent(req, d, derr, start, s.now())
	if err != nil {
		return audit.Receipt{}, err
	}
	if s.cfg.AuditRequired {
		return s.async.Submit(ctx, &e)
	}
	err = s.async.Record(ctx, &e)
	if errors.Is(err, audit.ErrDropped) {
		// Dropping was chosen explicitly (AuditDrop): the drop is counted
		// and logged, and the decision still goes out.
		return audit.Receipt{}, nil
	}
	return audit.Receipt{}, err
}

// durable waits, with AuditRequired, until the event behind r is
// committed to the store.
func (s *Server) durable(ctx context.Context, r audit.Receipt) error {
	if !s.cfg.AuditRequired || s.async == nil {
		return nil
	}
	return r.Wait(ctx)
}

func (s *Server) auditFailed(w http.ResponseWriter, endpoint string, err error) {
	s.metrics.responses.WithLabelValues(endpoint, "503").Inc()
	s.log.Error("audit event not recorded; decision withheld", "error", err)
	writeError(w, http.StatusServiceUnavailable, wire.Errorf(wire.CodeAuditFailed, "the decision could not be recorded in the audit log"))
}
