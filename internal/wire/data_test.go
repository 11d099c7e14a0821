package wire_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

func sampleBatch() store.Batch {
	r := store.Revision(7)
	return store.Batch{IfRevision: &r, Writes: []store.Write{
		{Op: store.OpAdd, Membership: &store.Membership{Member: "alice", Group: "team:design"}},
		{Op: store.OpRemove, Membership: &store.Membership{Resource: "doc:42", Group: "folder:7"}},
		{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectDeny, Subject: "bob", Resource: "doc:\"42\"", Action: "edit"}},
	}}
}

// TestDataRoundTrip: every data shape reads back as written.
func TestDataRoundTrip(t *testing.T) {
	t.Parallel()
	b := sampleBatch()
	got, werr := wire.DecodeDataBatch(wire.AppendDataBatch(nil, b))
	if werr != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("batch: %+v, %v", got, werr)
	}
	if r, err := wire.DecodeRevision(wire.AppendRevision(nil, 1<<50)); err != nil || r != 1<<50 {
		t.Fatalf("revision: %d, %v", r, err)
	}
	recs := []store.Record{{Membership: b.Writes[0].Membership, Added: 3, Index: 1}, {Grant: b.Writes[2].Grant, Added: 4}}
	rr, next, err := wire.DecodeRecords(wire.AppendRecords(nil, recs, "4.0"))
	if err != nil || next != "4.0" || !reflect.DeepEqual(rr, recs) {
		t.Fatalf("records: %+v %q %v", rr, next, err)
	}
	if rr, next, err := wire.DecodeRecords(wire.AppendRecords(nil, nil, "")); err != nil || len(rr) != 0 || next != "" {
		t.Fatalf("empty page: %+v %q %v", rr, next, err)
	}
	changes := []store.Change{{Revision: 5, Index: 2, Op: store.OpRemove, Membership: b.Writes[1].Membership}, {Revision: 6, Op: store.OpAdd, Grant: b.Writes[2].Grant}}
	cc, through, err := wire.DecodeChanges(wire.AppendChanges(nil, changes, 9))
	if err != nil || through != 9 || !reflect.DeepEqual(cc, changes) {
		t.Fatalf("changes: %+v %d %v", cc, through, err)
	}
}

