package auditurl_test

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
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/guard"
	"github.com/warden-authz/warden/internal/auditurl"
)

// outageEnv carries the store URL to the child of TestStoreOutage.
const outageEnv = "WARDEN_OUTAGE_STORE"

// TestStoreOutage takes a real store's files away from under a running
// audit log, as a full or read-only disk would, and brings them back
// (a sink outage). Making the file read-only with chmod proves nothing
// here: the tests run as root, who may write any file, and a store writes
// through descriptors it opened before the change. A file size limit
// (RLIMIT_FSIZE) makes every write past the files' current size fail with
// EFBIG, whoever the user, and lifting it is the disk coming back. The
// limit binds the whole process, so each store runs in a child.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, scheme := range []string{"jsonl", "sqlite"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			url := fmt.Sprintf("%s:%s", scheme, filepath.Join(t.TempDir(), "audit."+scheme))
			cmd := exec.Command(os.Args[0], "-test.run=^TestStoreOutageChild$", "-test.v")
			cmd.Env = append(os.Environ(), outageEnv+"="+url)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestStoreOutageChild") {
				t.Fatalf("child for %s: %v\n%s", url, err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "outage:") {
					t.Log(strings.TrimSpace(line))
				}
			}
		})
	}
}

// TestStoreOutageChild is the child of TestStoreOutage.
func TestStoreOutageChild(t *testing.T) {
	url := os.Getenv(outageEnv)
	if url == "" {
		t.Skip("run by TestStoreOutage")
	}
	ctx := context.Background()
	st, err := auditurl.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var failures []error
	normal := audit.NewAsync(st, &audit.AsyncOptions{
		Queue:   1000,
		Batch:   50,
		Backoff: 5 * time.Millisecond,
		OnError: func(err error) { failures = append(failures, err) }, // writer goroutine only
	})
	record := func(a *audit.Async, subject string, n int) {
		t.Helper()
		for range n {
			id, err := audit.NewID()
			if err != nil {
				t.Fatal(err)
			}
			e := audit.Event{ID: id, Time: time.Now().UTC(), Subject: subject, Action: "read", Resource: "doc:1",
				Allowed: true, Status: audit.StatusAllowed, Reason: "outage test"}
			if err := a.Record(ctx, &e); err != nil {
				t.Fatalf("Record(%s): %v", subject, err)
			}
		}
	}
	record(normal, "before", 100)
	if err := normal.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The disk goes: no file of the store may grow.
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: uint64(largestFile(t, url)), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}

	// Normal mode: the caller is not held up; events wait in the queue
	// and the failures are counted and reported.
	record(normal, "during", 200)
	deadline := time.Now().Add(10 * time.Second)
	for normal.Failed() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the store never failed a write under the size limit (pending %d)", normal.Pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if normal.Pending() == 0 {
		t.Fatal("no events wait while the store is down")
	}
	t.Logf("outage: %d failed writes, %d events waiting", normal.Failed(), normal.Pending())

	// Audit-required mode: a guarded call whose event cannot be made
	// durable is refused, with ErrAuditFailed (SPEC 8.3).
	required := audit.NewAsync(st, &audit.AsyncOptions{Wait: true, Backoff: 5 * time.Millisecond, CloseTimeout: 10 * time.Second})
	alice, err := warden.NewActor("alice", warden.Allow("doc:read"))
	if err != nil {
		t.Fatal(err)
	}
	auth := guard.NewAuth(guard.ActorProviderFunc(func(context.Context, string) (*warden.Actor, error) { return alice, nil }),
		&guard.Options{Audit: required, AuditRequired: true})
	g, err := auth.Guard("doc:read", "")
	if err != nil {
		t.Fatal(err)
	}
	actx, err := auth.Authorize(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	d, err := g.Check(actx)
	if d.Allowed || !errors.Is(err, guard.ErrAuditFailed) {
		t.Fatalf("guarded call during the outage = %+v, %v; want a denial with ErrAuditFailed", d, err)
	}
	t.Logf("outage: audit-required call refused: %v", err)

	// The disk comes back: everything that waited arrives, none dropped.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := normal.Flush(fctx); err != nil {
		t.Fatalf("Flush once the store is back: %v", err)
	}
	if d, err := g.Check(actx); !d.Allowed || err != nil {
		t.Fatalf("guarded call once the store is back = %+v, %v; want allowed", d, err)
	}
	if err := required.Close(); err != nil {
		t.Fatal(err)
	}
	if err := normal.Close(); err != nil {
		t.Fatal(err)
	}
	if normal.Dropped() != 0 || len(failures) == 0 {
		t.Fatalf("dropped %d, reported %d failures; want 0 dropped and the failures reported", normal.Dropped(), len(failures))
	}
	for _, subject := range []string{"before", "during"} {
		evs, err := st.Query(ctx, audit.Query{Subject: subject, Limit: audit.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"before": 100, "during": 200}[subject]
		if len(evs) != want {
			t.Fatalf("%d %q events stored, want %d", len(evs), subject, want)
		}
	}
}

// largestFile is the size of the largest file of the store url names: the
// file itself, and for SQLite its write-ahead log.
func largestFile(t *testing.T, url string) int64 {
	t.Helper()
	path := url[strings.IndexByte(url, ':')+1:]
	var largest int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, st.Size())
	}
	if largest == 0 {
		t.Fatalf("no files for %s", url)
	}
	return largest
}
