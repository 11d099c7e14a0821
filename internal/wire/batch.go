package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/types"
)

// MaxBatch is the most requests one batch may carry; a larger batch is
// refused whole with 413 batch_too_large. It bounds the work and memory
// one call can demand while leaving batches big enough that per-call
// overhead vanishes (at 1,000 it is already under 1%).
const MaxBatch = 10000

// MaxBatchBytes bounds a batch body: MaxBatch requests of about 3 KiB
// each. A single request is bounded by MaxRequestBytes.
const MaxBatchBytes = 32 << 20

// respBytes is what one request of a batch is reserved besides its
// context: its place in the slice of requests, its receipt, and its
// answer, a decision object with a long reason.
const respBytes = 384

// TooMuchMemory is the answer to a request whose decoded form is larger
// than the memory it could reserve.
func TooMuchMemory(used, budget int64) *Error {
	return Errorf(CodeTooLarge, "the request decodes to about %d bytes of memory, over the %d it may hold (--request-memory)", used, budget)
}

// EncodeBatch encodes {"requests":[...]} with EncodeRequest's rules; the
// error names the first request that cannot be sent.
func EncodeBatch(reqs []types.Request) ([]byte, error) {
	b := append(make([]byte, 0, 64*len(reqs)+16), `{"requests":[`...)
	for i, r := range reqs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = AppendRequest(b, r); err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
	}
	return append(b, `]}`...), nil
}

// AppendBatchItem appends the i-th item of a batch answer
// {"decisions":[...]}: the opening for i == 0, a comma before the others,
// then d's decision object, or e's error object when e is not nil.
// AppendBatchEnd closes the answer.
func AppendBatchItem(b []byte, i int, d *types.Decision, e *Error) []byte {
	if i == 0 {
		b = append(b, `{"decisions":[`...)
	} else {
		b = append(b, ',')
	}
	if e != nil {
		return AppendError(b, e)
	}
	return AppendDecision(b, d)
}

// AppendBatchEnd closes a batch answer of n items begun with
// AppendBatchItem, and ends the line.
func AppendBatchEnd(b []byte, n int) []byte {
	if n == 0 {
		b = append(b, `{"decisions":[`...)
	}
	return append(b, "]}\n"...)
}

// BatchItem is one item of a batch answer: a decision, or the error
// object of a request that decoded but named something invalid, in which
// case Decision is the zero Decision, which denies.
type BatchItem struct {
	Decision types.Decision
	Err      *Error
}

// DecodeBatchAnswer decodes {"decisions":[item,...]}, each item a
// decision or an error object, and checks there is one item per request:
// results must line up with the requests they answer.
func DecodeBatchAnswer(data []byte, n int) ([]BatchItem, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	raw, ok := o.get("decisions")
	switch {
	case !ok:
		return nil, errors.New(`field "decisions" is missing`)
	case string(raw) == "null":
		return nil, errors.New(`field "decisions" is null`)
	}
	items, err := parseArray(raw)
	if err != nil {
		return nil, fmt.Errorf(`field "decisions": %w`, err)
	}
	if len(items) != n {
		return nil, fmt.Errorf("%d decisions for %d requests", len(items), n)
	}
	out := make([]BatchItem, n)
	item := &object{}
	for i, raw := range items {
		if err := item.split(raw); err != nil {
			return nil, fmt.Errorf("decision %d: %w", i, err)
		}
		if item.has("error") {
			if item.has("allowed") {
				return nil, fmt.Errorf("decision %d: both a decision and an error object", i)
			}
			if out[i].Err, err = item.errorObject(); err != nil {
				return nil, fmt.Errorf("decision %d: %w", i, err)
			}
			continue
		}
		if out[i].Decision, err = item.decision(); err != nil {
			return nil, fmt.Errorf("decision %d: %w", i, err)
		}
	}
	return out, nil
}

// BatchError is a failure of a whole batch, with the HTTP status it gets.
type BatchError struct {
	Status int
	Err    *Error
}

