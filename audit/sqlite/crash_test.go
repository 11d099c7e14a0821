package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/sqlite"
)

// helperEnv names the database a helper process writes to; the test binary
// re-executed with it set becomes that process (TestHelperProcess).
const helperEnv = "WARDEN_AUDIT_SQLITE_CRASH_HELPER"

// crashBatch is the helper's batch size.
const crashBatch = 200

// TestHelperProcess is not a test: run by TestCrashKeepsAcknowledged in a
// child process, it writes batches until it is killed, printing "ack ID"
// with each batch's last id once WriteBatch has returned nil.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // an ordinary test run
	}
	s, err := sqlite.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	// Stop on our own if the parent never kills us.
	deadline := time.Now().Add(2 * time.Minute)
	for n := 0; time.Now().Before(deadline); n += crashBatch {
		batch := make([]audit.Event, crashBatch)
		for i := range batch {
			batch[i] = event(t, n+i)
		}
		if err := s.WriteBatch(context.Background(), batch); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
		// Unbuffered: the line is in the pipe before the next batch starts.
		fmt.Fprintf(os.Stdout, "ack %s\n", batch[len(batch)-1].ID)
	}
	os.Exit(4)
}

func TestCrashKeepsAcknowledged(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs a process to kill")
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	t.Parallel()
	path := dbPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 20 // acknowledged batches
	var acked []string
	lines := bufio.NewScanner(out)
	killed := false
	for lines.Scan() {
		id, ok := strings.CutPrefix(lines.Text(), "ack ")
		if !ok {
			continue // anything the test framework prints
		}
		acked = append(acked, id)
		if len(acked) == killAfter && !killed {
			// SIGKILL: no deferred code, no Close, mid-batch most likely.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
		// Keep reading: a line printed before the kill is an
		// acknowledgement too.
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the helper stopped after %d batches: %v\n%s", len(acked), err, stderr.String())
	}
	t.Logf("helper killed after %d acknowledged batches (%v)", len(acked), err)

	s := openAt(t, path)
	stored := all(t, s)
	have := make(map[string]bool, len(stored))
	for _, e := range stored {
		have[e.ID] = true
	}
	for i, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged batch %d (last id %s) is missing after the crash", i, id)
		}
	}
	// Batches are atomic: a crash mid-batch leaves none of it.
	if len(stored)%crashBatch != 0 {
		t.Errorf("%d events stored, not whole batches of %d", len(stored), crashBatch)
	}
	if len(stored) < len(acked)*crashBatch {
		t.Errorf("%d events stored, fewer than the %d acknowledged", len(stored), len(acked)*crashBatch)
	}
	// The store is usable after recovery.
	write(t, s, events(t, 0, 1))
}
