package wire

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// The runtime-data endpoints' JSON (SPEC 10.3–10.5): a batch of writes in,
// a revision out; pages of records and of changes. Decoding is as strict
// as for requests: unknown, repeated and null fields, wrong types and
// trailing data are errors that name where they are, because a lenient
// reader could write what the caller did not mean ("membershp" ignored
// and an empty batch committed).

// MaxDataBytes bounds a POST /v1/data body: store.MaxBatch writes of
// about 800 bytes each (five 128-byte names and the JSON around them).
const MaxDataBytes = 8 << 20

// Error codes of the data endpoints.
// MaxChangesWait bounds GET /v1/changes?wait=, so a watch holds a
// connection for a bounded time and reconnects.
const MaxChangesWait = 60 * time.Second

const (
	CodeConflict            = "conflict"             // 409: a role in a group (SPEC 10.2)
	CodeRevisionConflict    = "revision_conflict"    // 409: if_revision did not match
	CodeRevisionUnavailable = "revision_unavailable" // 503: at_least_revision not reached in time
	CodeStoreUnavailable    = "store_unavailable"    // 503: the store cannot be reached
	CodeForbidden           = "forbidden"            // 403: the data endpoints are off (no admin token configured)
)

var (
	batchKeys      = []string{"writes", "if_revision"}
	writeKeys      = []string{"op", "membership", "grant"}
	membershipKeys = []string{"member", "resource", "group"}
	grantKeys      = []string{"rule", "effect", "subject", "resource", "action"}
)

// DecodeDataBatch decodes a POST /v1/data body: {"writes": [...],
// "if_revision": N}. It checks the shape and that each write holds exactly
// one record (store.Write.Check, which also checks the names); a batch over
// store.MaxBatch writes is CodeBatchTooLarge, named before any write is
// read.
func DecodeDataBatch(data []byte) (store.Batch, *Error) {
	var b store.Batch
	if len(data) > MaxDataBytes {
		return b, Errorf(CodeTooLarge, "body is %d bytes, over the limit of %d", len(data), MaxDataBytes)
	}
	o, err := parseObject(data)
	if err != nil {
		return b, Errorf(CodeInvalidJSON, "%v", err)
	}
	if e := unknownKey(o, "", batchKeys); e != nil {
		return b, e
	}
	raw, ok := o.get("writes")
	if !ok {
		return b, Errorf(CodeInvalidRequest, `field "writes" is missing`)
	}
	items, err := parseArray(raw)
	if err != nil {
		return b, Errorf(CodeInvalidRequest, `field "writes": %v`, err)
	}
	if len(items) > store.MaxBatch {
		return b, Errorf(CodeBatchTooLarge, "%d writes, over the limit of %d a batch", len(items), store.MaxBatch)
	}
	if o.has("if_revision") {
		var r uint64
		o.field("if_revision", false, &r)
		if o.err != nil {
			return b, Errorf(CodeInvalidRequest, "%v", o.err)
		}
		b.IfRevision = &r
	}
	b.Writes = make([]store.Write, len(items))
	for i, item := range items {
		w, e := decodeWrite(item, fmt.Sprintf("writes[%d]", i))
		if e != nil {
			return store.Batch{}, e
		}
		b.Writes[i] = w
	}
	if err := b.Check(); err != nil {
		return store.Batch{}, Errorf(CodeInvalidRequest, "%v", err)
	}
	return b, nil
}

func decodeWrite(data []byte, where string) (store.Write, *Error) {
	var w store.Write
	o, err := members(data)
	if err != nil {
		return w, Errorf(CodeInvalidRequest, "%s: %v", where, err)
	}
	if e := unknownKey(o, where, writeKeys); e != nil {
		return w, e
	}
	var op string
	o.field("op", true, &op)
	if o.err != nil {
		return w, Errorf(CodeInvalidRequest, "%s: %v", where, o.err)
	}
	if err := w.Op.UnmarshalText([]byte(op)); err != nil {
		return w, Errorf(CodeInvalidRequest, "%s: %v", where, err)
	}
	if raw, ok := o.get("membership"); ok {
		m, e := decodeFields(raw, where+".membership", membershipKeys)
		if e != nil {
			return w, e
		}
		w.Membership = &store.Membership{Member: m["member"], Resource: m["resource"], Group: m["group"]}
	}
	if raw, ok := o.get("grant"); ok {
		g, e := decodeFields(raw, where+".grant", grantKeys)
		if e != nil {
			return w, e
		}
		w.Grant = &store.Grant{Rule: g["rule"], Subject: g["subject"], Resource: g["resource"], Action: g["action"]}
		if err := w.Grant.Effect.UnmarshalText([]byte(g["effect"])); err != nil || w.Grant.Effect == types.EffectNone {
			return w, Errorf(CodeInvalidRequest, "%s.grant: effect %q: want allow or deny", where, clip(g["effect"], 64))
		}
	}
	if err := w.Check(); err != nil {
		return w, Errorf(CodeInvalidRequest, "%s: %v", where, err)
	}
	return w, nil
}

