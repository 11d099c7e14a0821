package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden/internal/auditurl"
	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/internal/storeurl"
)

// DefaultAudit is where `warden serve` records decisions unless told
// otherwise (SPEC 9.2: SQLite in the working directory).
const DefaultAudit = "sqlite:./warden-audit.db"

// serveEnv maps each flag of serve to the environment variable that sets
// it when the flag is not given; a flag always wins.
var serveEnv = map[string]string{
	"config":            "WARDEN_CONFIG",
	"addr":              "WARDEN_ADDR",
	"audit":             "WARDEN_AUDIT",
	"audit-linger":      "WARDEN_AUDIT_LINGER",
	"audit-required":    "WARDEN_AUDIT_REQUIRED",
	"audit-queue-bytes": "WARDEN_AUDIT_QUEUE_BYTES",
	"request-memory":    "WARDEN_REQUEST_MEMORY",
	"max-connections":   "WARDEN_MAX_CONNECTIONS",
	"reload-settle":     "WARDEN_RELOAD_SETTLE",
	"token-file":        "WARDEN_TOKEN_FILE",
	"store":             "WARDEN_STORE",
	"admin-token-file":  "WARDEN_ADMIN_TOKEN_FILE",
	"revision-wait":     "WARDEN_REVISION_WAIT",
	"store-poll":        "WARDEN_STORE_POLL",
	"tls-cert":          "WARDEN_TLS_CERT",
	"tls-key":           "WARDEN_TLS_KEY",
	"log-level":         "WARDEN_LOG_LEVEL",
	"log-format":        "WARDEN_LOG_FORMAT",
}

// serveFlags are serve's flags, as given or taken from the environment.
type serveFlags struct {
	config, addr, auditURL     string
	tokenFile, tlsCert, tlsKey string
	storeURL, adminTokenFile   string
	logLevel, logFormat        string
	noWatch, auditDrop         bool
	auditRequired              bool
	auditLinger, reloadSettle  time.Duration
	revisionWait, storePoll    time.Duration
	queueBytes, requestMemory  byteSize
	maxConns                   int
}

