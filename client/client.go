// Package client is the Go client of warden's HTTP decision service,
// `warden serve` (SPEC 9.2, 9.3).
//
//	c, err := client.New("https://warden.internal:8443", &client.Options{Token: token})
//	if err != nil {
//		return err
//	}
//	d, err := c.Check(ctx, warden.Request{Subject: "alice", Resource: "articles:animals:42", Action: "articles:update"})
//	if err != nil {
//		return err // no decision: the service could not be asked, or did not answer properly
//	}
//	if !d.Allowed {
//		return errDenied // d.Reason says why
//	}
//
// CheckBatch decides up to MaxBatch requests in one round trip, with one
// Result per request; Audit reads a page of the service's audit log and
// AuditAll every page of it; Ready and Health answer what a deployment's
// probes ask. Each call maps to one endpoint of the HTTP contract (SPEC
// 9.2, 9.3), named in its doc and in its errors.
//
// # Failing closed
//
// A denial is an answer, not an error: Check returns a nil error and a
// Decision whose Allowed is false. Every failure (the network, a status
// other than 200, a body that is not exactly a decision) returns a non-nil
// error and the zero Decision, which denies, so a caller that looks only
// at Allowed still fails closed.
//
// Answers are decoded strictly enough to tell a decision from anything
// else that might arrive in its place, such as a proxy's error page or an
// error object sent with status 200. An answer must be declared
// application/json (a charset, if given, must be utf-8), and must be valid
// Unicode throughout: invalid UTF-8, or a \u escape of half a UTF-16
// surrogate pair, anywhere in it, even in a field the client ignores, is
// refused rather than read with U+FFFD in place of what was sent. An
// error answer that fails these checks keeps its status but not its code
// or message, which are then not the service's. "allowed", "effect", "reason" and
// "policy_version" must be present with their types, a field may appear
// only once (two JSON parsers can disagree on which copy counts), names
// are matched exactly (encoding/json alone would take "Allowed" for
// "allowed"), and an allowed decision must not carry the deny effect.
// Fields the client does not know are ignored, so a newer service can add
// fields without breaking older clients.
//
// # Errors
//
// An error answer from the service is a *Error carrying the HTTP status
// and the error object's code and message; errors.As finds it in the
// error a method returns. errors.Is reports warden.ErrInvalidRequest for
// the code invalid_request, warden.ErrUnauthorized for 401,
// warden.ErrNoPolicy for no_policy, and ErrBatchTooLarge for
// batch_too_large, so code written against the warden package's sentinels
// works unchanged against the service.
//
// # Limits
//
// The client reads at most MaxDecisionBytes of a decision, readiness or
// health answer, MaxListBytes of a batch or audit answer, and
// MaxErrorBytes of an error answer; a longer answer is an error, never
// truncated into something that parses. A batch holds at most MaxBatch
// requests, the service's own limit, checked before anything is sent.
//
// A Client is safe for concurrent use and should be reused: it keeps
// connections to the service alive.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/wire"
)

// Response size limits. An answer longer than its limit is an error: the
// limits keep a misbehaving service or a proxy in between from exhausting
// the caller's memory.
const (
	// MaxDecisionBytes bounds one decision, and the /readyz and /healthz
	// answers. A decision is a few hundred bytes; names are at most 1 KiB.
	MaxDecisionBytes = 1 << 20
	// MaxListBytes bounds a batch answer and an audit page. 10,000
	// decisions of ordinary names take about 2 MiB; a batch of very long
	// names may not fit, and should be split. An audit page that does not
	// fit should be asked for with a smaller audit.Query.Limit.
	MaxListBytes = 8 << 20
	// MaxErrorBytes bounds an error answer. The error object is small;
	// anything longer is a proxy's page, of which only the start matters.
	MaxErrorBytes = 64 << 10
)

// MaxBatch is the most requests one CheckBatch may send: the service
// answers a longer batch with 413 batch_too_large, so the client refuses it
// before sending it.
const MaxBatch = wire.MaxBatch

// DefaultTimeout bounds a whole call, including reading the answer, when
// Options.HTTPClient is nil. A context deadline bounds each call further.
const DefaultTimeout = 10 * time.Second

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "warden-client"

