// Package server is warden's HTTP decision service, `warden serve`
// (SPEC 9.2): it decides requests against a policy file it reloads when
// the file changes, records every decision in the audit log, and reports
// on itself through health, readiness and Prometheus metrics.
//
// # Endpoints
//
//	POST /v1/check        one request object -> one decision object (SPEC 9.3)
//	POST /v1/check/batch  {"requests": [...]} -> {"decisions": [...]}, at most MaxBatch
//	GET  /v1/audit        audit events, filtered as audit.Query (SPEC 8.4)
//	GET  /healthz         200 while the process serves
//	GET  /readyz          200 once a policy has loaded, with the last reload's result
//	GET  /metrics         Prometheus text format
//
// Every failure is the error object {"error": {"code": ..., "message": ...}}
// with a 4xx status for anything the caller sent; a 5xx means the server
// itself failed. docs/serve.md lists the codes, limits and metrics.
//
// # Policy
//
// The policy lives in an atomic.Pointer: a request loads it once and
// decides with it to the end, so a reload never changes the policy under
// a request, and readers take no lock. Reload builds a new policy from the
// file and swaps it in only if the whole file is valid (SPEC 6.2); a
// broken file leaves the old policy serving and is reported by /readyz,
// the log and warden_policy_reloads_total{result="error"}.
//
// # Audit
//
// Every decision, allowed, denied or error (an invalid name), is queued in
// an audit.Async before its response is written, so a response the client
// received has its event queued; Close flushes the queue. A full queue
// (in events or in bytes) makes requests wait (backpressure) unless
// Config.AuditDrop says to drop and count. With Config.AuditRequired a
// decision is answered only once its event is committed to the store:
// the requests waiting share the writer's commits (group commit), and an
// event that cannot be recorded turns the answer into 503 audit_failed.
//
// # Memory
//
// Everything a request holds is bounded in bytes: its body by
// wire.MaxRequestBytes or MaxBatchBytes, what all requests being decoded
// and answered hold at once by Config.RequestMemory (a request reserves
// its share before reading its body and waits while the budget is
// spent), and the audit events waiting to be written by
// Config.AuditQueueBytes. docs/serve.md gives the resulting bound on the
// process's memory.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
)

// MaxBatch is the most requests one /v1/check/batch call may carry, and
// MaxBatchBytes the most bytes; package wire sets both (SPEC 9.3). A
// single /v1/check body is bounded by wire.MaxRequestBytes.
const (
	MaxBatch      = wire.MaxBatch
	MaxBatchBytes = wire.MaxBatchBytes
)

// AuditStore is where decisions are recorded and read back from: every
// store of package auditurl is one, and so is an *audit.Memory.
type AuditStore interface {
	audit.Sink
	audit.Querier
}