func newServe() *cobra.Command {
	f := &serveFlags{queueBytes: byteSize(server.DefaultAuditQueueBytes), requestMemory: byteSize(server.DefaultRequestMemory)}
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--addr HOST:PORT]",
		Short: "Answer decisions over HTTP",
		Long: `serve answers decisions over HTTP (POST /v1/check, POST /v1/check/batch),
serves the audit log (GET /v1/audit), and reports on itself (GET /healthz,
/readyz, /metrics). It reloads the policy file when it changes and on
SIGHUP; a broken file keeps the previous policy serving, and /readyz says
why the reload failed. A file written in place loads once it has settled:
on Linux once its writer has closed it, elsewhere once it has not changed
for --reload-settle. Renaming a whole new file over it is the safe way to
deploy. SIGTERM or SIGINT stops it gracefully: in-flight
requests finish and the audit log is flushed.

Every decision is recorded in the audit log, by default ` + DefaultAudit + `;
--audit off records nothing (and says so at startup). By default a decision
is answered once its event is queued, and a crash loses the events not yet
written (warden_audit_in_flight); with --audit-required a decision is
answered only once its event is durable in the store, and 503 audit_failed
when it cannot be recorded.

With --store, runtime data (memberships and grants, SPEC 10) is applied to
the policy as it commits, every decision carries its store revision, and
requests may ask for at_least_revision. POST /v1/data writes, GET /v1/data
lists and GET /v1/changes follows the changelog, all behind the admin
token of --admin-token-file (without it they answer 403; the check token
never reaches them). With --store and no --config the server serves the
store's published policy versions (warden publish). Several servers on
one PostgreSQL store are a fleet (docs/fleet.md).

Memory is bounded in bytes: --request-memory for the requests being decoded
and answered, --audit-queue-bytes for the events waiting to be written,
--max-connections for the connections; docs/serve.md gives the formula.

Each flag may instead be set by an environment variable: WARDEN_CONFIG,
WARDEN_ADDR, WARDEN_AUDIT, WARDEN_AUDIT_LINGER, WARDEN_AUDIT_REQUIRED,
WARDEN_AUDIT_QUEUE_BYTES, WARDEN_REQUEST_MEMORY, WARDEN_MAX_CONNECTIONS,
WARDEN_RELOAD_SETTLE, WARDEN_TOKEN_FILE, WARDEN_STORE,
WARDEN_ADMIN_TOKEN_FILE, WARDEN_REVISION_WAIT, WARDEN_STORE_POLL,
WARDEN_TLS_CERT, WARDEN_TLS_KEY, WARDEN_LOG_LEVEL, WARDEN_LOG_FORMAT.
Flags win.

The endpoints, limits and metrics are described in docs/serve.md.`,
		Example: `  warden serve --config policy.toml
  warden serve --config policy.toml --addr 0.0.0.0:8443 --token-file /run/secrets/warden-token --tls-cert cert.pem --tls-key key.pem
  curl -s localhost:8181/v1/check -d '{"subject":"user1","resource":"part_b","action":"GET"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd, serveEnv); err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			if err := f.validate(); err != nil {
				return err
			}
			cfg, err := f.serverConfig(log)
			if err != nil {
				return err
			}
			lim := startMemoryLimit(memoryFlags{int64(f.requestMemory), int64(f.queueBytes), f.maxConns, strings.HasPrefix(f.auditURL, "sqlite:")})
			defer lim.stopMemoryLimit()
			if f.storeURL != "" {
				st, err := openStore(cmd.Context(), f.storeURL)
				if err != nil {
					return err
				}
				defer st.Close()
				cfg.Store = st
			}
			return serveWithAudit(cmd.Context(), cfg, f.auditURL, f.addr, log, lim)
		},
	}
	f.register(cmd)
	return cmd
}

// register defines serve's flags on cmd, with their defaults.
func (f *serveFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "policy file (TOML); $WARDEN_CONFIG")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8181", "address to listen on, HOST:PORT; $WARDEN_ADDR")
	fl.StringVar(&f.auditURL, "audit", DefaultAudit, "audit store: "+auditSchemes+", or off; $WARDEN_AUDIT")
	fl.DurationVar(&f.auditLinger, "audit-linger", server.DefaultAuditLinger, "how long the audit writer waits to fill a batch; 0 writes at once; $WARDEN_AUDIT_LINGER")
	fl.BoolVar(&f.auditDrop, "audit-drop", false, "when the audit queue is full, drop (and count) events instead of making requests wait")
	fl.BoolVar(&f.auditRequired, "audit-required", false, "answer a decision only once its event is durable in the store; 503 audit_failed when it cannot be recorded; $WARDEN_AUDIT_REQUIRED")
	fl.Var(&f.queueBytes, "audit-queue-bytes", "memory the audit events waiting to be written may take (e.g. 64MiB); $WARDEN_AUDIT_QUEUE_BYTES")
	fl.Var(&f.requestMemory, "request-memory", "memory the requests being decoded and answered may take at once (e.g. 64MiB); $WARDEN_REQUEST_MEMORY")
	fl.IntVar(&f.maxConns, "max-connections", server.DefaultMaxConns, "connections served at once; more wait; $WARDEN_MAX_CONNECTIONS")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token every /v1 request must send; $WARDEN_TOKEN_FILE")
	fl.StringVar(&f.storeURL, "store", "", "runtime data store: "+strings.Join(storeurl.Schemes, ", ")+"; $WARDEN_STORE")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the bearer token of the data endpoints (/v1/data, /v1/changes); $WARDEN_ADMIN_TOKEN_FILE")
	fl.DurationVar(&f.revisionWait, "revision-wait", time.Second, "with --store: how long a check waits for its at_least_revision before answering 503 revision_unavailable; $WARDEN_REVISION_WAIT")
	fl.DurationVar(&f.storePoll, "store-poll", time.Second, "with --store: how often the store is asked for changes when no notification came; $WARDEN_STORE_POLL")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS; $WARDEN_TLS_CERT")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM); $WARDEN_TLS_KEY")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error; $WARDEN_LOG_LEVEL")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json; $WARDEN_LOG_FORMAT")
	fl.BoolVar(&f.noWatch, "no-watch", false, "do not reload when the policy file changes (SIGHUP still reloads)")
	fl.DurationVar(&f.reloadSettle, "reload-settle", server.DefaultSettle, "where the OS does not report that a writer closed the policy file (all but Linux), how long it must stay unchanged before it loads; $WARDEN_RELOAD_SETTLE")
}

// applyEnv sets each flag of cmd that was not given from its environment
// variable in env, when that is set and not empty: a flag always wins.
func applyEnv(cmd *cobra.Command, env map[string]string) error {
	for flag, name := range env {
		if f := cmd.Flags().Lookup(flag); !f.Changed {
			if v, ok := os.LookupEnv(name); ok && v != "" {
				if err := f.Value.Set(v); err != nil {
					return usage("$%s: %v", name, err)
				}
			}
		}
	}
	return nil
}

// validate refuses flags that are missing, out of range or contradict
// each other, before anything is opened.
func (f *serveFlags) validate() error {
	switch {
	case f.config == "" && f.storeURL == "":
		return usage("no policy file: pass --config FILE or set WARDEN_CONFIG (or --store URL to serve the store's published policy)")
	case f.adminTokenFile != "" && f.storeURL == "":
		return usage("--admin-token-file opens the data endpoints, which need --store")
	case f.maxConns < 1 || f.maxConns > maxConnections:
		return usage("--max-connections %d: want 1 to %d", f.maxConns, maxConnections)
	case f.auditRequired && f.auditDrop:
		return usage("--audit-required and --audit-drop contradict each other: a dropped event would fail its decision")
	case f.auditRequired && f.auditURL == "off":
		return usage("--audit-required needs an audit store, not --audit off")
	case f.reloadSettle <= 0 || f.reloadSettle > maxReloadSettle:
		return usage("--reload-settle %v: want a duration above 0 and at most %v", f.reloadSettle, maxReloadSettle)
	case f.auditLinger < 0 || f.auditLinger > maxAuditLinger:
		return usage("--audit-linger %v: want a duration from 0 (write at once) to %v", f.auditLinger, maxAuditLinger)
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return usage("--tls-cert and --tls-key go together")
	case f.revisionWait <= 0 || f.revisionWait > maxRevisionWait:
		return usage("--revision-wait %v: want a duration above 0 and at most %v", f.revisionWait, maxRevisionWait)
	case f.storePoll < minStorePoll || f.storePoll > maxStorePoll:
		return usage("--store-poll %v: want a duration from %v to %v", f.storePoll, minStorePoll, maxStorePoll)
	}
	return nil
}

// serverConfig builds the server's configuration from valid flags,
// reading the token and TLS files; the audit store is opened by runServe.
func (f *serveFlags) serverConfig(log *slog.Logger) (server.Config, error) {
	cfg := server.Config{
		PolicyPath: f.config, Logger: log, NoWatch: f.noWatch, AuditDrop: f.auditDrop,
		AuditRequired: f.auditRequired, AuditQueueBytes: int64(f.queueBytes),
		RequestMemory: int64(f.requestMemory), MaxConns: f.maxConns, Settle: f.reloadSettle,
		AuditLinger: f.auditLinger, RevisionWait: f.revisionWait, StorePoll: f.storePoll,
	}
	if f.auditLinger == 0 {
		cfg.AuditLinger = -1 // server.Config's 0 means its default
	}
	if f.tokenFile != "" {
		var err error
		if cfg.Token, err = readToken("--token-file", f.tokenFile); err != nil {
			return cfg, &exitError{code: ExitUsage, err: err}
		}
	}
	if f.adminTokenFile != "" {
		var err error
		if cfg.AdminToken, err = readToken("--admin-token-file", f.adminTokenFile); err != nil {
			return cfg, &exitError{code: ExitUsage, err: err}
		}
		if cfg.AdminToken == cfg.Token {
			return cfg, usage("--admin-token-file and --token-file hold the same token; the admin token must differ, or a check token could write data")
		}
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return cfg, usage("TLS: %v", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// serveWithAudit opens the audit store (none for "off", with a warning), serves
// until stopped, and closes the store.
func serveWithAudit(ctx context.Context, cfg server.Config, auditURL, addr string, log *slog.Logger, lim *memoryLimit) error {
	var store auditurl.Store
	if auditURL == "off" {
		log.Warn("the audit log is off (--audit off): decisions are not recorded")
	} else {
		var err error
		if store, err = auditurl.Open(auditURL); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
		cfg.Audit = store
	}
	err := serve(ctx, cfg, addr, log, lim)
	if store != nil {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("audit store: %w", cerr))
		}
	}
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	return nil
}

// maxAuditLinger bounds --audit-linger: events wait in memory that long
// before they are written, and a crash loses what waits.
const maxAuditLinger = 10 * time.Second

// maxReloadSettle bounds --reload-settle: an edit waits that long before
// it takes effect.
const maxReloadSettle = 10 * time.Minute

// serve runs the server until ctx is done or SIGTERM/SIGINT arrives, and
// reloads the policy on SIGHUP. lim, if not nil, learns what the server's
// buffers hold.
func serve(ctx context.Context, cfg server.Config, addr string, log *slog.Logger, lim *memoryLimit) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	lim.setHeld(s.BufferedBytes)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("listen: %w", err)
	}
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading the policy")
				s.Reload() // logs its own failure
			case <-ctx.Done():
				return
			}
		}
	}()
	return s.Serve(ctx, ln)
}

// maxTokenBytes bounds a token file.
const maxTokenBytes = 4096

// readToken reads the bearer token: the file's contents without
// surrounding whitespace (a trailing newline is the usual way to write
// it). An empty token would let anyone in, so it is an error.
func readToken(flag, path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	defer fh.Close()
	// A token is a line; a flag pointed at a large file (or a device
	// that never ends) must not be read whole into memory.
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if len(b) > maxTokenBytes {
		return "", fmt.Errorf("%s %s: the file is over %d bytes; want one line holding the token", flag, path, maxTokenBytes)
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" {
		return "", fmt.Errorf("%s %s: the file is empty", flag, path)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s %s: the token holds whitespace; want one line", flag, path)
	}
	return tok, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usage("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usage("--log-format %q: want text or json", format)
}

// maxConnections bounds --max-connections: each may hold 64 KiB
// (memPerConn), so a million is 64 GiB, and a larger figure would only
// overflow the memory bound's arithmetic.
const maxConnections = 1 << 20

// maxRevisionWait bounds --revision-wait: a check holding its connection
// longer than this is better answered revision_unavailable and retried.
const maxRevisionWait = time.Minute

// minStorePoll and maxStorePoll bound --store-poll: faster polling is
// load on the database for no gain (notifications wake instances at
// once), slower leaves an instance behind for too long when a
// notification is lost.
const (
	minStorePoll = 10 * time.Millisecond
	maxStorePoll = time.Minute
)
