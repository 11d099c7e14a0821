package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/auditurl"
)

// The crash tests SIGKILL real `warden serve` and `warden check --batch`
// processes (this test binary, re-run as the command: TestServeHelperProcess,
// TestCheckHelperProcess) under load on real stores, then check that every
// decision they gave out has its event in the store.
//
// WARDEN_CRASH_ACKS sets how many acknowledged decisions a run collects
// before the kill (default crashAcks, sized for CI; the figure in
// docs/performance.md was run with 30000). WARDEN_CRASH_NO_REQUIRED=1 runs
// serve without --audit-required, the behaviour before it existed: the
// serve test is then expected to fail, which shows that it can.

const crashAcks = 3000

// crashAcksRace is the default under the race detector, which runs the
// killed processes too and makes them several times slower: at 3,000 the
// two tests took 105 s of a CI run. A third as many still kills each
// process in the middle of its load (16 clients in flight, a batch being
// written); the race detector is there for data races, not for volume.
const crashAcksRace = 1000

func crashTarget(t *testing.T) int {
	if v := os.Getenv("WARDEN_CRASH_ACKS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("WARDEN_CRASH_ACKS=%q: want a positive number", v)
		}
		return n
	}
	if raceOn {
		return crashAcksRace
	}
	return crashAcks
}

// crashStores are the stores the crash tests run on: SQLite and JSON
// Lines always, PostgreSQL when WARDEN_TEST_POSTGRES names a database (in
// a schema of its own, dropped afterwards).
func crashStores(t *testing.T) []struct{ name, url string } {
	dir := t.TempDir()
	stores := []struct{ name, url string }{
		{"sqlite", "sqlite:" + filepath.Join(dir, "audit.db")},
		{"jsonl", "jsonl:" + filepath.Join(dir, "audit.jsonl")},
	}
	if dsn := os.Getenv("WARDEN_TEST_POSTGRES"); dsn != "" {
		stores = append(stores, struct{ name, url string }{"postgres", pgSchemaURL(t, dsn)})
	}
	return stores
}

// pgSchemaURL returns dsn with a fresh schema, dropped when t ends: the
// store URL of a test's or benchmark's own PostgreSQL store.
func pgSchemaURL(t testing.TB, dsn string) string {
	var b [6]byte
	rand.Read(b[:])
	schema := "warden_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "schema=" + schema
}

// storedResources reads every event of the store at url and returns the
// set of their resources.
func storedResources(t *testing.T, url string) map[string]bool {
	t.Helper()
	st, err := auditurl.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]bool{}
	if err := each(context.Background(), st, audit.Query{}, func(e *audit.Event) { got[e.Resource] = true }); err != nil {
		t.Fatal(err)
	}
	return got
}

// serveProc is a `warden serve` process started by startServe.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
}

func startServe(t testing.TB, dir string, args ...string) *serveProc {
	t.Helper()
	args = append([]string{"--addr", "127.0.0.1:0", "--log-format", "json", "--no-watch"}, args...)
	proc := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	proc.Dir = dir
	proc.Env = append(os.Environ(), "WARDEN_SERVE_HELPER=1", "WARDEN_SERVE_ARGS="+strings.Join(args, "\x1f"))
	stderr := &lockedBuffer{}
	pipe, err := proc.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			stderr.Write(append(sc.Bytes(), '\n'))
		}
	}()
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	waitFor(t, "listening", func() bool { return listenAddr(stderr.String()) != "" })
	return &serveProc{cmd: proc, url: "http://" + listenAddr(stderr.String()), stderr: stderr}
}