// decodeFields reads an object of string fields, each of keys at most
// once and none other.
func decodeFields(data []byte, where string, keys []string) (map[string]string, *Error) {
	o, err := members(data)
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "%s: %v", where, err)
	}
	if e := unknownKey(o, where, keys); e != nil {
		return nil, e
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		var v string
		o.field(k, false, &v)
		if o.err != nil {
			return nil, Errorf(CodeInvalidRequest, "%s: %v", where, o.err)
		}
		out[k] = v
	}
	return out, nil
}

func unknownKey(o *object, where string, keys []string) *Error {
	for _, m := range o.members {
		if !slices.Contains(keys, m.key) {
			at := ""
			if where != "" {
				at = where + ": "
			}
			return Errorf(CodeInvalidRequest, "%sunknown field %q (want %s)", at, clip(m.key, 64), quoteKeys(keys))
		}
	}
	return nil
}

func quoteKeys(keys []string) string {
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += k
	}
	return out
}

// AppendDataBatch appends a batch as DecodeDataBatch reads it: the
// client's request body.
func AppendDataBatch(b []byte, batch store.Batch) []byte {
	b = append(b, `{"writes":[`...)
	for i, w := range batch.Writes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = AppendString(b, w.Op.String())
		b = appendRecord(b, w.Membership, w.Grant)
		b = append(b, '}')
	}
	b = append(b, ']')
	if batch.IfRevision != nil {
		b = append(b, `,"if_revision":`...)
		b = strconv.AppendUint(b, *batch.IfRevision, 10)
	}
	return append(b, '}')
}

// appendRecord appends ,"membership":{...} or ,"grant":{...}.
func appendRecord(b []byte, m *store.Membership, g *store.Grant) []byte {
	switch {
	case m != nil:
		b = append(b, `,"membership":{`...)
		if m.Member != "" {
			b = append(b, `"member":`...)
			b = AppendString(b, m.Member)
		} else {
			b = append(b, `"resource":`...)
			b = AppendString(b, m.Resource)
		}
		b = append(b, `,"group":`...)
		b = AppendString(b, m.Group)
		return append(b, '}')
	case g != nil:
		b = append(b, `,"grant":{"rule":`...)
		b = AppendString(b, g.Rule)
		b = append(b, `,"effect":`...)
		b = AppendString(b, g.Effect.String())
		b = append(b, `,"subject":`...)
		b = AppendString(b, g.Subject)
		b = append(b, `,"resource":`...)
		b = AppendString(b, g.Resource)
		b = append(b, `,"action":`...)
		b = AppendString(b, g.Action)
		return append(b, '}')
	}
	return b
}

// AppendRevision appends a write's answer: {"revision": R}.
func AppendRevision(b []byte, rev store.Revision) []byte {
	b = append(b, `{"revision":`...)
	b = strconv.AppendUint(b, rev, 10)
	return append(b, '}')
}

// AppendRecords appends a GET /v1/data page: {"records": [...], "next":
// CURSOR}, next omitted after the last page.
func AppendRecords(b []byte, recs []store.Record, next string) []byte {
	b = append(b, `{"records":[`...)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"added":`...)
		b = strconv.AppendUint(b, r.Added, 10)
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(r.Index), 10)
		b = appendRecord(b, r.Membership, r.Grant)
		b = append(b, '}')
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next":`...)
		b = AppendString(b, next)
	}
	return append(b, '}')
}

