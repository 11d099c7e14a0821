package server

import (
	"log/slog"
	"net/http"
	"time"
)

// NewHTTPServer gives tests the net/http server settings Serve uses, so
// the load benchmarks' bare baseline runs under the same timeouts.
func NewHTTPServer(h http.Handler) *http.Server {
	return newHTTPServer(h, nil, slog.New(slog.DiscardHandler))
}

// PortableWatch makes the server watch its policy file without close
// events, as on platforms other than Linux, so tests can exercise
// Config.Settle.
func PortableWatch(c *Config) { c.portableWatch = true }

// SetWriteBound shortens how long a data write waits for its store, so a
// test of a stalled store need not wait the default.
func SetWriteBound(s *Server, d time.Duration) { s.writeBound = d }
