package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/server"
)

// live is a server answering on a real loopback socket, driven by a
// keep-alive client, as in production.
type live struct {
	srv    *server.Server
	url    string
	path   string
	client *http.Client
	logBuf *syncBuffer
	stop   func() error
}

func serveLive(tb testing.TB, policy string, edit func(*server.Config)) *live {
	tb.Helper()
	l := &live{path: filepath.Join(tb.TempDir(), "policy.toml"), logBuf: &syncBuffer{}}
	writePolicy(tb, l.path, policy)
	cfg := server.Config{
		PolicyPath: l.path,
		Debounce:   20 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(l.logBuf, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	l.srv, l.url = s, "http://"+ln.Addr().String()
	l.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}, Timeout: 30 * time.Second}
	stopped := false
	l.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		err := <-done
		l.client.CloseIdleConnections()
		return err
	}
	tb.Cleanup(func() {
		if err := l.stop(); err != nil {
			tb.Error(err)
		}
	})
	return l
}

// post sends body and returns the status and response body.
func (l *live) post(path string, body []byte) (int, []byte, error) {
	resp, err := l.client.Post(l.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (l *live) get(path string) (int, []byte, error) {
	resp, err := l.client.Get(l.url + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// checkBodies are the requests load tests cycle through: allowed, denied
// and unmatched, over many resources.
func checkBodies(n int) [][]byte {
	subjects := []string{"alice", "bob", "carol"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"subject":%q,"resource":"doc:%d","action":"read"}`, subjects[i%len(subjects)], i)
	}
	return out
}

func batchBody(n, offset int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"requests":[`)
	for i, r := range checkBodies(n + offset)[offset:] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func byteReader(b []byte) io.Reader { return bytes.NewReader(b) }

// rawConn is a minimal HTTP/1.1 keep-alive client on one connection. The
// load benchmarks use it instead of net/http's client, whose per-request
// goroutines and header maps would take a good part of the two cores the
// server is measured on; the server sees ordinary HTTP/1.1 requests.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func dialRaw(tb testing.TB, url string) *rawConn {
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// rawRequest builds a POST request once, to be sent many times.
func rawRequest(path string, body []byte) []byte {
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: warden\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(body))
	return append([]byte(head), body...)
}

// do sends one prepared request and reads the response, returning its
// status; the body is read into a reused buffer and returned.
func (rc *rawConn) do(req []byte) (int, []byte, error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := strings.Cut(string(line), ":"); ok && strings.EqualFold(k, "Content-Length") {
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return 0, nil, err
			}
		}
	}
	if length < 0 {
		return 0, nil, fmt.Errorf("response without Content-Length")
	}
	if cap(rc.buf) < length {
		rc.buf = make([]byte, length)
	}
	rc.buf = rc.buf[:length]
	_, err = io.ReadFull(rc.r, rc.buf)
	return status, rc.buf, err
}

func (rc *rawConn) close() { rc.c.Close() }
