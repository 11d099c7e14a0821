package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
)

// call is one of the client's calls, reduced to whether it returned a
// result along with its error.
type call struct {
	name string
	body string // a good 200 answer to it
	do   func(*client.Client) (empty bool, err error)
}

// strictCalls are every call that reads a 200 answer, each with a good
// answer the hostile ones below are made from.
var strictCalls = []call{
	{"Check", `{"allowed":true,"effect":"allow","rule":"rules.r","reason":"R","subject_path":["u","g"],"policy_version":"v"}`,
		func(c *client.Client) (bool, error) {
			d, err := c.Check(context.Background(), warden.Request{Subject: "u", Action: "a"})
			return cmp.Equal(d, warden.Decision{}), err
		}},
	{"CheckBatch", `{"decisions":[{"allowed":true,"effect":"allow","rule":"rules.r","reason":"R","policy_version":"v"},{"error":{"code":"invalid_request","message":"M"}}]}`,
		func(c *client.Client) (bool, error) {
			r, err := c.CheckBatch(context.Background(), []warden.Request{{Subject: "u", Action: "a"}, {Subject: "u*", Action: "a"}})
			return r == nil, err
		}},
	{"Audit", `{"events":[{"id":"1","time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":true,"status":"allowed","reason":"R","latency_ns":5,"fields":{"k":"F"}}],"next":"1"}`,
		func(c *client.Client) (bool, error) {
			p, err := c.Audit(context.Background(), audit.Query{})
			return cmp.Equal(p, client.AuditPage{}), err
		}},
	{"Ready", `{"ready":true,"policy_version":"v","loaded_at":"2026-11-25T10:00:00Z","last_reload":{"ok":false,"time":"2026-11-25T10:00:00Z","error":"E"}}`,
		func(c *client.Client) (bool, error) {
			r, err := c.Ready(context.Background())
			return cmp.Equal(r, client.Readiness{}), err
		}},
	{"Health", `{"status":"ok","note":"N"}`,
		func(c *client.Client) (bool, error) { return true, c.Health(context.Background()) }},
}

// TestStrictAnswers: every call refuses a 200 answer that is not declared
// application/json, or that holds invalid UTF-8 or half a UTF-16
// surrogate pair anywhere (in a reason, a name, a path, a message, a
// free-form field, a key the client ignores), with an error that says
// which and the empty result; the same answers, declared and encoded
// properly, are accepted.
func TestStrictAnswers(t *testing.T) {
	t.Parallel()
	// Each hostile answer is the good one with its capital letter (R, M,
	// F, E or N, whichever it has) replaced, or with another header.
	hostile := []struct {
		name, ctype, in, want string
	}{
		{"text/plain", "text/plain", "", `Content-Type "text/plain" (want application/json)`},
		{"text/plain with charset", "text/plain; charset=utf-8", "", `Content-Type "text/plain; charset=utf-8"`},
		{"no Content-Type", noContentType, "", "no Content-Type (want application/json)"},
		{"problem+json", "application/problem+json", "", `"application/problem+json" (want application/json)`},
		{"json-seq", "application/json-seq", "", "want application/json"},
		{"unparsable media type", "application/json; =x", "", "want application/json"},
		{"latin-1 charset", "application/json; charset=iso-8859-1", "", `charset "iso-8859-1" (want utf-8, or none)`},
		{"invalid byte", "", "\xff", "not valid UTF-8: byte 0xff at offset"},
		{"truncated sequence", "", "\xc3", "not valid UTF-8: byte 0xc3"},
		{"overlong encoding", "", "\xc0\xaf", "not valid UTF-8: byte 0xc0"},
		{"encoded surrogate", "", "\xed\xa0\x80", "not valid UTF-8: byte 0xed"},
		{"lone high surrogate", "", `\ud800`, `\ud800 at offset`},
		{"lone low surrogate", "", `\udc00`, `\udc00 at offset`},
		{"high surrogate then a letter", "", `\uD83D\u0041`, `\uD83D at offset`},
		{"high surrogate at the end", "", `x\ud83d`, "half a UTF-16 surrogate pair"},
		{"two high surrogates", "", `\ud83d\ud83d\ude00`, `\ud83d at offset`},
		{"reversed pair", "", `\ude00\ud83d`, `\ude00 at offset`},
	}
	for _, c := range strictCalls {
		for _, h := range hostile {
			t.Run(c.name+"/"+h.name, func(t *testing.T) {
				t.Parallel()
				body := c.body
				if h.in != "" {
					body = strings.NewReplacer("R", h.in, "M", h.in, "F", h.in, "E", h.in, "N", h.in).Replace(body)
				}
				cl := newClient(t, canned{status: 200, contentType: h.ctype, body: body}.server(t).URL, nil)
				empty, err := c.do(cl)
				if err == nil {
					t.Fatalf("accepted %q sent as %q", body, h.ctype)
				}
				if !empty {
					t.Errorf("a result with the error %v", err)
				}
				if !strings.Contains(err.Error(), h.want) || !strings.Contains(err.Error(), "HTTP 200 answer") {
					t.Errorf("error %q does not say %q", err, h.want)
				}
			})
		}
	}
	tolerated := []struct{ name, ctype, in string }{
		{"charset utf-8", "application/json; charset=utf-8", ""},
		{"charset UTF-8, quoted", `application/json; charset="UTF-8"`, ""},
		{"media type in capitals", "Application/JSON", ""},
		{"a surrogate pair", "", `\ud83d\ude00`},
		{"a pair in capitals", "", `\uD83D\uDE00`},
		{"an escaped backslash before u", "", `\\ud800`},
		{"an escaped backslash, then a pair", "", `\\\ud83d\ude00`},
		{"the replacement character itself", "", "\uFFFD and \\ufffd"},
		{"four-byte UTF-8", "", "😀"},
	}
	for _, c := range strictCalls {
		for _, tt := range tolerated {
			t.Run(c.name+"/tolerated/"+tt.name, func(t *testing.T) {
				t.Parallel()
				body := c.body
				if tt.in != "" {
					body = strings.NewReplacer("R", tt.in, "M", tt.in, "F", tt.in, "E", tt.in, "N", tt.in).Replace(body)
				}
				cl := newClient(t, canned{status: 200, contentType: tt.ctype, body: body}.server(t).URL, nil)
				if empty, err := c.do(cl); err != nil || (empty && c.name != "Health") {
					t.Fatalf("refused %q sent as %q: %v", body, tt.ctype, err)
				}
			})
		}
	}
}

