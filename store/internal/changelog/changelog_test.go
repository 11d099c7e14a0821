package changelog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/internal/changelog"
	"github.com/warden-authz/warden/types"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	changes := []store.Change{
		{Revision: 7, Index: 0, Op: store.OpAdd, Membership: &store.Membership{Member: "zoë", Group: "team:文書"}},
		{Revision: 7, Index: 3, Op: store.OpRemove, Membership: &store.Membership{Resource: `doc:"1"\`, Group: "folder:<a>&"}},
		{Revision: 7, Index: 9999, Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectDeny, Subject: "bob", Resource: "doc:1", Action: "edit"}},
	}
	b, err := changelog.Encode(changes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := changelog.Decode(7, 3, b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(changes, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
}

// Every row that is not what Encode writes is an error.
func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	m := `"membership":{"member":"alice","group":"team"}`
	for _, tc := range []struct {
		name, data string
		count      int
	}{
		{"empty", ``, 0},
		{"not an array", `{}`, 0},
		{"wrong count", `[{"index":0,"op":"add",` + m + `}]`, 2},
		{"unknown field", `[{"index":0,"op":"add","extra":1,` + m + `}]`, 1},
		{"unknown op", `[{"index":0,"op":"put",` + m + `}]`, 1},
		{"no op", `[{"index":0,` + m + `}]`, 1},
		{"pattern name", `[{"index":0,"op":"add","membership":{"member":"*","group":"team"}}]`, 1},
		{"both", `[{"index":0,"op":"add",` + m + `,"grant":{"rule":"r","effect":"allow","subject":"s","resource":"r","action":"a"}}]`, 1},
		{"neither", `[{"index":0,"op":"add"}]`, 1},
		{"bad effect", `[{"index":0,"op":"add","grant":{"rule":"r","effect":"maybe","subject":"s","resource":"r","action":"a"}}]`, 1},
		{"indexes out of order", `[{"index":1,"op":"add",` + m + `},{"index":1,"op":"remove",` + m + `}]`, 2},
		{"negative index", `[{"index":-1,"op":"add",` + m + `}]`, 1},
		{"index over the batch", `[{"index":10000,"op":"add",` + m + `}]`, 1},
		{"trailing data", `[] []`, 0},
		{"truncated", `[{"index":0,"op":"add",` + m, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := changelog.Decode(1, tc.count, []byte(tc.data)); err == nil {
				t.Fatalf("Decode(%s) = %v, want an error", tc.data, got)
			} else if !strings.Contains(err.Error(), "revision 1") {
				t.Errorf("error %q does not name the revision", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := changelog.Encode([]store.Change{{Index: 2, Op: store.OpAdd, Membership: &store.Membership{Member: "a", Group: "b"}}})
	f.Add(good, 1)
	f.Add([]byte(`[]`), 0)
	f.Fuzz(func(t *testing.T, data []byte, count int) {
		changes, err := changelog.Decode(3, count, data)
		if err != nil {
			return
		}
		// What decodes encodes back to what decodes the same.
		again, err := changelog.Encode(changes)
		if err != nil {
			t.Fatal(err)
		}
		back, err := changelog.Decode(3, count, again)
		if err != nil || !cmp.Equal(changes, back) {
			t.Fatalf("re-decoding %s: %v, %v", again, back, err)
		}
	})
}