// AppendChanges appends a GET /v1/changes page: {"changes": [...],
// "revision": THROUGH}: every change of the revisions up to THROUGH; the
// next page starts after it (store.Store.Changes).
func AppendChanges(b []byte, changes []store.Change, through store.Revision) []byte {
	b = append(b, `{"changes":[`...)
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"revision":`...)
		b = strconv.AppendUint(b, c.Revision, 10)
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(c.Index), 10)
		b = append(b, `,"op":`...)
		b = AppendString(b, c.Op.String())
		b = appendRecord(b, c.Membership, c.Grant)
		b = append(b, '}')
	}
	b = append(b, `],"revision":`...)
	b = strconv.AppendUint(b, through, 10)
	return append(b, '}')
}

// DecodeRevision decodes a write's answer.
func DecodeRevision(data []byte) (store.Revision, error) {
	o, err := parseObject(data)
	if err != nil {
		return 0, err
	}
	var r uint64
	o.field("revision", true, &r)
	if o.err == nil && len(o.members) != 1 {
		o.err = errors.New("unknown fields beside revision")
	}
	if o.err != nil {
		return 0, fmt.Errorf("not a write's answer: %w", o.err)
	}
	return r, nil
}

// DecodeRecords decodes a GET /v1/data page.
func DecodeRecords(data []byte) ([]store.Record, string, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, "", err
	}
	if e := unknownKey(o, "", []string{"records", "next"}); e != nil {
		return nil, "", e
	}
	var next string
	o.field("next", false, &next)
	raw, ok := o.get("records")
	if o.err != nil || !ok {
		return nil, "", fmt.Errorf("not a page of records: %v", o.err)
	}
	items, err := parseArray(raw)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Record, len(items))
	for i, item := range items {
		io, err := members(item)
		if err != nil {
			return nil, "", fmt.Errorf("records[%d]: %w", i, err)
		}
		var r store.Record
		io.field("added", true, &r.Added)
		io.field("index", true, &r.Index)
		if io.err != nil {
			return nil, "", fmt.Errorf("records[%d]: %w", i, io.err)
		}
		w, e := decodeWrite(withOp(item), fmt.Sprintf("records[%d]", i))
		if e != nil {
			return nil, "", e
		}
		r.Membership, r.Grant = w.Membership, w.Grant
		out[i] = r
	}
	return out, next, nil
}

// DecodeChanges decodes a GET /v1/changes page.
func DecodeChanges(data []byte) ([]store.Change, store.Revision, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, 0, err
	}
	if e := unknownKey(o, "", []string{"changes", "revision"}); e != nil {
		return nil, 0, e
	}
	var through uint64
	o.field("revision", true, &through)
	raw, ok := o.get("changes")
	if o.err != nil || !ok {
		return nil, 0, fmt.Errorf("not a page of changes: %v", o.err)
	}
	items, err := parseArray(raw)
	if err != nil {
		return nil, 0, err
	}
	out := make([]store.Change, len(items))
	for i, item := range items {
		co, err := members(item)
		if err != nil {
			return nil, 0, fmt.Errorf("changes[%d]: %w", i, err)
		}
		var c store.Change
		co.field("revision", true, &c.Revision)
		co.field("index", true, &c.Index)
		if co.err != nil {
			return nil, 0, fmt.Errorf("changes[%d]: %w", i, co.err)
		}
		w, e := decodeWrite(stripKeys(item, "revision", "index"), fmt.Sprintf("changes[%d]", i))
		if e != nil {
			return nil, 0, e
		}
		c.Op, c.Membership, c.Grant = w.Op, w.Membership, w.Grant
		out[i] = c
	}
	return out, through, nil
}

// withOp rewrites a record object as an add write, for decodeWrite.
func withOp(item []byte) []byte {
	s := stripKeys(item, "added", "index")
	return append([]byte(`{"op":"add",`), s[1:]...)
}

// stripKeys rewrites an object without the given keys, for decodeWrite.
func stripKeys(item []byte, keys ...string) []byte {
	o, err := members(item)
	if err != nil {
		return item
	}
	b := []byte{'{'}
	first := true
	for _, m := range o.members {
		if slices.Contains(keys, m.key) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = AppendString(b, m.key)
		b = append(b, ':')
		b = append(b, m.val...)
	}
	return append(b, '}')
}
