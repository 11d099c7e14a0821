package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"

	"github.com/warden-authz/warden/internal/wire"
)

// Taking a request's body: its share of Config.RequestMemory first, then
// the body itself into a pooled buffer, within its limit.

// taken is what take holds for a request until release: its reservation
// and the pooled buffer its body is in.
type taken struct {
	held int64
	buf  *[]byte
}

// take reserves the request's share of memory (pooled bytes more than its
// body may need) and reads its body, of at most limit bytes, into a pooled
// buffer. When it cannot, it answers the request and ok is false;
// otherwise the caller releases what it took once the answer is written.
func (s *Server) take(w http.ResponseWriter, r *http.Request, endpoint string, limit, pooled int64) (t taken, ok bool) {
	held, err := s.reserve(r.Context(), r, limit, pooled)
	if err != nil {
		return t, false // the client gave up waiting
	}
	t = taken{held: held, buf: getBuf()}
	body, status, werr := readBody(w, r, *t.buf, limit)
	*t.buf = body
	if werr != nil {
		s.fail(w, endpoint, status, werr)
		s.release(t)
		return taken{}, false
	}
	return t, true
}

func (s *Server) release(t taken) {
	putBuf(t.buf)
	s.unreserve(t.held)
}

// reserve takes a request's share of Config.RequestMemory before its body
// is read: DecodeFactor times the body's length, or its limit when the
// length is unknown, and never more than the whole budget. It waits while
// the budget is spent; the caller releases what it returns.
func (s *Server) reserve(ctx context.Context, r *http.Request, limit, pooled int64) (int64, error) {
	n := limit
	if r.ContentLength >= 0 && r.ContentLength < limit {
		n = r.ContentLength
	}
	n = min(maxPooled+pooled+n*DecodeFactor, s.cfg.RequestMemory)
	if !s.reqMem.TryAcquire(n) {
		if err := s.reqMem.Acquire(ctx, n); err != nil {
			return 0, err
		}
	}
	s.reqHeld.Add(n)
	return n, nil
}

func (s *Server) unreserve(n int64) {
	s.reqHeld.Add(-n)
	s.reqMem.Release(n)
}

// bufPool holds buffers for request bodies and responses. Buffers that
// grew past maxPooled (a large body or batch) are left to the collector,
// so one large request does not pin its memory for good, and a request's
// reservation (Server.reserve) covers the pooled buffer it may get.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooled = 16 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readBody reads a JSON body of at most limit bytes into buf. It returns
// a status and error object when the body cannot be taken.
func readBody(w http.ResponseWriter, r *http.Request, buf []byte, limit int64) ([]byte, int, *wire.Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return buf, http.StatusUnsupportedMediaType, wire.Errorf(wire.CodeUnsupportedType, "Content-Type %s: want application/json", strconv.Quote(shortText(ct)))
	}
	if r.ContentLength > limit {
		return buf, http.StatusRequestEntityTooLarge, wire.Errorf(wire.CodeTooLarge, "body is %d bytes, over the limit of %d", r.ContentLength, limit)
	}
	if r.ContentLength > 0 && int64(cap(buf)) <= r.ContentLength {
		buf = make([]byte, 0, r.ContentLength+1) // +1: room to read EOF
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, 0, nil
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return buf, http.StatusRequestEntityTooLarge, wire.Errorf(wire.CodeTooLarge, "body is over the limit of %d bytes", limit)
			}
			return buf, http.StatusBadRequest, wire.Errorf(wire.CodeInvalidJSON, "reading the body: %v", err)
		}
	}
}

// isJSON accepts application/json, with parameters (charset=utf-8), in
// any case; the common spellings skip the MIME parser.
func isJSON(ct string) bool {
	if ct == "application/json" || ct == "application/json; charset=utf-8" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func shortText(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}
