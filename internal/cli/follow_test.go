package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/store"
)

// TestChangesFollow: changes --follow prints the batches that commit
// while it follows, on a store and through a server, and stops cleanly
// when interrupted.
func TestChangesFollow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy, tokenFile := filepath.Join(dir, "policy.toml"), filepath.Join(dir, "token")
	for path, text := range map[string]string{policy: "[groups]\neditors = []\n", tokenFile: "admin-secret\n"} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := store.NewMemory()
	s, err := server.New(server.Config{PolicyPath: policy, Store: st, AdminToken: "admin-secret", StorePoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	waitFor(t, "the server to load the store", func() bool {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	sqlite := "sqlite:" + filepath.Join(dir, "data.db")
	for _, tc := range []struct {
		name  string
		args  []string
		write func(member string)
	}{
		{"store", []string{"--store", sqlite}, func(member string) {
			if r := runData(t, "data", "add", "--store", sqlite, "member", member, "editors"); r != 0 {
				t.Fatalf("data add: exit %d", r)
			}
		}},
		{"server", []string{"--server", srv.URL, "--token-file", tokenFile}, func(member string) {
			if _, err := st.Write(context.Background(), store.Batch{Writes: []store.Write{{Op: store.OpAdd, Membership: &store.Membership{Member: member, Group: "editors"}}}}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write("before")
			cmd := newChanges()
			cmd.SetArgs(append(tc.args, "--follow"))
			out := &lockedBuffer{}
			cmd.SetOut(out)
			cmd.SetErr(out)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			waitFor(t, "the first change", func() bool { return strings.Contains(out.String(), `"before"`) })
			tc.write("after1")
			tc.write("after2")
			waitFor(t, "the followed changes", func() bool { return strings.Contains(out.String(), `"after2"`) })
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("changes --follow did not stop when interrupted")
			}
			want := "1  add    member    \"before\" in \"editors\"\n2  add    member    \"after1\" in \"editors\"\n3  add    member    \"after2\" in \"editors\"\n"
			if out.String() != want {
				t.Errorf("printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}

// runData runs one command and returns its exit code.
func runData(t *testing.T, args ...string) int {
	t.Helper()
	return Run(args, nil, nil, nil)
}
