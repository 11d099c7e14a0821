package jsonl_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
)

const writeFailEnv = "JSONL_WRITEFAIL_PATH"

// TestWriteFailChild is the child of TestWriteFailUndone. A file size
// limit (RLIMIT_FSIZE) makes a write fail part way, as a full disk
// would; it is set in a child because it binds the whole process.
func TestWriteFailChild(t *testing.T) {
	path := os.Getenv(writeFailEnv)
	if path == "" {
		t.Skip("run by TestWriteFailUndone")
	}
	f := open(t, path)
	first := event(t, "first")
	if err := f.Record(t.Context(), &first); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// Room for one more small event, not for a batch.
	limit := syscall.Rlimit{Cur: uint64(st.Size()) + 1000, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	batch := make([]audit.Event, 50)
	for i := range batch {
		batch[i] = event(t, "lost")
	}
	if err := f.WriteBatch(t.Context(), batch); err == nil {
		t.Fatal("WriteBatch past the file size limit succeeded")
	} else {
		t.Logf("WriteBatch: %v", err)
	}
	if after, err := os.Stat(path); err != nil || after.Size() != st.Size() {
		t.Fatalf("after the failed write the file has %d bytes, want %d (%v)", after.Size(), st.Size(), err)
	}
	second := event(t, "second")
	if err := f.Record(t.Context(), &second); err != nil {
		t.Fatalf("Record after an undone failure: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteBatch(t.Context(), batch); err != nil {
		t.Fatalf("WriteBatch once there is room: %v", err)
	}
	// By id: first, the batch (made before second), second.
	want := "first " + strings.Repeat("lost ", 50) + "second"
	if got := subjects(all(t, f)); got != want {
		t.Fatalf("after the failure the file holds %q, want %q", got, want)
	}
	f.Close()
	if g, err := jsonl.Open(path); err != nil || g.Recovered() != 0 {
		t.Fatalf("reopen: recovered %d, %v", g.Recovered(), err)
	} else {
		g.Close()
	}
}

// A write that fails part way is cut back, so no torn line is left in the
// middle, and the file goes on accepting writes.
func TestWriteFailUndone(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFailChild$", "-test.v")
	cmd.Env = append(os.Environ(), writeFailEnv+"="+tempPath(t))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWriteFailChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "WriteBatch:") {
			t.Log(strings.TrimSpace(line))
		}
	}
}