// Options configure a Client. A nil *Options, and the zero Options, mean
// no token, the default HTTP client and the default User-Agent.
type Options struct {
	// Token is sent with every request as "Authorization: Bearer TOKEN",
	// which `warden serve` requires on /v1/ when it has a token. It never
	// appears in an error, nor when a Client or Options is printed.
	Token string
	// HTTPClient sends the requests. nil means a client of the Client's
	// own, with DefaultTimeout, connections kept alive (up to 64 idle per
	// host, for concurrent callers) and redirects refused: the service
	// never redirects, and following a redirect would carry the token to
	// wherever it points. A client of your own should refuse them too
	// (CheckRedirect), and should have a timeout: the service's answer is
	// read in full before a call returns.
	HTTPClient *http.Client
	// UserAgent names the caller in the service's logs; empty means
	// DefaultUserAgent.
	UserAgent string
}

// Client asks one warden service for decisions. It is safe for concurrent
// use. The zero Client has no service and every call fails; use New.
type Client struct {
	base      string // scheme://host/prefix, without a trailing slash
	auth      string // "Bearer TOKEN", or empty
	userAgent string
	hc        *http.Client
}

// Paths of the service's endpoints (see the HTTP contract).
const (
	pathCheck  = "/v1/check"
	pathBatch  = "/v1/check/batch"
	pathAudit  = "/v1/audit"
	pathHealth = "/healthz"
	pathReady  = "/readyz"
)

// New returns a client of the service at baseURL, such as
// "https://warden.internal:8443". baseURL must be http or https and name a
// host; it may have a path prefix, for a service behind a proxy that
// mounts it there, but no query, fragment or user info (the credential
// belongs in Options.Token, where it cannot leak into an error).
func New(baseURL string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		// The url.Error would repeat the whole URL, user info included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("client: base URL %q: scheme %q (want http or https)", u.Redacted(), u.Scheme)
	case u.Opaque != "" || u.Host == "":
		return nil, fmt.Errorf("client: base URL %q: no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("client: base URL %q: user info is not allowed (pass the token in Options.Token)", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("client: base URL %q: a query is not allowed", u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("client: base URL %q: a fragment is not allowed", u.Redacted())
	}
	if err := checkToken(opts.Token); err != nil {
		return nil, err
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		userAgent: opts.UserAgent,
		hc:        opts.HTTPClient,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if opts.Token != "" {
		c.auth = "Bearer " + opts.Token
	}
	return c, nil
}

// checkToken refuses a token that cannot travel in a header unchanged:
// net/http would refuse it on every call, and a newline would split the
// header. The message never repeats the token.
func checkToken(tok string) error {
	for i := 0; i < len(tok); i++ {
		if b := tok[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("client: token has a space, control or non-ASCII byte at offset %d (want a bearer token of visible ASCII)", i)
		}
	}
	return nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The default keeps 2 idle connections per host, so concurrent
	// callers would open and close a connection per decision.
	t.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout:   DefaultTimeout,
		Transport: t,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("redirected to %s, not followed: warden serve never redirects, and following it could carry the token elsewhere", req.URL.Redacted())
		},
	}
}

// String describes the client without its token, so logging a Client, or
// a struct holding one, never leaks the credential. It has a value
// receiver so that printing *c is covered too.
func (c Client) String() string {
	tok := "no token"
	if c.auth != "" {
		tok = "token set"
	}
	return fmt.Sprintf("client.Client(%s, %s)", c.base, tok)
}

// GoString is String, so that %#v does not print the token either.
func (c Client) GoString() string { return c.String() }

// String describes the options without the token, for the same reason.
func (o Options) String() string {
	tok := "no token"
	if o.Token != "" {
		tok = "token set"
	}
	return fmt.Sprintf("client.Options(%s, HTTPClient %p, UserAgent %q)", tok, o.HTTPClient, o.UserAgent)
}

// GoString is String, so that %#v does not print the token either.
func (o Options) GoString() string { return o.String() }

// answer is a response read within its limit.
type answer struct {
	status      int
	contentType string
	body        []byte
}

// do sends one request and reads its answer. A status in ok is read with
// limit and returned; any other status is read with MaxErrorBytes and
// returned as a *Error. The error names the method and path.
func (c *Client) do(ctx context.Context, method, rawURL, where string, body []byte, limit int64, ok ...int) (answer, error) {
	if c == nil || c.hc == nil {
		return answer{}, fmt.Errorf("client: %s: the Client was not made with New", where)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return answer{}, fmt.Errorf("client: %s: %w", where, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("client: %s: %w", where, err)
	}
	// Every path below reads the body to its end, which lets the
	// connection be reused, or gives up on it: an answer over its limit
	// is not worth the wait, and closing it early drops the connection.
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	isOK := false
	for _, s := range ok {
		isOK = isOK || s == resp.StatusCode
	}
	if !isOK {
		// The start of an error body is what says something: a read
		// error, or a longer body, only shortens what the *Error quotes.
		a.body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxErrorBytes))
		return a, fmt.Errorf("client: %s: %w", where, errorFrom(a))
	}
	a.body, err = readLimited(resp.Body, resp.ContentLength, limit)
	if err != nil {
		return answer{}, fmt.Errorf("client: %s: HTTP %d answer: %w", where, resp.StatusCode, err)
	}
	if err := a.check(); err != nil {
		if a.status != http.StatusOK {
			// A 503 readiness answer that is not one: a proxy's page.
			return answer{}, fmt.Errorf("client: %s: %w", where, errorFrom(a))
		}
		return answer{}, fmt.Errorf("client: %s: HTTP %d answer: %w", where, a.status, err)
	}
	return a, nil
}

