package storeurl_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// The crash tests run writers as real processes (this test binary, re-run
// as TestWriterProcess) on real SQLite and PostgreSQL stores, several at
// once, SIGKILL one of them mid-stream, and then check the store against
// store.Memory fed the same batches in revision order: every
// acknowledged batch is there under the revision it was given, the
// revisions have no gap, and no batch is there in part.

// Environment of a writer process.
const (
	writerURL = "WARDEN_STORE_WRITER_URL"
	writerID  = "WARDEN_STORE_WRITER_ID"
	writerMax = "WARDEN_STORE_WRITER_BATCHES" // 0: until killed
)

// crashBatch is batch n (from 1) of writer id: 20 new memberships, a
// grant, removals of half of the writer's previous batch, and a write
// that changes nothing.
func crashBatch(id, n int) store.Batch {
	var ws []store.Write
	for i := range 20 {
		ws = append(ws, store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: fmt.Sprintf("w%d-u%d-%d", id, n, i), Group: fmt.Sprintf("g%d", i%5)}})
	}
	ws = append(ws, store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: fmt.Sprintf("w%d-u%d-0", id, n), Resource: fmt.Sprintf("doc:%d:%d", id, n), Action: "read"}})
	for i := 0; n > 1 && i < 20; i += 2 {
		ws = append(ws, store.Write{Op: store.OpRemove, Membership: &store.Membership{Member: fmt.Sprintf("w%d-u%d-%d", id, n-1, i), Group: fmt.Sprintf("g%d", i%5)}})
	}
	ws = append(ws, store.Write{Op: store.OpRemove, Membership: &store.Membership{Member: "nobody", Group: "g0"}})
	return store.Batch{Writes: ws}
}

// TestWriterProcess is not a test: run by the crash tests in a child
// process, it writes its batches and prints "ack ID N REVISION" once each
// Write has returned.
func TestWriterProcess(t *testing.T) {
	url := os.Getenv(writerURL)
	if url == "" {
		return // an ordinary test run
	}
	id, _ := strconv.Atoi(os.Getenv(writerID))
	limit, _ := strconv.Atoi(os.Getenv(writerMax))
	st, err := storeurl.Open(context.Background(), url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(3)
	}
	deadline := time.Now().Add(2 * time.Minute) // stop on our own if never killed
	for n := 1; (limit == 0 || n <= limit) && time.Now().Before(deadline); n++ {
		r, err := st.Write(context.Background(), crashBatch(id, n))
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		// Unbuffered: the line is in the pipe before the next batch.
		fmt.Fprintf(os.Stdout, "ack %d %d %d\n", id, n, r)
	}
	st.Close()
	os.Exit(0)
}

type ack struct{ id, n int }

// writer is a running writer process.
type writer struct {
	id     int
	cmd    *exec.Cmd
	stderr strings.Builder
	done   chan struct{}
}

func startWriter(t *testing.T, url string, id, batches int, acks chan<- [3]int) *writer {
	t.Helper()
	w := &writer{id: id, done: make(chan struct{})}
	w.cmd = exec.Command(os.Args[0], "-test.run=^TestWriterProcess$")
	w.cmd.Env = append(os.Environ(), writerURL+"="+url, writerID+"="+strconv.Itoa(id), writerMax+"="+strconv.Itoa(batches))
	w.cmd.Stderr = &w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); <-w.done })
	go func() {
		defer close(w.done)
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) != 4 || f[0] != "ack" {
				continue // anything the test framework prints
			}
			var a [3]int
			for i := range a {
				a[i], _ = strconv.Atoi(f[i+1])
			}
			acks <- a
		}
		w.cmd.Wait()
	}()
	return w
}

// crashStores are the stores the crash tests run on: SQLite always,
// PostgreSQL when WARDEN_TEST_POSTGRES names a database.
func crashStores(t *testing.T) []struct{ name, url string } {
	stores := []struct{ name, url string }{{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "data.db")}}
	if d := os.Getenv("WARDEN_TEST_POSTGRES"); d != "" {
		schema := randomSchema("warden_crash_")
		t.Cleanup(func() { dropSchema(t, d, schema) })
		sep := "?"
		if strings.Contains(d, "?") {
			sep = "&"
		}
		stores = append(stores, struct{ name, url string }{"postgres", d + sep + "schema=" + schema})
	}
	return stores
}