// TestStrictErrorAnswers: an error answer is read as the service's error
// object only when it is declared application/json and is valid Unicode;
// otherwise the *Error keeps the status (so errors.Is still finds
// ErrUnauthorized for a 401) but has no code, and its message says why.
func TestStrictErrorAnswers(t *testing.T) {
	t.Parallel()
	const obj = `{"error":{"code":"invalid_request","message":"bad X"}}`
	tests := []struct {
		name, ctype, body string
		status            int
		code, message     string
	}{
		{"the service's", "", obj, 400, client.CodeInvalidRequest, "bad X"},
		{"with charset", "application/json; charset=utf-8", obj, 400, client.CodeInvalidRequest, "bad X"},
		{"as text/plain", "text/plain", obj, 400, "", "text/plain, starting"},
		{"without a type", noContentType, obj, 400, "", "no Content-Type, starting"},
		{"invalid UTF-8 in the message", "", strings.Replace(obj, "X", "\xff", 1), 400, "", "not valid UTF-8: byte 0xff"},
		{"invalid UTF-8 in the code", "", strings.Replace(obj, "invalid_request", "invalid_\xc3", 1), 400, "", "not valid UTF-8: byte 0xc3"},
		{"lone surrogate in the message", "", strings.Replace(obj, "X", `\udfff`, 1), 400, "", `\udfff at offset`},
		{"503 readiness as HTML", "text/html", `{"ready":false,"error":"x"}`, 503, "", "text/html, starting"},
		{"401 as text/plain", "text/plain", `{"error":{"code":"unauthorized","message":"m"}}`, 401, "", "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl := newClient(t, canned{status: tt.status, contentType: tt.ctype, body: tt.body}.server(t).URL, nil)
			for _, c := range strictCalls {
				empty, err := c.do(cl)
				var ce *client.Error
				if !errors.As(err, &ce) || !empty {
					t.Fatalf("%s: %v, want a *client.Error and no result", c.name, err)
				}
				if ce.Status != tt.status || ce.Code != tt.code || !strings.Contains(ce.Message, tt.message) {
					t.Errorf("%s: %+v, want status %d, code %q, a message saying %q", c.name, ce, tt.status, tt.code, tt.message)
				}
				if tt.status == 401 && !errors.Is(err, warden.ErrUnauthorized) {
					t.Errorf("%s: a 401 is not ErrUnauthorized: %v", c.name, err)
				}
				if strings.ContainsRune(err.Error(), '\uFFFD') && !strings.Contains(tt.body, "\uFFFD") {
					t.Errorf("%s: %q shows a replacement character", c.name, err)
				}
			}
		})
	}
}
