package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/server"
)

// discardWriter is a ResponseWriter that keeps nothing, so the handler
// benchmarks measure the handler, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }

// BenchmarkHandlerCheck measures /v1/check's handler alone, without the
// network: decoding, deciding, encoding and metrics.
func BenchmarkHandlerCheck(b *testing.B) {
	f := start(b, policyAllow, func(c *server.Config) { c.Audit = nil })
	h := f.srv.Handler()
	body := `{"subject":"alice","resource":"doc:1","action":"read"}`
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest("POST", "/v1/check", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Body = http.NoBody
		r.Body = readCloser{strings.NewReader(body)}
		r.ContentLength = int64(len(body))
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatal(w.status)
		}
	}
}

// BenchmarkHandlerBatch measures /v1/check/batch's handler alone with
// 1,000 requests a call, reporting the cost per decision.
func BenchmarkHandlerBatch(b *testing.B) {
	f := start(b, policyAllow, func(c *server.Config) { c.Audit = nil })
	h := f.srv.Handler()
	body := string(batchBody(1000, 0))
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest("POST", "/v1/check/batch", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Body = readCloser{strings.NewReader(body)}
		r.ContentLength = int64(len(body))
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatal(w.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/decision")
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
