package jsonl_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
)

// crashEnv names the file a crash child writes to.
const crashEnv = "JSONL_CRASH_PATH"

// TestCrashChild is the child of TestCrash: it appends batches to the
// file until it is killed, printing the last id of each batch once
// WriteBatch has acknowledged it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	f, err := jsonl.Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("recovered", f.Recovered())
	// Big enough that a kill often lands inside a write; bounded in time
	// in case the parent dies without killing us.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		batch := make([]audit.Event, 200)
		for i := range batch {
			batch[i] = event(t, "crash")
			batch[i].Reason = strings.Repeat("x", 500)
		}
		if err := f.WriteBatch(context.Background(), batch); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", batch[len(batch)-1].ID) // unbuffered: printed means acknowledged
	}
	os.Exit(3)
}

// TestCrash kills a writer mid-stream, several times over the same file:
// every batch it acknowledged must be in the file, which must open
// cleanly each time. A killed process leaves its written pages in the
// kernel, so this checks recovery from a torn write and the
// acknowledgement order, not power loss.
func TestCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := tempPath(t)
	var acked []string
	var cut int64
	for round := range 3 {
		ids, n := crashOnce(t, path, 5+round)
		acked, cut = append(acked, ids...), cut+n
	}
	if len(acked) == 0 {
		t.Fatal("the children acknowledged nothing")
	}
	f := open(t, path)
	t.Logf("%d batches acknowledged; opens after the kills cut %d bytes of torn lines", len(acked), cut+f.Recovered())
	stored := map[string]bool{}
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		page, err := f.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if stored[e.ID] {
				t.Fatalf("id %s stored twice", e.ID)
			}
			stored[e.ID] = true
		}
		q.After = page[len(page)-1].ID
	}
	for _, id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged id %s is not in the file", id)
		}
	}
	if len(stored) < 200*len(acked) {
		t.Errorf("%d events stored, fewer than the %d acknowledged", len(stored), 200*len(acked))
	}
}

// crashOnce runs a child on path, kills it at a random moment after it
// has acknowledged n batches, and returns the ids it acknowledged and the
// bytes its Open cut.
func crashOnce(t *testing.T, path string, n int) (acked []string, cut int64) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "recovered "); ok {
			cut, _ = strconv.ParseInt(c, 10, 64)
		} else if id, ok := strings.CutPrefix(line, "ack "); ok {
			acked = append(acked, id)
			if len(acked) == n {
				// Let it get into the next write before the kill.
				go func() {
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					cmd.Process.Kill()
				}()
			}
		} else if strings.HasPrefix(line, "error") {
			t.Errorf("child: %s", line)
		}
	}
	err = cmd.Wait()
	if st := cmd.ProcessState; st == nil || st.Success() || st.ExitCode() != -1 {
		t.Fatalf("child was not killed: %v", err)
	}
	return acked, cut
}
