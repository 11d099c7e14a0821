package server

import (
	"net/http"
	"sync"
	"time"
	"unsafe"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
)

// POST /v1/check/batch: {"requests": [...]} to {"decisions": [...]}, one
// item per request, in order, all decided by one policy (SPEC 9.3).

// batchState is the per-call scratch of a batch, pooled so a steady load
// of batches allocates little.
type batchState struct {
	reqs     []warden.Request
	receipts []audit.Receipt
}

var batchPool = sync.Pool{New: func() any { return &batchState{reqs: make([]warden.Request, 0, batchPooledReqs)} }}

// A pooled batchState keeps room for batchPooledReqs requests, and
// receipts; larger ones are left to the collector. batchPooled is the
// memory a pooled one holds, which a batch's reservation covers.
const (
	batchPooledReqs = 1024
	batchPooled     = batchPooledReqs * int64(unsafe.Sizeof(warden.Request{})+unsafe.Sizeof(audit.Receipt{}))
)

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	defer func() { s.metrics.batchDuration.Observe(s.now().Sub(start).Seconds()) }()
	if r.URL.RawQuery != "" {
		s.fail(w, "batch", http.StatusBadRequest, wire.Errorf(wire.CodeInvalidQuery, "/v1/check/batch takes no query parameters"))
		return
	}
	t, ok := s.take(w, r, "batch", wire.MaxBatchBytes, batchPooled)
	if !ok {
		return
	}
	defer s.release(t)
	body, held, bp := *t.buf, t.held, t.buf
	st := batchPool.Get().(*batchState)
	defer func() {
		clear(st.reqs) // drop the strings, which hold the body
		clear(st.receipts)
		if cap(st.reqs) <= batchPooledReqs && cap(st.receipts) <= batchPooledReqs {
			st.reqs = st.reqs[:0]
			st.receipts = st.receipts[:0]
			batchPool.Put(st)
		}
	}()
	// One string for the whole body: every decoded name is a slice of it,
	// with no allocation per request. What contexts decode to is counted
	// against the reservation as they are decoded.
	budget := held - maxPooled - batchPooled - int64(len(body))
	reqs, berr := wire.DecodeBatch(string(body), wire.MaxBatch, st.reqs[:0], budget)
	st.reqs = reqs
	if berr != nil {
		s.fail(w, "batch", berr.Status, berr.Err)
		return
	}
	// One state for the whole batch, so its decisions agree on the
	// revision: the latest any of its requests asks for.
	var atLeast uint64
	for i := range reqs {
		atLeast = max(atLeast, reqs[i].AtLeastRevision)
	}
	pol, ok := s.decider(w, r.Context(), "batch", atLeast)
	if !ok {
		return
	}
	s.metrics.batchSize.Observe(float64(len(reqs)))
	out := (*bp)[:0]
	var allow, deny, none, errored int
	ctx := r.Context()
	receipts := st.receipts[:0]
	for i := range reqs {
		var dstart time.Time
		if s.async != nil {
			dstart = s.now()
		}
		d, err := pol.Decide(reqs[i])
		receipt, rerr := s.record(ctx, reqs[i], d, err, dstart)
		if rerr != nil {
			*bp = out
			st.receipts = receipts
			s.auditFailed(w, "batch", rerr)
			return
		}
		if s.cfg.AuditRequired {
			receipts = append(receipts, receipt)
		}
		if err != nil {
			errored++
			out = wire.AppendBatchItem(out, i, nil, wire.FromDecideError(err))
			continue
		}
		switch d.Effect {
		case warden.EffectAllow:
			allow++
		case warden.EffectDeny:
			deny++
		default:
			none++
		}
		out = wire.AppendBatchItem(out, i, &d, nil)
	}
	out = wire.AppendBatchEnd(out, len(reqs))
	*bp = out
	st.receipts = receipts
	// Every event of the batch was queued before the first wait, so they
	// share the writer's commits.
	for _, rc := range receipts {
		if err := s.durable(ctx, rc); err != nil {
			s.auditFailed(w, "batch", err)
			return
		}
	}
	s.metrics.allow.Add(float64(allow))
	s.metrics.deny.Add(float64(deny))
	s.metrics.none.Add(float64(none))
	s.metrics.errored.Add(float64(errored))
	writeJSONBytes(w, http.StatusOK, out)
	s.metrics.batchOK.Inc()
}