// Config configures a Server. PolicyPath, or a Store that keeps policy
// versions, is required; the zero value of every other field is a safe
// default.
type Config struct {
	// PolicyPath is the TOML policy file. It is loaded by New and again
	// whenever it changes (unless NoWatch) and on Reload. Empty with a
	// Store: the server serves the store's published policy versions
	// (SPEC 11.3).
	PolicyPath string

	// Store keeps the runtime data (SPEC 10): memberships and grants
	// applied to the policy as they commit, revisions on decisions, and
	// the /v1/data and /v1/changes endpoints. nil serves the policy file
	// alone. The server reads and writes it but does not close it.
	Store store.Store
	// AdminToken enables the data endpoints and is required on them as
	// "Authorization: Bearer TOKEN" (SPEC 10.5); without it they answer
	// 403. It is compared in constant time and never logged.
	AdminToken string
	// RevisionWait bounds how long a request waits for its
	// at_least_revision; 0 means 1s.
	RevisionWait time.Duration
	// StorePoll is how often the store is asked for changes when nothing
	// woke the server; 0 means 1s.
	StorePoll time.Duration
	// NoWatch turns off reloading on file changes; Reload (SIGHUP in
	// `warden serve`) still works.
	NoWatch bool
	// Debounce is how long the file must stay unchanged after a change
	// before it is reloaded, so an editor's several writes make one
	// reload; 0 means 100ms. Where the platform reports that a writer
	// closed the file (Linux), a file written in place is moreover not
	// loaded while its writer holds it open, however long it pauses.
	Debounce time.Duration
	// Settle replaces Debounce where the platform cannot report closes
	// (everywhere but Linux) and after the kernel dropped events: the
	// file must stay unchanged this long before it is loaded, so a
	// writer pausing mid-file for less than that never has what it has
	// written so far served. 0 means DefaultSettle. An atomic rename
	// needs neither: the file appears whole.
	Settle time.Duration
	// portableWatch makes Linux watch as other platforms do, without
	// closes, so tests can exercise Settle (export_test.go).
	portableWatch bool

	// Audit records every decision; nil records nothing (`--audit off`).
	// The server writes to it but does not close it: close it after
	// Serve or Close returns.
	Audit AuditStore
	// AuditQueue is how many events may wait to be written; 0 means
	// 10,000. A full queue makes requests wait, unless AuditDrop.
	AuditQueue int
	// AuditQueueBytes bounds the memory of the events waiting to be
	// written, as audit.EventSize counts it (decoded contexts included);
	// 0 means DefaultAuditQueueBytes. It fills like AuditQueue does.
	AuditQueueBytes int64
	// AuditDrop drops events when the queue is full instead of making
	// requests wait; drops are counted (warden_audit_dropped_total) and
	// logged. Off by default: SPEC 8.2 forbids silent loss.
	AuditDrop bool
	// AuditRequired answers a decision only once its event is durable in
	// the store, and answers 503 audit_failed, never a decision, when it
	// cannot be recorded. Without it a decision is answered once its
	// event is queued, and a crash loses the events still in flight
	// (warden_audit_in_flight).
	AuditRequired bool
	// AuditLinger is how long the audit writer waits for a batch to fill
	// before writing what it has; 0 means DefaultAuditLinger, and a
	// negative value writes at once. Under load it turns many small
	// commits, each with its fsync, into few large ones. It never delays
	// a decision; it delays when an event reaches the store, and so how
	// much a crash (not a graceful stop, which flushes) can lose.
	AuditLinger time.Duration

	// MaxConns bounds the connections served at once; further ones wait
	// in the listen backlog until one closes. Each costs memory (buffers,
	// a goroutine) whether or not it sends anything. 0 means
	// DefaultMaxConns.
	MaxConns int
	// RequestMemory bounds the memory all requests being read, decoded
	// and answered hold at once: each reserves its body's length times
	// DecodeFactor (the most a JSON body grows when decoded) before it
	// reads the body, and waits while the budget is spent. 0 means
	// DefaultRequestMemory.
	RequestMemory int64

	// Token, if set, is required as "Authorization: Bearer TOKEN" on every
	// /v1/ endpoint. It is compared in constant time and never logged.
	Token string
	// TLS, if set, makes Serve speak HTTPS with it.
	TLS *tls.Config
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// once its context is done; 0 means 30s.
	ShutdownTimeout time.Duration

	// Logger receives the service's structured log; nil discards it.
	Logger *slog.Logger
	// Clock tells the time: of audit events and their latencies, of the
	// latency metrics, and of reloads (/readyz). nil means time.Now.
	// Tests pass a fake one; it is called from every request's
	// goroutine, so it must be safe for concurrent use.
	Clock func() time.Time
}

