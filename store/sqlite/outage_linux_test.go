package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
)

const outageEnv = "WARDEN_STORE_SQLITE_OUTAGE"

// TestDiskOutage takes the disk away from under the store, as a full
// disk would, and brings it back. A file size limit (RLIMIT_FSIZE) makes
// every write past the files' current sizes fail, whoever the user
// (tests run as root, who may write read-only files); it binds the whole
// process, so the store runs in a child.
func TestDiskOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskOutageChild$", "-test.v")
	cmd.Env = append(os.Environ(), outageEnv+"="+filepath.Join(t.TempDir(), "data.db"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDiskOutageChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestDiskOutageChild is the child of TestDiskOutage.
func TestDiskOutageChild(t *testing.T) {
	path := os.Getenv(outageEnv)
	if path == "" {
		t.Skip("run by TestDiskOutage")
	}
	ctx := context.Background()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := func(tag string) store.Batch {
		var ws []store.Write
		for i := range 3000 {
			ws = append(ws, member(store.OpAdd, fmt.Sprintf("%s-user-with-a-long-name-%d", tag, i), "team"))
		}
		return store.Batch{Writes: ws}
	}
	write(t, s, big("before").Writes...)

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	var largest int64
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			largest = max(largest, st.Size())
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(largest), Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Write(ctx, big("during"))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Write with the disk full = %v; want store.ErrUnavailable", err)
	}
	t.Logf("outage: %v", err)
	text := []byte(strings.Repeat("# a policy file of a megabyte\n", 1<<20/30))
	if _, err := s.Publish(ctx, store.PolicyVersion{Version: "sha256:during", Name: "policy.toml", Text: text}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Publish with the disk full = %v; want store.ErrUnavailable", err)
	}
	if r, err := s.Revision(ctx); err != nil || r != 1 {
		t.Errorf("Revision during the outage = %d, %v; want 1, still readable", r, err)
	}

	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if r := write(t, s, big("after").Writes...); r != 2 {
		t.Fatalf("the first write once the disk is back got revision %d, want 2: the failed one must change nothing", r)
	}
	recs, _, err := s.List(ctx, store.Filter{Member: "during-user-with-a-long-name-0"})
	if err != nil || len(recs) != 0 {
		t.Fatalf("the refused batch is stored: %v, %v", recs, err)
	}
	changes, through, err := s.Changes(ctx, 1, store.MaxLimit)
	if err != nil || through != 2 || len(changes) != 3000 {
		t.Fatalf("Changes(1) = %d changes through %d, %v; want revision 2's 3000", len(changes), through, err)
	}
	if v, err := s.Publish(ctx, store.PolicyVersion{Version: "sha256:after", Name: "policy.toml", Text: text}); err != nil || v.Seq != 1 {
		t.Fatalf("the first publish once the disk is back = %+v, %v; want Seq 1: the failed one must change nothing", v, err)
	}
}
