package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
			if s.policy.Load() == nil {
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
