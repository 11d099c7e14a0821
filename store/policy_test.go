package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/store"
)

// TestMemoryPolicies: publish, history newest first, rollback as a new
// entry, and waiting for the next version.
func TestMemoryPolicies(t *testing.T) {
	t.Parallel()
	m := store.NewMemory()
	ctx := context.Background()
	if _, err := m.CurrentPolicy(ctx); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("empty store: %v", err)
	}
	for _, bad := range []store.PolicyVersion{{}, {Version: "v"}, {Text: []byte("x")}, {Version: "v", Text: make([]byte, store.MaxPolicyBytes+1)}} {
		if _, err := m.Publish(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Publish(%q, %d bytes): %v", bad.Version, len(bad.Text), err)
		}
	}
	v1, err := m.Publish(ctx, store.PolicyVersion{Version: "sha256:1", Name: "p.toml", Text: []byte("one")})
	if err != nil || v1.Seq != 1 {
		t.Fatalf("first publish: %+v %v", v1, err)
	}
	waited := make(chan uint64, 1)
	go func() {
		seq, _ := m.WaitPolicy(ctx, 1)
		waited <- seq
	}()
	v2, _ := m.Publish(ctx, store.PolicyVersion{Version: "sha256:2", Name: "p.toml", Text: []byte("two")})
	select {
	case seq := <-waited:
		if seq != 2 {
			t.Errorf("WaitPolicy returned %d", seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitPolicy did not wake")
	}
	r, err := m.Rollback(ctx, "sha256:1")
	if err != nil || r.Seq != 3 || r.RollbackOf != 1 || r.Version != "sha256:1" {
		t.Fatalf("rollback: %+v %v", r, err)
	}
	cur, _ := m.CurrentPolicy(ctx)
	if cur.Version != "sha256:1" || string(cur.Text) != "one" {
		t.Fatalf("current after rollback: %+v", cur)
	}
	h, _ := m.PolicyHistory(ctx, 10)
	if len(h) != 3 || h[0].Seq != 3 || h[2].Seq != 1 || h[1].Version != v2.Version || h[0].Text != nil {
		t.Fatalf("history: %+v", h)
	}
	if _, err := m.Rollback(ctx, "sha256:nope"); !errors.Is(err, store.ErrNoPolicy) {
		t.Errorf("rollback to an unknown version: %v", err)
	}
	m.Close()
	if _, err := m.CurrentPolicy(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestPolicyVersionCheck: each refusal says which field is wrong and
// how, so an operator can fix the file or the call.
func TestPolicyVersionCheck(t *testing.T) {
	t.Parallel()
	ok := store.PolicyVersion{Version: "sha256:0123456789abcdef", Name: "/etc/warden/policy.toml", Text: []byte("[rules]\n")}
	if err := ok.Check(); err != nil {
		t.Fatalf("a valid version: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*store.PolicyVersion)
		want string
	}{
		{"no version", func(v *store.PolicyVersion) { v.Version = "" }, "no version"},
		{"space in the version", func(v *store.PolicyVersion) { v.Version = "sha256 1" }, "byte 6 is 0x20"},
		{"NUL in the version", func(v *store.PolicyVersion) { v.Version = "sha256:\x00" }, "byte 7 is 0x0"},
		{"long version", func(v *store.PolicyVersion) { v.Version = strings.Repeat("a", 129) }, "129 bytes, over the limit of 128"},
		{"NUL in the name", func(v *store.PolicyVersion) { v.Name = "p\x00.toml" }, "control character U+0000 at byte 1"},
		{"newline in the name", func(v *store.PolicyVersion) { v.Name = "p.toml\nx" }, "control character U+000A at byte 6"},
		{"invalid UTF-8 name", func(v *store.PolicyVersion) { v.Name = "\xff.toml" }, "not valid UTF-8"},
		{"long name", func(v *store.PolicyVersion) { v.Name = strings.Repeat("n", 4097) }, "name of 4097 bytes, over the limit of 4096"},
		{"no text", func(v *store.PolicyVersion) { v.Text = nil }, "no text"},
		{"long text", func(v *store.PolicyVersion) { v.Text = make([]byte, store.MaxPolicyBytes+1) }, "16777217 bytes, over the limit of 16777216"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := ok
			tc.edit(&v)
			err := v.Check()
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v; want store.ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}
