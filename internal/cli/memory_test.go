package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contextBody is the request of the memory reproduction: a body just
// under 1 MiB whose context has 70,000 keys, which decodes to about 7 MiB.
func contextBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"subject":"alice","resource":"doc:1","action":"read","context":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteString("}}")
	return b.Bytes()
}

// rss returns the resident set size of process pid, in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestServeMemoryBound is the reproduction of unbounded growth: 8 clients
// loop POST /v1/check with a 1 MiB body whose context has 70,000 keys,
// with SQLite audit. With every bound set small, the RSS of the real
// `warden serve` process stays under MemoryBound's figure for its flags
// (docs/serve.md). WARDEN_RSS_SECONDS sets how long the load runs (4 by
// default); WARDEN_RSS_DEFAULTS=1 runs with the default bounds, whose
// figure is the 512 MiB target.
func TestServeMemoryBound(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a process and loads it")
	}
	if raceOn {
		t.Skip("the race detector multiplies memory use")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read RSS")
	}
	seconds := 4
	if v := os.Getenv("WARDEN_RSS_SECONDS"); v != "" {
		seconds, _ = strconv.Atoi(v)
	}
	bounds := memoryFlags{RequestMemory: 8 << 20, AuditQueueBytes: 8 << 20, MaxConns: 16, SQLite: true}
	args := []string{"--request-memory", "8MiB", "--audit-queue-bytes", "8MiB", "--max-connections", "16"}
	if os.Getenv("WARDEN_RSS_DEFAULTS") == "1" {
		bounds = defaultMemoryFlags(true)
		args = nil
	}
	limit := MemoryBound(bounds, 0)
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	p := startServe(t, dir, append([]string{"-c", policy, "--audit", "sqlite:" + filepath.Join(dir, "a.db")}, args...)...)
	body := contextBody(70000)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", p.url+"/v1/check", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	var peak int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		<-tick.C
		r, err := rss(p.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, r)
	}
	wg.Wait()
	if ok.Load() == 0 || failed.Load() != 0 {
		t.Fatalf("%d answered 200, %d not: the bounds must make requests wait, not fail\n%s", ok.Load(), failed.Load(), p.stderr.String())
	}
	t.Logf("%d requests of %d bytes in %ds; peak RSS %.1f MiB, bound %.1f MiB", ok.Load(), len(body), seconds, float64(peak)/(1<<20), float64(limit)/(1<<20))
	if peak > limit {
		t.Errorf("peak RSS %d bytes is over the bound of %d for %+v", peak, limit, bounds)
	}
}

// TestMemoryLimitFollowsState: the limit is heapBound plus twice the live
// heap outside the buffers, never below heapBound, and a nil or zero
// limiter does nothing.
func TestMemoryLimitFollowsState(t *testing.T) {
	t.Parallel()
	l := &memoryLimit{bound: 100 << 20}
	for _, tc := range []struct {
		name       string
		live, held int64
		want       int64
	}{
		{"nothing live", 0, 0, 100 << 20},
		{"a small policy", 10 << 20, 0, 120 << 20},
		{"a large state", 470 << 20, 0, 1040 << 20},
		{"the buffers do not count twice", 470 << 20, 70 << 20, 900 << 20},
		{"held above live (sampled later)", 10 << 20, 30 << 20, 100 << 20},
	} {
		if got := l.limit(tc.live, tc.held); got != tc.want {
			t.Errorf("%s: limit(%d, %d) = %d MiB, want %d MiB", tc.name, tc.live, tc.held, got>>20, tc.want>>20)
		}
	}
	var nilLimit *memoryLimit
	nilLimit.update()
	nilLimit.setHeld(func() int64 { return 1 })
	nilLimit.stopMemoryLimit()
	(&memoryLimit{}).update()
}

// TestMemoryLimitAfterCollection: a state that grows past heapBound
// raises the limit at the next collection, so the collector does not run
// without pause on a live heap above a fixed limit; what the buffers hold
// is not counted as state.
func TestMemoryLimitAfterCollection(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	l := &memoryLimit{bound: 16 << 20, live: liveHeap, set: func(n int64) { got.Store(n) }}
	l.setHeld(func() int64 { return 8 << 20 })
	l.arm()
	defer l.stopMemoryLimit()
	state := make([][]byte, 64) // 64 MiB kept live, four times the bound
	for i := range state {
		state[i] = make([]byte, 1<<20)
	}
	want := l.bound + 2*(64<<20-8<<20)
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d MiB after collections with 64 MiB live; want at least %d MiB", got.Load()>>20, want>>20)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(state)
}