// DecodeBatch reads {"requests": [request, ...]} with the same strictness
// as a single request: an unknown or duplicated field, a wrong type or any
// malformed JSON fails the whole batch. It stops reading at max+1
// requests, so an oversized batch costs no more than a full one. Each
// request is decoded with DecodeRequest's semantics; a request that
// does not decode fails the batch too (its index is in the message),
// because it says the client is broken. Only requests that decode but
// name something invalid are answered one by one, with an error item.
//
// budget is the memory the decoded requests may take beyond the body: the
// contexts as audit.EventSize counts them, and respBytes per request for
// its answer. A batch that needs more fails whole with 413, so a batch of
// many contexts cannot decode to many times its size.
func DecodeBatch(s string, max int, reqs []types.Request, budget int64) ([]types.Request, *BatchError) {
	fail := func(status int, code, format string, args ...any) ([]types.Request, *BatchError) {
		return reqs, &BatchError{status, Errorf(code, format, args...)}
	}
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		if i < len(s) && json.Valid([]byte(s)) {
			return fail(400, CodeInvalidRequest, "a batch must be a JSON object {\"requests\": [...]}")
		}
		return fail(400, CodeInvalidJSON, "%s", syntaxMessage(s))
	}
	i = skipWS(s, i+1)
	seen := false
	if i < len(s) && s[i] == '}' {
		return fail(400, CodeInvalidRequest, "missing field \"requests\"")
	}
	for {
		key, j, kerr := readKey(s, i)
		if kerr != nil {
			return reqs, kerr
		}
		if key != "requests" {
			return fail(400, CodeInvalidRequest, "unknown field %q (want requests)", pattern.Shorten(key))
		}
		if seen {
			return fail(400, CodeInvalidRequest, "field \"requests\" appears twice")
		}
		seen = true
		j = skipWS(s, j)
		if j >= len(s) || s[j] != ':' {
			return fail(400, CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		j = skipWS(s, j+1)
		if j >= len(s) || s[j] != '[' {
			if strings.HasPrefix(s[j:], "null") {
				return fail(400, CodeInvalidRequest, "field \"requests\" is null")
			}
			if json.Valid([]byte(s)) {
				return fail(400, CodeInvalidRequest, "field \"requests\": want an array of requests")
			}
			return fail(400, CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		var berr *BatchError
		if reqs, i, berr = decodeRequests(s, skipWS(s, j+1), max, reqs, budget); berr != nil {
			return reqs, berr
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return fail(400, CodeInvalidJSON, "unexpected end of JSON")
		}
		if s[i] == ',' {
			i = skipWS(s, i+1)
			continue
		}
		if s[i] != '}' {
			return fail(400, CodeInvalidJSON, "%s", syntaxMessage(s))
		}
		if skipWS(s, i+1) != len(s) {
			return fail(400, CodeInvalidJSON, "unexpected data after the batch object")
		}
		if len(reqs) == 0 {
			return fail(400, CodeInvalidRequest, "the batch has no requests")
		}
		return reqs, nil
	}
}

// decodeRequests reads the elements of the requests array, s[i] being the
// first byte after '['; it returns the index past the closing ']'.
func decodeRequests(s string, i, max int, reqs []types.Request, budget int64) ([]types.Request, int, *BatchError) {
	if i < len(s) && s[i] == ']' {
		return reqs, i + 1, nil
	}
	left := budget
	for {
		if len(reqs) == max {
			return reqs, 0, &BatchError{413, Errorf(CodeBatchTooLarge, "a batch holds at most %d requests", max)}
		}
		req, end, ok := scanRequest(s, i)
		if !ok {
			// Let encoding/json find where this element ends, validating
			// it, then give it to the definition of a request.
			dec := json.NewDecoder(strings.NewReader(s[i:]))
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return reqs, 0, &BatchError{400, Errorf(CodeInvalidJSON, "requests[%d]: %s", len(reqs), syntaxMessage(s))}
			}
			end = i + int(dec.InputOffset())
			var werr *Error
			if req, werr = decodeStrict(raw); werr != nil {
				status := 400
				if werr.Code == CodeTooLarge {
					status = 413
				}
				werr.Message = fmt.Sprintf("requests[%d]: %s", len(reqs), werr.Message)
				return reqs, 0, &BatchError{status, werr}
			}
			if req.Context != nil {
				left -= audit.EventSize(&audit.Event{Fields: req.Context})
			}
		}
		if left -= respBytes; left < 0 {
			return reqs, 0, &BatchError{413, TooMuchMemory(budget-left, budget)}
		}
		reqs = append(reqs, req)
		i = skipWS(s, end)
		if i >= len(s) {
			return reqs, 0, &BatchError{400, Errorf(CodeInvalidJSON, "unexpected end of JSON")}
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case ']':
			return reqs, i + 1, nil
		default:
			return reqs, 0, &BatchError{400, Errorf(CodeInvalidJSON, "%s", syntaxMessage(s))}
		}
	}
}

// readKey reads an object key at s[i], decoding escapes exactly as
// encoding/json does.
func readKey(s string, i int) (string, int, *BatchError) {
	if key, j, ok := scanPlainString(s, i); ok {
		return key, j, nil
	}
	if i < len(s) && s[i] == '"' {
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		var key string
		if err := dec.Decode(&key); err == nil {
			return key, i + int(dec.InputOffset()), nil
		}
	}
	return "", 0, &BatchError{400, Errorf(CodeInvalidJSON, "%s", syntaxMessage(s))}
}

// syntaxMessage words what is wrong with JSON text, as encoding/json sees
// it. It runs only on the error path.
func syntaxMessage(s string) string {
	var v any
	err := json.Unmarshal([]byte(s), &v)
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return "malformed batch"
	case errors.As(err, &syn):
		return fmt.Sprintf("%v (at byte %d)", err, syn.Offset)
	}
	return err.Error()
}
