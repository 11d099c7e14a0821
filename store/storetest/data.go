package storetest

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// Write constructors: the suite's batches are built from these.

func addMember(member, group string) store.Write {
	return store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: member, Group: group}}
}

func removeMember(member, group string) store.Write {
	return store.Write{Op: store.OpRemove, Membership: &store.Membership{Member: member, Group: group}}
}

func addResource(resource, group string) store.Write {
	return store.Write{Op: store.OpAdd, Membership: &store.Membership{Resource: resource, Group: group}}
}

func removeResource(resource, group string) store.Write {
	return store.Write{Op: store.OpRemove, Membership: &store.Membership{Resource: resource, Group: group}}
}

func grant(op store.Op, rule string, effect types.Effect, subject, resource, action string) store.Write {
	return store.Write{Op: op, Grant: &store.Grant{Rule: rule, Effect: effect, Subject: subject, Resource: resource, Action: action}}
}

func addGrant(subject, resource, action string) store.Write {
	return grant(store.OpAdd, "rules.shares", types.EffectAllow, subject, resource, action)
}

func removeGrant(subject, resource, action string) store.Write {
	return grant(store.OpRemove, "rules.shares", types.EffectAllow, subject, resource, action)
}

func batch(ws ...store.Write) store.Batch { return store.Batch{Writes: ws} }

func ifRevision(r store.Revision, ws ...store.Write) store.Batch {
	return store.Batch{Writes: ws, IfRevision: &r}
}

// badNames are strings that are not literal names (SPEC 1.1–1.2): each
// must be refused in every field of every record, so data taken from
// user input can never become a pattern or pass for another name.
var badNames = []struct{ name, s string }{
	{"star", "*"},
	{"star-segment", "doc:*"},
	{"glob", "do*c"},
	{"comma", "a,b"},
	{"trailing-comma", "doc,"},
	{"empty", ""},
	{"empty-segment", "a::b"},
	{"leading-colon", ":a"},
	{"trailing-colon", "a:"},
	{"braces", "doc:{id}"},
	{"space", "a b"},
	{"leading-space", " alice"},
	{"tab", "a\tb"},
	{"newline", "alice\n"},
	{"nbsp", "a\u00a0b"},
	{"line-separator", "a\u2028b"},
	{"nul", "a\x00b"},
	{"escape", "a\x1b[31mb"},
	{"del", "a\x7f"},
	{"bidi-override", "a\u202eb"},
	{"zero-width-space", "a\u200bb"},
	{"hangul-filler", "\u3164"},
	{"replacement-char", "\ufffd"},
	{"invalid-utf8", "a\xffb"},
	{"truncated-utf8", "caf\xc3"},
	{"surrogate-utf8", "\xed\xa0\x80"},
	{"not-nfc", "cafe\u0301"},
	{"1025-bytes", strings.Repeat("a", 1025)},
	{"65-segments", strings.Repeat("a:", 64) + "a"},
}

// goodNames are valid names a store must keep byte for byte.
var goodNames = []struct{ name, s string }{
	{"email", "alice@example.com"},
	{"path", "/api/v1/users"},
	{"punctuation", "a_b-c.d~e#f$g%h!i+j=k"},
	{"unicode", "zoë:文書:ملف"},
	{"emoji", "team:🚀"},
	{"sql", "x');DROP-TABLE-t;--"},
	{"quotes", `"a'b"`},
	{"backslash", `a\b\\c`},
	{"like", "a%b_c"},
	{"1024-bytes", strings.Repeat("é", 511) + "ab"},
	{"64-segments", strings.Repeat("a:", 63) + "a"},
}

// hostileWrites are writes Write.Check refuses, by where they go wrong.
func hostileWrites() []struct {
	name string
	w    store.Write
} {
	var out []struct {
		name string
		w    store.Write
	}
	add := func(name string, w store.Write) {
		out = append(out, struct {
			name string
			w    store.Write
		}{name, w})
	}
	for _, b := range badNames {
		add("member/"+b.name, addMember(b.s, "team"))
		add("member-group/"+b.name, addMember("alice", b.s))
		add("resource/"+b.name, addResource(b.s, "folder"))
		add("resource-group/"+b.name, store.Write{Op: store.OpRemove, Membership: &store.Membership{Resource: "doc:1", Group: b.s}})
		add("grant-rule/"+b.name, grant(store.OpAdd, b.s, types.EffectAllow, "bob", "doc:1", "read"))
		add("grant-subject/"+b.name, grant(store.OpAdd, "rules.shares", types.EffectDeny, b.s, "doc:1", "read"))
		add("grant-resource/"+b.name, grant(store.OpRemove, "rules.shares", types.EffectAllow, "bob", b.s, "read"))
		add("grant-action/"+b.name, grant(store.OpAdd, "rules.shares", types.EffectAllow, "bob", "doc:1", b.s))
	}
	m := &store.Membership{Member: "alice", Group: "team"}
	g := &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: "bob", Resource: "doc:1", Action: "read"}
	add("op-zero", store.Write{Membership: m})
	add("op-unknown", store.Write{Op: 3, Membership: m})
	add("op-max", store.Write{Op: 255, Grant: g})
	add("both-membership-and-grant", store.Write{Op: store.OpAdd, Membership: m, Grant: g})
	add("neither-membership-nor-grant", store.Write{Op: store.OpAdd})
	add("membership-member-and-resource", store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: "alice", Resource: "doc:1", Group: "team"}})
	add("membership-only-group", store.Write{Op: store.OpAdd, Membership: &store.Membership{Group: "team"}})
	add("membership-empty", store.Write{Op: store.OpRemove, Membership: &store.Membership{}})
	add("grant-empty", store.Write{Op: store.OpAdd, Grant: &store.Grant{}})
	for _, e := range []types.Effect{types.EffectNone, 3, 255} {
		bad := *g
		bad.Effect = e
		add(fmt.Sprintf("effect-%d", e), store.Write{Op: store.OpAdd, Grant: &bad})
	}
	return out
}

// manyWrites returns n distinct valid adds, numbered from first.
func manyWrites(first, n int) []store.Write {
	ws := make([]store.Write, n)
	for i := range ws {
		k := first + i
		switch k % 3 {
		case 0:
			ws[i] = addMember(fmt.Sprintf("user%d", k), fmt.Sprintf("team%d", k%17))
		case 1:
			ws[i] = addResource(fmt.Sprintf("doc:%d", k), fmt.Sprintf("folder:%d", k%13))
		default:
			ws[i] = addGrant(fmt.Sprintf("user%d", k%29), fmt.Sprintf("doc:%d", k), []string{"read", "edit"}[k%2])
		}
	}
	return ws
}