// Server is the decision service. Create it with New; it is safe for
// concurrent use. A Server not made by New (the zero Server, or a nil
// *Server) serves nothing: its methods return ErrNotMade, and its Handler
// answers every request 500 internal.
type Server struct {
	cfg     Config
	now     func() time.Time // cfg.Clock, or time.Now
	log     *slog.Logger
	token   [sha256.Size]byte // hash of cfg.Token; compared in constant time
	admin   [sha256.Size]byte // hash of cfg.AdminToken
	handler http.Handler
	async   *audit.Async
	metrics *metrics
	reqMem  *semaphore.Weighted // Config.RequestMemory
	reqHeld atomic.Int64        // bytes of it reserved now

	dropLogged atomic.Int64 // UnixNano of the last log line about drops

	policy     atomic.Pointer[loaded]
	lastReload atomic.Pointer[reloadResult]
	reloadMu   sync.Mutex
	// retryMu guards retry: the reload that runs again after the store's
	// data could not be applied to a new policy (scheduleRetry).
	// writeBound bounds a data write's store work: defaultWriteBound.
	writeBound time.Duration

	retryMu   sync.Mutex
	retry     *time.Timer
	retryWait time.Duration
	closing   bool           // under retryMu: no retry is scheduled or runs any more
	retrying  sync.WaitGroup // a retried reload running; Close waits for it

	// eng decides with the store's data once it has loaded (Config.Store);
	// engErr says why it has not.
	eng     atomic.Pointer[warden.Engine]
	engErr  atomic.Pointer[string]
	engStop chan struct{}
	engDone chan struct{}

	watchStop chan struct{}
	watchDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New loads the policy and starts watching its file. A policy that fails
// to load is not an error here: the server starts unready (/readyz 503,
// /v1 503 no_policy) and becomes ready when a reload succeeds, which is
// what an orchestrator restarting pods in order needs. Only a missing
// PolicyPath or a watcher that cannot start is an error.
func New(cfg Config) (*Server, error) {
	if cfg.PolicyPath == "" && cfg.Store == nil {
		return nil, errors.New("server: no policy file given, and no store to take published policies from")
	}
	if cfg.PolicyPath == "" {
		if _, ok := cfg.Store.(store.Policies); !ok {
			return nil, fmt.Errorf("server: no policy file given, and the store %T keeps no policy versions", cfg.Store)
		}
		cfg.NoWatch = true
	}
	if cfg.RevisionWait <= 0 {
		cfg.RevisionWait = time.Second
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	switch {
	case cfg.AuditLinger == 0:
		cfg.AuditLinger = DefaultAuditLinger
	case cfg.AuditLinger < 0:
		cfg.AuditLinger = 0
	}
	s := &Server{cfg: cfg, now: cfg.Clock, log: cfg.Logger, writeBound: defaultWriteBound}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Token != "" {
		s.token = sha256.Sum256([]byte(cfg.Token))
	}
	if cfg.AdminToken != "" {
		s.admin = sha256.Sum256([]byte(cfg.AdminToken))
	}
	if s.cfg.MaxConns <= 0 {
		s.cfg.MaxConns = DefaultMaxConns
	}
	if s.cfg.RequestMemory <= 0 {
		s.cfg.RequestMemory = DefaultRequestMemory
	}
	s.reqMem = semaphore.NewWeighted(s.cfg.RequestMemory)
	if s.cfg.AuditQueueBytes <= 0 {
		s.cfg.AuditQueueBytes = DefaultAuditQueueBytes
	}
	if cfg.Audit != nil {
		s.async = audit.NewAsync(cfg.Audit, &audit.AsyncOptions{
			Queue:      cfg.AuditQueue,
			QueueBytes: s.cfg.AuditQueueBytes,
			Drop:       cfg.AuditDrop,
			Linger:     cfg.AuditLinger,
			OnError:    s.auditError,
		})
	}
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	if cfg.PolicyPath != "" {
		if err := s.Reload(); err != nil {
			s.log.Error("no policy loaded; not ready until the file loads", "path", cfg.PolicyPath, "error", err)
		}
	}
	if cfg.Store != nil {
		s.startEngine()
	}
	if !cfg.NoWatch {
		if err := s.watch(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ErrNotMade is returned by the methods of a Server that New did not make.
var ErrNotMade = errors.New("server: the Server was not made with New")

// made reports whether New made s.
func (s *Server) made() bool { return s != nil && s.handler != nil }

// Handler returns the service's HTTP handler, for tests and for embedding
// it in another server.
func (s *Server) Handler() http.Handler {
	if !s.made() {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusInternalServerError, wire.Errorf(wire.CodeInternal, "%v", ErrNotMade))
		})
	}
	return s.handler
}

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish (for at
// most Config.ShutdownTimeout), and closes the server (Close), which
// flushes the audit log. It returns nil after a clean shutdown. A nil
// ctx means context.Background().
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	switch {
	case !s.made():
		return ErrNotMade
	case ln == nil:
		return errors.New("server: Serve: no listener")
	case ctx == nil:
		ctx = context.Background()
	}
	hs := newHTTPServer(s.handler, s.cfg.TLS, s.log)
	ln = limitListener(ln, s.cfg.MaxConns)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil, "auth", s.cfg.Token != "", "audit", s.cfg.Audit != nil)
	var serr error
	select {
	case err := <-errc:
		serr = fmt.Errorf("server: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		if err := hs.Shutdown(sctx); err != nil {
			serr = fmt.Errorf("server: shutdown: %w", err)
			hs.Close()
		}
		cancel()
		<-errc
	}
	if err := s.Close(); err != nil {
		serr = errors.Join(serr, err)
	}
	switch {
	case serr != nil:
	case s.async == nil:
		s.log.Info("stopped") // no audit log to flush (--audit off)
	default:
		s.log.Info("stopped; audit log flushed")
	}
	return serr
}

// writeTimeout bounds how long a request may take from its headers to
// the end of its answer. A request that waits on purpose (a watch of
// changes, a check for a revision not yet applied) first moves its own
// deadline past its wait (extendWrite).
const writeTimeout = 30 * time.Second

// defaultWriteBound bounds how long POST /v1/data waits for the store to
// commit and the write to apply: below writeTimeout, so that a write the
// store never answers still gets its 503 store_unavailable.
const defaultWriteBound = 25 * time.Second

// extendWrite gives the request answered through w writeTimeout more
// than wait to answer, so that a wait the flags allow (up to a minute)
// ends in an answer rather than a connection closed with none. A
// ResponseWriter that cannot move its deadline (a test recorder) has
// none to move.
func extendWrite(w http.ResponseWriter, wait time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + writeTimeout))
}