// TestDecodeDataBatchRefuses: hostile bodies are errors that name where
// they went wrong; none is half read.
func TestDecodeDataBatchRefuses(t *testing.T) {
	t.Parallel()
	m := `{"op":"add","membership":{"member":"alice","group":"g"}}`
	for _, tc := range []struct {
		name, in, code, msg string
	}{
		{"not JSON", `{"writes":`, wire.CodeInvalidJSON, ""},
		{"not an object", `[]`, wire.CodeInvalidJSON, "object"},
		{"trailing data", `{"writes":[]} {}`, wire.CodeInvalidJSON, ""},
		{"no writes", `{}`, wire.CodeInvalidRequest, `"writes" is missing`},
		{"writes not an array", `{"writes":{}}`, wire.CodeInvalidRequest, "array"},
		{"unknown field", `{"writes":[],"if_revison":1}`, wire.CodeInvalidRequest, "if_revison"},
		{"duplicate field", `{"writes":[],"writes":[]}`, wire.CodeInvalidJSON, "twice"},
		{"negative if_revision", `{"writes":[],"if_revision":-1}`, wire.CodeInvalidRequest, "if_revision"},
		{"fractional if_revision", `{"writes":[],"if_revision":1.5}`, wire.CodeInvalidRequest, "if_revision"},
		{"null if_revision", `{"writes":[],"if_revision":null}`, wire.CodeInvalidRequest, "null"},
		{"unknown op", `{"writes":[{"op":"upsert","membership":{"member":"a","group":"g"}}]}`, wire.CodeInvalidRequest, "writes[0]"},
		{"no op", `{"writes":[{"membership":{"member":"a","group":"g"}}]}`, wire.CodeInvalidRequest, `"op" is missing`},
		{"both records", `{"writes":[{"op":"add","membership":{"member":"a","group":"g"},"grant":{"rule":"r","effect":"allow","subject":"s","resource":"x","action":"y"}}]}`, wire.CodeInvalidRequest, "exactly one"},
		{"neither record", `{"writes":[{"op":"add"}]}`, wire.CodeInvalidRequest, "exactly one"},
		{"misspelt record", `{"writes":[{"op":"add","membershp":{"member":"a","group":"g"}}]}`, wire.CodeInvalidRequest, "membershp"},
		{"pattern member", `{"writes":[` + m + `,{"op":"add","membership":{"member":"a*","group":"g"}}]}`, wire.CodeInvalidRequest, "writes[1]"},
		{"alternatives group", `{"writes":[{"op":"add","membership":{"member":"a","group":"g,h"}}]}`, wire.CodeInvalidRequest, "pattern"},
		{"empty group", `{"writes":[{"op":"add","membership":{"member":"a","group":""}}]}`, wire.CodeInvalidRequest, "group"},
		{"member and resource", `{"writes":[{"op":"add","membership":{"member":"a","resource":"b","group":"g"}}]}`, wire.CodeInvalidRequest, "exactly one"},
		{"unknown membership field", `{"writes":[{"op":"add","membership":{"member":"a","group":"g","role":"x"}}]}`, wire.CodeInvalidRequest, "role"},
		{"member not a string", `{"writes":[{"op":"add","membership":{"member":7,"group":"g"}}]}`, wire.CodeInvalidRequest, "member"},
		{"grant effect none", `{"writes":[{"op":"add","grant":{"rule":"r","effect":"none","subject":"s","resource":"x","action":"y"}}]}`, wire.CodeInvalidRequest, "effect"},
		{"grant missing action", `{"writes":[{"op":"add","grant":{"rule":"r","effect":"allow","subject":"s","resource":"x"}}]}`, wire.CodeInvalidRequest, "action"},
		{"control character", `{"writes":[{"op":"add","membership":{"member":"a\u0000","group":"g"}}]}`, wire.CodeInvalidRequest, "member"},
		{"invalid UTF-8", "{\"writes\":[{\"op\":\"add\",\"membership\":{\"member\":\"a\xff\",\"group\":\"g\"}}]}", wire.CodeInvalidRequest, "member"},
		{"too many writes", `{"writes":[` + strings.Repeat(m+",", store.MaxBatch) + m + `]}`, wire.CodeBatchTooLarge, "10001 writes"},
		{"100,000 writes", `{"writes":[` + strings.Repeat(m+",", 99999) + m + `]}`, wire.CodeBatchTooLarge, "100000 writes"},
		{"over the byte limit", `{"writes":[` + strings.Repeat(" ", wire.MaxDataBytes) + `]}`, wire.CodeTooLarge, "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, werr := wire.DecodeDataBatch([]byte(tc.in))
			if werr == nil || werr.Code != tc.code || !strings.Contains(werr.Message, tc.msg) {
				t.Fatalf("DecodeDataBatch = %+v, %v; want %s saying %q", b, werr, tc.code, tc.msg)
			}
			if b.Writes != nil || b.IfRevision != nil {
				t.Fatalf("a refused batch came back partly read: %+v", b)
			}
		})
	}
}

// FuzzDecodeDataBatch: any input is decoded or refused, never a panic,
// and a decoded batch encodes back to a body that decodes the same.
func FuzzDecodeDataBatch(f *testing.F) {
	f.Add(string(wire.AppendDataBatch(nil, sampleBatch())))
	f.Add(`{"writes":[]}`)
	f.Add(`{"writes":[{"op":"remove","grant":{"rule":"r","effect":"allow","subject":"s","resource":"x","action":"y"}}],"if_revision":0}`)
	f.Fuzz(func(t *testing.T, in string) {
		b, werr := wire.DecodeDataBatch([]byte(in))
		if werr != nil {
			if werr.Code == "" || werr.Message == "" {
				t.Fatalf("an error without code or message: %+v", werr)
			}
			return
		}
		if err := b.Check(); err != nil {
			t.Fatalf("accepted a batch the store refuses: %v", err)
		}
		again, werr := wire.DecodeDataBatch(wire.AppendDataBatch(nil, b))
		if werr != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("re-encoding changed the batch: %+v, %v", again, werr)
		}
	})
}