// TestCrashKeepsAcknowledged: writers run at once, one alone or three,
// and writer 0 is killed with SIGKILL after killAfter acknowledged
// batches; the others write their batches to the end.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs processes to kill")
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	t.Parallel()
	const killAfter, othersWrite = 25, 30
	for _, writers := range []int{1, 3} {
		for _, st := range crashStores(t) {
			t.Run(fmt.Sprintf("%s/%d-writers", st.name, writers), func(t *testing.T) {
				t.Parallel()
				acks := make(chan [3]int, 1024)
				ws := make([]*writer, writers)
				for id := range writers {
					batches := othersWrite
					if id == 0 {
						batches = 0 // until killed
					}
					ws[id] = startWriter(t, st.url, id, batches, acks)
				}
				// revisions[r] is the batch that was acknowledged with r.
				revisions := map[store.Revision]ack{}
				last := map[int]int{} // each writer's last acknowledged batch
				killed := false
				finished := 0
				collect := func(a [3]int) {
					r := store.Revision(a[2])
					if prev, dup := revisions[r]; dup {
						t.Fatalf("revision %d acknowledged to writer %d batch %d and to writer %d batch %d", r, prev.id, prev.n, a[0], a[1])
					}
					revisions[r] = ack{a[0], a[1]}
					last[a[0]] = a[1]
				}
				timeout := time.After(2 * time.Minute)
				for finished < writers {
					select {
					case a := <-acks:
						collect(a)
						if a[0] == 0 && a[1] == killAfter && !killed {
							// SIGKILL: no deferred code, no Close; after
							// a pause of up to a few milliseconds, so
							// the kill falls anywhere in the next batch,
							// its commit included.
							time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
							if err := ws[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
								t.Fatal(err)
							}
							killed = true
						}
					case <-ws[finished].done: // each writer's end, in turn
						finished++
					case <-timeout:
						t.Fatalf("writers still running after 2 minutes; writer 0 stderr: %s", ws[0].stderr.String())
					}
				}
				for len(acks) > 0 {
					collect(<-acks) // printed before the kill: acknowledged too
				}
				if !killed {
					t.Fatalf("writer 0 stopped after %d batches before it could be killed: %s", last[0], ws[0].stderr.String())
				}
				for id := 1; id < writers; id++ {
					if last[id] != othersWrite {
						t.Fatalf("writer %d acknowledged %d batches, want %d: %s", id, last[id], othersWrite, ws[id].stderr.String())
					}
				}
				checkAfterCrash(t, st.url, revisions, last[0])
			})
		}
	}
}

// checkAfterCrash reopens the store and holds it to store.Memory fed the
// batches in revision order. Writer 0 may have committed one batch past
// its last acknowledged one (it was killed after the commit, before the
// line was read): that batch may be there, whole, or not at all.
func checkAfterCrash(t *testing.T, url string, revisions map[store.Revision]ack, killedLast int) {
	t.Helper()
	ctx := context.Background()
	st, err := storeurl.Open(ctx, url)
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer st.Close()
	latest, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := slices.Sorted(func(yield func(store.Revision) bool) {
		for r := range revisions {
			if !yield(r) {
				return
			}
		}
	})
	if top := acked[len(acked)-1]; latest < top {
		t.Fatalf("the store is at revision %d, below the acknowledged %d", latest, top)
	}
	if int(latest) > len(acked)+1 {
		t.Fatalf("the store is at revision %d with %d acknowledged batches and at most one unacknowledged", latest, len(acked))
	}
	ref := store.NewMemory()
	defer ref.Close()
	unacked := false
	for r := store.Revision(1); r <= latest; r++ {
		a, ok := revisions[r]
		if !ok {
			// The one batch writer 0 committed and never acknowledged.
			if unacked {
				t.Fatalf("revisions %d and another were never acknowledged", r)
			}
			unacked, a = true, ack{0, killedLast + 1}
		}
		if got, err := ref.Write(ctx, crashBatch(a.id, a.n)); err != nil || got != r {
			t.Fatalf("replaying revision %d: %d, %v", r, got, err)
		}
	}
	t.Logf("%d acknowledged revisions, store at %d (unacknowledged commit: %v)", len(acked), latest, unacked)
	want, wantThrough, err := ref.Changes(ctx, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	var got []store.Change
	for after := store.Revision(0); after < latest; {
		page, through, err := st.Changes(ctx, after, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		after = through
	}
	if wantThrough != latest {
		t.Fatalf("the reference reached %d", wantThrough)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("the changelog after the crash differs from the batches' (-want +got):\n%s", d)
	}
	snap := func(s store.Store) []store.Record {
		var out []store.Record
		if _, err := s.Snapshot(ctx, func(r store.Record) error { out = append(out, r); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(out, func(a, b store.Record) int {
			if a.Added != b.Added {
				return int(a.Added) - int(b.Added)
			}
			return a.Index - b.Index
		})
		return out
	}
	if d := cmp.Diff(snap(ref), snap(st)); d != "" {
		t.Fatalf("the records after the crash differ from the batches' (-want +got):\n%s", d)
	}
	// The store takes writes again, with the next revision.
	if r, err := st.Write(ctx, store.Batch{}); err != nil || r != latest+1 {
		t.Fatalf("the first write after the crash = %d, %v; want %d", r, err, latest+1)
	}
}