// check refuses an answer that is not declared as JSON, or holds text
// that is not valid Unicode. The service declares every answer
// application/json, so anything else came from something in between (a
// proxy, a captive portal) and is not to be read as an answer even when
// it parses. Invalid UTF-8, or a \u escape of half a UTF-16 surrogate
// pair, would be decoded as U+FFFD, silently changing a reason, a rule, a
// name or a message from what the service sent.
func (a answer) check() error {
	if err := checkMediaType(a.contentType); err != nil {
		return err
	}
	return checkText(a.body)
}

// checkMediaType accepts application/json, with at most a charset
// parameter of utf-8, JSON's only encoding (RFC 8259).
func checkMediaType(ct string) error {
	switch ct {
	case "":
		return errors.New("no Content-Type (want application/json)")
	case "application/json", "application/json; charset=utf-8":
		return nil // what warden serve sends, without parsing
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("Content-Type %q (want application/json)", clip(ct, 64))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("Content-Type %q: charset %q (want utf-8, or none)", clip(ct, 64), clip(cs, 32))
	}
	return nil
}

// checkText refuses bytes that are not UTF-8, and \u escapes of a lone
// UTF-16 surrogate, anywhere in data, naming the offset. Both would
// decode as U+FFFD. It runs before the JSON is parsed, so a backslash is
// taken as an escape wherever it is: outside a string it makes the JSON
// invalid anyway.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return fmt.Errorf("the answer is not valid UTF-8: byte 0x%02x at offset %d", data[i], i)
			}
			i += size
		}
	}
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			return nil
		}
		i += j
		if i+1 >= len(data) || data[i+1] != 'u' {
			i += 2 // an escape of one character, \\ included
			continue
		}
		r, ok := hexRune(data[i+2:])
		switch {
		case !ok:
			i += 2 // not an escape JSON allows; parsing says so
		case utf16.IsSurrogate(r) && r < 0xdc00:
			// A high surrogate must be followed by a low one.
			if len(data) >= i+12 && data[i+6] == '\\' && data[i+7] == 'u' {
				if r2, ok := hexRune(data[i+8:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
					i += 12
					continue
				}
			}
			return fmt.Errorf("the answer is not valid Unicode: %s at offset %d is half a UTF-16 surrogate pair", data[i:i+6], i)
		case utf16.IsSurrogate(r):
			return fmt.Errorf("the answer is not valid Unicode: %s at offset %d is half a UTF-16 surrogate pair", data[i:i+6], i)
		default:
			i += 6
		}
	}
	return nil
}

// hexRune reads the four hex digits of a \u escape, if they are there.
func hexRune(h []byte) (rune, bool) {
	if len(h) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// errTooLong reports an answer over its limit.
type errTooLong struct{ limit int64 }

func (e errTooLong) Error() string {
	return fmt.Sprintf("the answer is longer than the client's limit of %d bytes", e.limit)
}

// readLimited reads r to its end, or fails once it passes limit bytes,
// and at once, reading nothing, when the declared length already does. On
// failure it returns what it read, at most limit bytes.
func readLimited(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared > limit {
		return nil, errTooLong{limit}
	}
	var buf bytes.Buffer
	if declared > 0 {
		// One allocation of the right size, rather than doubling up to
		// it; ReadFrom wants room for a final empty read.
		buf.Grow(int(declared) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return b[:limit], errTooLong{limit}
	}
	if err != nil {
		return b, fmt.Errorf("reading the answer: %w", err)
	}
	return b, nil
}

// mediaType is the answer's media type, for messages.
func (a answer) mediaType() string {
	if a.contentType == "" {
		return "no Content-Type"
	}
	mt, _, err := mime.ParseMediaType(a.contentType)
	if err != nil {
		return fmt.Sprintf("Content-Type %q", clip(a.contentType, 64))
	}
	return mt
}