// newHTTPServer is the net/http server Serve runs h in: its timeouts and
// header limit are part of what makes the service safe to expose (a slow
// or stalled client cannot hold a connection forever), and the load
// benchmarks run their bare net/http baseline in the same settings.
func newHTTPServer(h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Close stops watching the policy file and flushes and stops the audit
// writer; events it cannot write are reported in its error. Call it only
// once no request is in flight (Serve does). Later requests that need the
// audit log fail with 500.
func (s *Server) Close() error {
	if !s.made() {
		return ErrNotMade
	}
	s.closeOnce.Do(func() {
		s.retryMu.Lock()
		s.closing = true
		if s.retry != nil {
			s.retry.Stop()
		}
		s.retryMu.Unlock()
		s.retrying.Wait()
		if s.watchStop != nil {
			close(s.watchStop)
			<-s.watchDone
		}
		if s.engStop != nil {
			close(s.engStop)
			<-s.engDone
		}
		if e := s.eng.Load(); e != nil {
			e.Close()
		}
		if s.async != nil {
			if err := s.async.Close(); err != nil {
				s.closeErr = fmt.Errorf("server: audit log: %w", err)
			}
		}
	})
	return s.closeErr
}

// BufferedBytes is the memory the server's bounded buffers hold now: the
// request memory reserved by requests in flight and the audit events not
// yet durable. It is what `warden serve` subtracts from the live heap to
// find the memory its policy and data hold (docs/serve.md, "Memory").
// It is 0 on a Server not made by New. Safe for concurrent use.
func (s *Server) BufferedBytes() int64 {
	if !s.made() {
		return 0
	}
	n := s.reqHeld.Load()
	if s.async != nil {
		n += s.async.InFlightBytes()
	}
	return n
}

// Flush waits until every decision answered so far is written to the
// audit store, so a query sees it. Without an audit store it returns nil.
// A nil ctx means context.Background().
func (s *Server) Flush(ctx context.Context) error {
	switch {
	case !s.made():
		return ErrNotMade
	case s.async == nil:
		return nil
	case ctx == nil:
		ctx = context.Background()
	}
	return s.async.Flush(ctx)
}

// Memory defaults (docs/serve.md, "Memory"). With them `warden serve`
// stays under 512 MiB under any load (docs/performance.md).
const (
	// DefaultAuditQueueBytes is Config.AuditQueueBytes's default.
	DefaultAuditQueueBytes = 64 << 20
	// DefaultRequestMemory is Config.RequestMemory's default.
	DefaultRequestMemory = 64 << 20
	// DefaultMaxConns is Config.MaxConns's default.
	DefaultMaxConns = 1024
)

// DecodeFactor is how many bytes of memory a request may hold per byte of
// its body while it is decoded and answered: the body itself, the decoded
// context, and the response. A context decodes to 7 times its JSON text
// for 70,000 one-byte keys and values in 1 MiB, and to 25 times for a
// context of small objects ({"k1":{"a":1},...}: each a map of its own),
// the worst shape measured. A body of unknown length reserves for the
// largest it may be. A request whose decoded context is larger than its
// reservation anyway is refused (413), so the bound holds for any input.
const DecodeFactor = 32

// DefaultAuditLinger is how long the audit writer waits for a batch to
// fill unless Config.AuditLinger says otherwise. Under load it turns many
// small commits, each with its fsync, into few large ones (at 25,000
// checks/s, batches of about 1,000 events instead of 125). On this
// project's 2-core load benchmark, 50 ms rather than 5 ms took the p99 of
// single checks with SQLite audit from 6.4-6.9 ms to 4.6-4.8 ms
// (docs/performance.md). An event reaches the store at most this much
// later than it would otherwise; a decision is never delayed by it.
const DefaultAuditLinger = 50 * time.Millisecond

// dropLogEvery is the least time between two log lines about events
// dropped by a full queue (AuditDrop): a sustained overflow drops
// thousands a second, and one line each would flood the log. The count
// is exact in warden_audit_dropped_total.
const dropLogEvery = 10 * time.Second

// auditError logs what the audit writer reports. Drops are summarised at
// most once per dropLogEvery; everything else is logged as it comes.
func (s *Server) auditError(err error) {
	if !errors.Is(err, audit.ErrDropped) {
		s.log.Error("audit log", "error", err)
		return
	}
	now := s.now().UnixNano()
	last := s.dropLogged.Load()
	if now-last < int64(dropLogEvery) || !s.dropLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Error("audit log: queue full, dropping events (logged at most every "+dropLogEvery.String()+")",
		"dropped_total", s.async.Dropped(), "error", err)
}