// TestServeSIGKILLAuditRequired: with --audit-required, a decision
// answered 200 has its event in the store, whatever moment the process is
// killed at.
func TestServeSIGKILLAuditRequired(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	target := crashTarget(t)
	for _, st := range crashStores(t) {
		t.Run(st.name, func(t *testing.T) {
			dir := t.TempDir()
			policy := writeServeFile(t, dir, "policy.toml", servePolicy)
			args := []string{"-c", policy, "--audit", st.url, "--audit-required"}
			if os.Getenv("WARDEN_CRASH_NO_REQUIRED") == "1" {
				args = args[:len(args)-1]
			}
			p := startServe(t, dir, args...)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

			var mu sync.Mutex
			var acked []string
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ctx.Err() == nil; i++ {
						res := fmt.Sprintf("doc:%d:%d", g, i)
						resp, err := client.Post(p.url+"/v1/check", "application/json", strings.NewReader(`{"subject":"alice","resource":"`+res+`","action":"read"}`))
						if err != nil {
							return // killed
						}
						body, rerr := io.ReadAll(resp.Body)
						resp.Body.Close()
						if rerr != nil {
							return // cut off mid-response: not acknowledged
						}
						if resp.StatusCode != 200 {
							t.Errorf("status %d: %s", resp.StatusCode, body)
							return
						}
						if !strings.Contains(string(body), `"allowed":true`) {
							t.Errorf("not a decision: %s", body)
							return
						}
						mu.Lock()
						acked = append(acked, res)
						mu.Unlock()
					}
				}()
			}
			waitForLong(t, "acknowledged decisions", 4*time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= target })
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			p.cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			stored := storedResources(t, st.url)
			lost := 0
			for _, res := range acked {
				if !stored[res] {
					lost++
				}
			}
			if lost > 0 {
				t.Fatalf("%s: %d of %d acknowledged decisions have no event in the store after SIGKILL", st.name, lost, len(acked))
			}
			t.Logf("%s: SIGKILL after %d acknowledged decisions: 0 lost (%d events stored)", st.name, len(acked), len(stored))
		})
	}
}

// TestCheckHelperProcess is not a test: it is the `warden check` process
// the crash tests start, selected by WARDEN_CHECK_HELPER.
func TestCheckHelperProcess(t *testing.T) {
	if os.Getenv("WARDEN_CHECK_HELPER") != "1" {
		t.Skip("run by TestCheckBatchSIGKILL")
	}
	cmd := newCheck()
	cmd.SetArgs(strings.Split(os.Getenv("WARDEN_CHECK_ARGS"), "\x1f"))
	cmd.SetIn(os.Stdin)
	cmd.SetOut(os.Stdout)
	cmd.SetErr(os.Stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(ExitUsage)
	}
	os.Exit(0)
}

// TestCheckBatchSIGKILL: `warden check --batch --audit URL` prints a
// decision only once its event is stored, so after SIGKILL every printed
// line's event is in the store.
func TestCheckBatchSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	target := crashTarget(t) * 10
	for _, st := range crashStores(t) {
		t.Run(st.name, func(t *testing.T) {
			dir := t.TempDir()
			policy := writeServeFile(t, dir, "policy.toml", servePolicy)
			proc := exec.Command(os.Args[0], "-test.run=^TestCheckHelperProcess$")
			proc.Dir = dir
			proc.Env = append(os.Environ(), "WARDEN_CHECK_HELPER=1",
				"WARDEN_CHECK_ARGS="+strings.Join([]string{"-c", policy, "--batch", "--audit", st.url}, "\x1f"))
			stdin, err := proc.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := proc.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr := &lockedBuffer{}
			proc.Stderr = stderr
			if err := proc.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { proc.Process.Kill() })
			// Feed requests until the process dies.
			go func() {
				w := bufio.NewWriterSize(stdin, 64<<10)
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(w, `{"subject":"alice","resource":"doc:%d","action":"read"}`+"\n", i); err != nil {
						return
					}
				}
			}()
			var printed atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				r := bufio.NewReaderSize(stdout, 64<<10)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						// A last line without its newline was cut off by
						// the kill: not printed, so not a decision given.
						return
					}
					if !strings.Contains(line, `"allowed":true`) {
						t.Errorf("line %d: %s", printed.Load()+1, line)
						return
					}
					printed.Add(1)
				}
			}()
			waitForLong(t, "printed decisions", 4*time.Minute, func() bool { return printed.Load() >= int64(target) })
			if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			proc.Wait()
			n := int(printed.Load())
			stored := storedResources(t, st.url)
			lost := 0
			for i := range n {
				if !stored[fmt.Sprintf("doc:%d", i)] {
					lost++
				}
			}
			if lost > 0 {
				t.Fatalf("%s: %d of %d printed decisions have no event in the store after SIGKILL\n%s", st.name, lost, n, stderr.String())
			}
			t.Logf("%s: SIGKILL after %d printed lines: 0 lost (%d events stored)", st.name, n, len(stored))
		})
	}
}

// waitForLong is waitFor with a deadline of its own.
func waitForLong(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
