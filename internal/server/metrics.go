package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/warden-authz/warden"
)

// metrics live on a registry of the server's own, not the global one, so
// several servers (parallel tests, or an embedding program's own metrics)
// never collide. Counters on the request path are resolved to their label
// values once, at start, so a request pays for an atomic add and no map
// lookup.
type metrics struct {
	reg *prometheus.Registry

	decisions                      *prometheus.CounterVec
	allow, deny, none, errored     prometheus.Counter
	duration                       *prometheus.HistogramVec
	checkDuration, batchDuration   prometheus.Observer
	responses                      *prometheus.CounterVec
	checkOK, batchOK               prometheus.Counter
	batchSize                      prometheus.Histogram
	reloads                        *prometheus.CounterVec
	reloadOK, reloadFailed         prometheus.Counter
	lastReloadSuccess, lastReloadT prometheus.Gauge
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_decisions_total",
		Help: "Decisions served, by effect: allow, deny, none (no rule matched; allowed or not by mismatch_decision) or error (an invalid name).",
	}, []string{"effect"})
	m.allow = m.decisions.WithLabelValues("allow")
	m.deny = m.decisions.WithLabelValues("deny")
	m.none = m.decisions.WithLabelValues("none")
	m.errored = m.decisions.WithLabelValues("error")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "warden_http_request_duration_seconds",
		Help:    "Time to answer a decision request, from routing to the last byte written, by endpoint.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"endpoint"})
	m.checkDuration = m.duration.WithLabelValues("check")
	m.batchDuration = m.duration.WithLabelValues("batch")
	m.responses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_http_responses_total",
		Help: "Responses of the /v1 endpoints, by endpoint and status code.",
	}, []string{"endpoint", "code"})
	m.checkOK = m.responses.WithLabelValues("check", "200")
	m.batchOK = m.responses.WithLabelValues("batch", "200")
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "warden_batch_requests",
		Help:    "Requests per /v1/check/batch call.",
		Buckets: []float64{1, 10, 100, 500, 1000, 2500, 5000, 10000},
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_policy_reloads_total",
		Help: "Policy loads, the first one included, by result: ok or error (the previous policy kept serving).",
	}, []string{"result"})
	m.reloadOK = m.reloads.WithLabelValues("ok")
	m.reloadFailed = m.reloads.WithLabelValues("error")
	m.lastReloadSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "warden_policy_last_reload_success",
		Help: "1 if the last policy load succeeded, 0 if it failed.",
	})
	m.lastReloadT = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "warden_policy_last_reload_timestamp_seconds",
		Help: "When the last policy load was attempted, in Unix seconds.",
	})
	m.reg.MustRegister(m.decisions, m.duration, m.responses, m.batchSize, m.reloads, m.lastReloadSuccess, m.lastReloadT,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "warden_policy_loaded",
			Help: "1 once a policy has loaded (the server is ready), 0 before.",
		}, func() float64 {
			if s.cfg.Store != nil && s.eng.Load() == nil || s.cfg.Store == nil && s.policy.Load() == nil {
				return 0
			}
			return 1
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "warden_request_memory_bytes",
			Help: "Bytes of --request-memory reserved by the requests being read, decoded and answered.",
		}, func() float64 { return float64(s.reqHeld.Load()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if a := s.async; a != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_audit_queue_depth",
				Help: "Audit events waiting to be written.",
			}, func() float64 { return float64(a.Pending()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_audit_in_flight",
				Help: "Audit events taken from decisions and not yet durable in the store (queued, lingering or being written): what a crash would lose. Decisions answered with --audit-required are never among them.",
			}, func() float64 { return float64(a.InFlight()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_audit_in_flight_bytes",
				Help: "Memory held by the audit events in flight, as counted against --audit-queue-bytes.",
			}, func() float64 { return float64(a.InFlightBytes()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "warden_audit_dropped_total",
				Help: "Audit events dropped because the queue was full (only with --audit-drop; by default a full queue makes requests wait).",
			}, func() float64 { return float64(a.Dropped()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "warden_audit_refused_total",
				Help: "Audit events the store refused as unstorable (reported and dropped).",
			}, func() float64 { return float64(a.Refused()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "warden_audit_write_failures_total",
				Help: "Failed batch writes to the audit store (retried with backoff).",
			}, func() float64 { return float64(a.Failed()) }),
		)
	}
	if s.cfg.Store != nil {
		status := func(f func(st warden.EngineStatus) float64) func() float64 {
			return func() float64 {
				e := s.eng.Load()
				if e == nil {
					return 0
				}
				return f(e.Status())
			}
		}
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_revision_applied",
				Help: "The store revision decisions see (SPEC 10.4).",
			}, status(func(st warden.EngineStatus) float64 { return float64(st.Applied) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_revision_latest",
				Help: "The newest store revision the server has heard of.",
			}, status(func(st warden.EngineStatus) float64 { return float64(st.Latest) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_lag_revisions",
				Help: "Revisions the store has that decisions do not see yet.",
			}, status(func(st warden.EngineStatus) float64 { return float64(st.Latest - st.Applied) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_up",
				Help: "1 while the store answers, 0 while it cannot be reached (decisions go on with the last state applied) or before its data has loaded.",
			}, status(func(st warden.EngineStatus) float64 {
				if st.StoreErr != nil {
					return 0
				}
				return 1
			})),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_down_seconds",
				Help: "How long the store has been unreachable, 0 while it answers.",
			}, status(func(st warden.EngineStatus) float64 {
				if st.StoreErr == nil {
					return 0
				}
				return s.now().Sub(st.Since).Seconds()
			})),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "warden_store_policy_seq",
				Help: "The store's policy version served, when following published versions (SPEC 11.3).",
			}, status(func(st warden.EngineStatus) float64 { return float64(st.PolicySeq) })),
		)
	}
	return m
}

// count adds one decision to its effect's counter.
func (m *metrics) count(effect string) {
	switch effect {
	case "allow":
		m.allow.Inc()
	case "deny":
		m.deny.Inc()
	case "none":
		m.none.Inc()
	default:
		m.errored.Inc()
	}
}
